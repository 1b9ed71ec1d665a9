"""scikit-learn's bundled digits written as PNG files in the image-folder layout, to try `dataset=image_folder`
without downloading anything:

    python -m mlrun.datasets._image_demo                    # data/digits_png/<digit>/<nnnn>.png (1,797 files)
    python -m mlrun.datasets._image_demo --out /tmp/demo    # /tmp/demo/data/digits_png/...

Each 8×8 image of 0–16 grey levels becomes an 8-bit grey PNG (level × 255/16, rounded); files are numbered in the
bundled order. Everything goes into `<out>/data/` (`data/` is git-ignored in mlrun's repository).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from mlrun.datasets._image_files import pillow


def digits_pixels() -> tuple[np.ndarray, np.ndarray]:
    """uint8 (1797, 8, 8) images on the 0–255 scale and their int64 labels 0–9."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return np.round(digits.images * 255 / 16).astype(np.uint8), digits.target.astype(np.int64)


def write_pngs(root: Path, x: np.ndarray, y: np.ndarray) -> int:
    """x uint8 (N, H, W), y (N,) → root/<label>/<index>.png; returns the count written."""
    image = pillow()
    for i, (pixels, label) in enumerate(zip(x, y)):
        folder = root / str(int(label))
        folder.mkdir(parents=True, exist_ok=True)
        image.fromarray(pixels).save(folder / f"{i:04d}.png")
    return len(y)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m mlrun.datasets._image_demo", description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=".", help="the files go into <out>/data/digits_png/ (default: ./data/)")
    args = parser.parse_args(argv)
    root = Path(args.out) / "data" / "digits_png"
    print(f"wrote {write_pngs(root, *digits_pixels()):,} PNG files under {root}/<digit>/")


if __name__ == "__main__":
    main()
