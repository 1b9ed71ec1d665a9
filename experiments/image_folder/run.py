"""dataset=image_folder against dataset=idx on the same images: write a set as PNG files (one folder per class)
and as IDX files in the same order, train the same CNN on both with the same split and seed, compare.

    python experiments/image_folder/run.py                   # scikit-learn digits: 1,797 8×8 images (~1 minute)
    python experiments/image_folder/run.py --mnist           # + MNIST t10k: 10,000 28×28 ($MLRUN_DATA_DIR/mnist)

Everything is written under a temporary folder (images, IDX files, run folders, the image cache), removed at the
end. Printed: images, decode time (first run) vs cached load (second), test accuracy of each path.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import mlrun
from mlrun.datasets import image_folder
from mlrun.datasets.idx import read_idx, write_idx


def write_both(x: np.ndarray, y: np.ndarray, root: Path) -> tuple[Path, Path]:
    """x uint8 (N, H, W), y (N,) → root/png/<label>/<i>.png and root/idx/train-*-ubyte in the folder's order
    (class by class, then file name): the two paths see the same array, so the same seeded split."""
    from PIL import Image

    order = np.argsort(y, kind="stable")
    for i in order:
        folder = root / "png" / str(int(y[i]))
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(x[i]).save(folder / f"{i:05d}.png")
    (root / "idx").mkdir()
    write_idx(root / "idx" / "train-images-idx3-ubyte", x[order])
    write_idx(root / "idx" / "train-labels-idx1-ubyte", y[order].astype(np.uint8))
    return root / "png", root / "idx"


def compare(name: str, x: np.ndarray, y: np.ndarray, model: list[str], root: Path) -> None:
    png, idx = write_both(x, y, root / name)
    started = time.perf_counter()
    image_folder(str(png))
    first = time.perf_counter() - started
    started = time.perf_counter()
    image_folder(str(png))
    cached = time.perf_counter() - started
    common = ["device=cpu", f"output_root={root / 'outputs'}", *model]
    folder = mlrun.train(["dataset=image_folder", f"dataset.path={png}", *common], quiet=True)
    array = mlrun.train(["dataset=idx", f"dataset.root={idx}", "dataset.test_prefix=null", *common], quiet=True)
    print(f"| {name} | {len(y):,} {'×'.join(map(str, x.shape[1:]))} | {first:.2f} | {cached:.2f} | "
          f"{folder.summary['test_acc']:.4f} | {array.summary['test_acc']:.4f} | "
          f"{'yes' if folder.summary['test_acc'] == array.summary['test_acc'] else 'NO'} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", action="store_true", help="also MNIST t10k from $MLRUN_DATA_DIR/mnist")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ["MLRUN_CACHE_DIR"] = str(root / "cache")
        print("| images | N, H×W | decode s (first) | load s (cached) | test_acc folder | test_acc idx | equal |")
        print("|---|---|---:|---:|---:|---:|---|")
        from sklearn.datasets import load_digits

        digits = load_digits()
        x = np.round(digits.images * 255 / 16).astype(np.uint8)         # 0–16 → 0–255
        compare("digits", x, digits.target, ["model=cnn", "model.arch=custom", "model.channels=[16,32]",
                                             "trainer.epochs=20"], root)
        if args.mnist:
            data = Path(os.environ.get("MLRUN_DATA_DIR", "data")) / "mnist"
            x, y = read_idx(data / "t10k-images-idx3-ubyte.gz"), read_idx(data / "t10k-labels-idx1-ubyte.gz")
            model = ["model=cnn", "model.arch=custom", "model.channels=[8,16]", "model.head=[64]", "trainer.epochs=2"]
            compare("mnist_t10k", x, y.astype(np.int64), model, root)


if __name__ == "__main__":
    sys.exit(main())
