"""Folders of image files, for `dataset=image_folder` and `mlrun predict input=<folder>`: listing the class
folders, reading headers, decoding with Pillow into uint8 arrays (N, C, H, W).

Only PNG, JPEG, BMP and WebP are opened (Pillow's `formats=`: a file is identified by its content, never run by
its extension). Hidden files and folders (a leading dot: .DS_Store, .ipynb_checkpoints) are ignored. A file that
is not one of those images, is truncated or corrupt, or is larger than MAX_PIXELS is "bad": the callers count and
name it (mlrun.datasets.image_folder). Pillow is imported only when a folder is read.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mlrun.errors import UserError
from mlrun.runtime.memory import require

FORMATS = ("PNG", "JPEG", "BMP", "WEBP")         # Pillow format names opened; nothing else is decoded
EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
MAX_PIXELS = 1 << 26                              # pixels per image (e.g. 8192×8192); larger = a decompression bomb
GREY_MODES = ("1", "L", "LA", "I", "I;16", "I;16L", "I;16B", "I;16N", "F")   # Pillow modes with one colour channel
SHOWN = 5                                         # bad files named in one warning or error line


def pillow():
    """PIL.Image, or one line saying how to install it."""
    try:
        from PIL import Image
    except ImportError:
        raise UserError("reading image files needs Pillow: pip install pillow (or pip install "
                        "'mlrun-classic[images]')") from None
    return Image


@dataclass
class Listing:
    """The candidate files of an image folder, in a fixed order (class by class, sorted paths)."""
    root: Path
    classes: list[str]              # class folder names, sorted; a file's label is its class's index here
    files: list[Path]               # every non-hidden regular file under a class folder (images or not)
    labels: np.ndarray              # (N,) int64 class index per file
    part: np.ndarray                # (N,) int8: 0 = train (or the one set to carve), 1 = test, 2 = val (split folders)

    def name(self, i: int) -> str:
        """File i relative to the root, for messages."""
        return self.files[i].relative_to(self.root).as_posix()


def visible(names) -> list[str]:
    return sorted(n for n in names if not n.startswith("."))


def files_under(folder: Path) -> list[Path]:
    """Every non-hidden regular file under `folder`, recursively (symlinked folders are not followed), sorted."""
    found = []
    for top, dirs, names in os.walk(folder):
        dirs[:] = visible(dirs)
        found += [Path(top) / n for n in visible(names) if (Path(top) / n).is_file()]
    return sorted(found)


def class_folders(root: Path, key: str) -> dict[str, list[Path]]:
    """{class name: its files} for the subfolders of `root`; one line when there are fewer than 2 or one is empty."""
    subs = [d for d in visible(os.listdir(root)) if (root / d).is_dir()]
    if not subs:
        loose = [n for n in visible(os.listdir(root)) if (root / n).is_file()]
        extra = f" but {len(loose):,} loose file(s)" if loose else ""
        raise UserError(f"{key}={str(root)!r}: holds no class folders{extra}; put each class's images in its own "
                        f"subfolder, <path>/<class>/*.png (or <path>/train/<class>/ and <path>/test/<class>/)")
    if len(subs) == 1:
        raise UserError(f"{key}={str(root)!r}: holds one class folder ({subs[0]!r}); a classifier needs ≥ 2 classes, "
                        f"one subfolder each")
    found = {d: files_under(root / d) for d in subs}
    empty = [d for d, f in found.items() if not f]
    if empty:
        raise UserError(f"{key}={str(root)!r}: class folder(s) {', '.join(map(repr, empty[:SHOWN]))} hold no files; "
                        f"add images or remove the folder(s)")
    return found


SPLIT_NAMES = {"train": 0, "test": 1, "val": 2, "valid": 2, "validation": 2}   # folder name (any case) → part


def split_roots(subs: list[str], path: str, key: str) -> dict[int, str] | None:
    """{part: folder} when `subs` are split folders (train/ + test/, and optionally val/), None when they are
    class folders. A layout that looks like splits but is not complete is refused: read as classes, a train/ +
    val/ folder would train a classifier to tell the two folders apart."""
    named = {d: SPLIT_NAMES[d.lower()] for d in subs if d.lower() in SPLIT_NAMES}
    train = next((d for d, p in named.items() if p == 0), None)
    if train is None:
        return None
    parts = sorted(named.values())
    if len(named) < len(subs) or len(set(parts)) < len(parts) or 1 not in parts:
        others = [d for d in subs if d not in named]
        why = (f"beside other folders ({', '.join(map(repr, others[:SHOWN]))})" if others else
               "with two folders for one split" if len(set(parts)) < len(parts) else "without a test/ folder")
        raise UserError(f"{key}={path!r}: holds {', '.join(d + '/' for d in subs[:SHOWN])} — train/ {why}; give "
                        f"train/ + test/ (+ val/), each with one subfolder per class, or point {key} at the folder "
                        f"of class subfolders (e.g. {key}={path.rstrip('/')}/{train} to carve every split from it)")
    return {p: d for d, p in named.items()}


def list_folder(path, key: str = "dataset.path") -> Listing:
    """The files of an image folder: `<path>/<class>/...`, or `<path>/train/<class>/...` + `<path>/test/<class>/...`
    (+ `<path>/val/<class>/...`) when the subfolders are those split folders (their classes must be train's)."""
    if path is None or path == "":
        raise UserError(f"{key}={'null' if path is None else repr(path)}: required; put each class's images in its own subfolder and give the "
                        f"folder above them, e.g. {key}=~/pets for pets/cat/*.jpg and pets/dog/*.jpg")
    root = Path(str(path)).expanduser()
    if not root.exists():
        raise UserError(f"{key}={str(path)!r}: folder not found")
    if not root.is_dir():
        raise UserError(f"{key}={str(path)!r}: is a file; give the folder that holds one subfolder per class")
    subs = sorted(d for d in visible(os.listdir(root)) if (root / d).is_dir())
    roots = split_roots(subs, str(path), key)
    parts = {p: class_folders(root / d, key) for p, d in roots.items()} if roots else {0: class_folders(root, key)}
    for p in (1, 2):
        unknown = sorted(set(parts.get(p, ())) - set(parts[0]))
        if unknown:
            raise UserError(f"{key}={str(path)!r}: {roots[p]}/ has class folder(s) "
                            f"{', '.join(map(repr, unknown[:SHOWN]))} that {roots[0]}/ lacks; a model cannot learn a "
                            f"class it never sees")
    classes = sorted(parts[0])
    files, labels, part = [], [], []
    for p, found in parts.items():
        for c in sorted(found):
            files += found[c]
            labels += [classes.index(c)] * len(found[c])
            part += [p] * len(found[c])
    return Listing(root, classes, files, np.asarray(labels, dtype=np.int64), np.asarray(part, dtype=np.int8))


def header(image, file: Path) -> tuple[tuple[int, int], str]:
    """((width, height), Pillow mode) read from the header only; raises on anything that is not a wanted image."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", image.DecompressionBombWarning)
        with image.open(file, formats=FORMATS) as im:
            size, mode = im.size, im.mode
    if size[0] * size[1] > MAX_PIXELS or min(size) < 1:
        raise ValueError(f"{size[0]}×{size[1]} pixels (at most {MAX_PIXELS:,})")
    return size, mode


def reason(e: Exception) -> str:
    text = str(e).splitlines()[0][:80] if str(e) else ""
    return "not a PNG/JPEG/BMP/WebP image" if type(e).__name__ == "UnidentifiedImageError" else \
        f"{type(e).__name__}{': ' + text if text else ''}"


def headers(files: list[Path]) -> tuple[list, list, dict[int, str]]:
    """(sizes, modes, bad) for `files`: (w, h) and mode per file (None when bad); bad = {index: why}."""
    image = pillow()
    sizes, modes, bad = [], [], {}
    for i, f in enumerate(files):
        try:
            size, mode = header(image, f)
        except Exception as e:  # noqa: BLE001 - Pillow raises OSError, ValueError, SyntaxError, ... on bad files
            bad[i] = reason(e)
            size = mode = None
        sizes.append(size)
        modes.append(mode)
    return sizes, modes, bad


def to_array(im, channels: int, size: tuple[int, int]) -> np.ndarray:
    """A Pillow image → uint8 (C, H, W) with `channels` (1 grey, 3 RGB; alpha dropped), resized (bilinear, with
    Pillow's antialiasing) to size = (H, W) when it differs. 16-bit grey keeps its top 8 bits."""
    image = pillow()
    if channels == 1 and im.mode.startswith("I;16"):
        im = image.fromarray((np.asarray(im, dtype=np.uint16) >> 8).astype(np.uint8))
    im = im.convert("L" if channels == 1 else "RGB")
    if im.size != (size[1], size[0]):
        im = im.resize((size[1], size[0]), image.Resampling.BILINEAR)
    a = np.asarray(im, dtype=np.uint8)
    return a[None] if a.ndim == 2 else a.transpose(2, 0, 1)          # (H, W) → (1, H, W); (H, W, 3) → (3, H, W)


def decode(file: Path, channels: int, size: tuple[int, int]) -> np.ndarray:
    """One file → uint8 (C, H, W); raises on a file that is not a readable PNG/JPEG/BMP/WebP image."""
    image = pillow()
    header(image, file)
    with warnings.catch_warnings():
        warnings.simplefilter("error", image.DecompressionBombWarning)
        with image.open(file, formats=FORMATS) as im:
            im.load()
            return to_array(im, channels, size)


def decode_all(files: list[Path], keep: list[int], channels: int, size: tuple[int, int], what: str):
    """uint8 (len(keep), C, H, W) of files[keep], after checking it fits memory; (array, ok mask, bad {i: why})."""
    n, (h, w) = len(keep), size
    require(n * channels * h * w, what, f"{n:,} images × {channels} channel(s) × {h}×{w} bytes",
            "use fewer images or a smaller dataset.size")
    x = np.empty((n, channels, h, w), dtype=np.uint8)
    ok, bad = np.ones(n, dtype=bool), {}
    for j, i in enumerate(keep):
        try:
            x[j] = decode(files[i], channels, size)
        except Exception as e:  # noqa: BLE001 - a truncated or corrupt file fails in any way while decoding
            ok[j], bad[i] = False, reason(e)
    return x, ok, bad


def channels_of(modes: list, grayscale: bool) -> int:
    """1 with grayscale=true or when every image is grey; else 3 (RGB)."""
    return 1 if grayscale or all(m in GREY_MODES for m in modes if m is not None) else 3


def bad_text(names: list[str], total: int) -> str:
    """'a.txt (why), b.png (why) and 3 more' for the first SHOWN names of `total` bad files."""
    more = f" and {total - len(names):,} more" if total > len(names) else ""
    return ", ".join(names) + more
