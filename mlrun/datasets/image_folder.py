"""Your own images, one subfolder per class (torchvision's ImageFolder layout): `dataset=image_folder`.

    mlrun train dataset=image_folder dataset.path=~/pets model=cnn dataset.size=[64,64]
    mlrun train dataset=image_folder dataset.path=~/digits_png model=cnn model.arch=custom     # own size, kept
    mlrun predict checkpoint=<run> input=~/new_pets output=<run>/pets.csv                     # a row per image

Layouts: `<path>/<class>/**/*.png` (the one set is carved into `split` fractions, seeded, stratified by class), or
`<path>/train/<class>/...` + `<path>/test/<class>/...` when those are the subfolders (`val_fraction` of train is
held out for validation), + `<path>/val/<class>/...` (or valid/, validation/) as the validation split. A root
with train/ that is not such a layout (train/ alone, train/ + val/, train/ beside class folders) is refused in one
line: read as classes it would teach the model which folder an image sits in. Classes are the folder names in
sorted order; files directly in `<path>` and
hidden files/folders are ignored. PNG, JPEG, BMP and WebP are decoded with Pillow (by content, not extension);
`size=[H,W]` resizes every image (bilinear), `size=null` keeps the images' own size, which must then be one size.
Channels: `grayscale=true` → 1; otherwise 1 when every image is grey, else 3 (RGB; alpha dropped).

A file that is not a readable image of those formats (a README.txt, a truncated JPEG) is skipped and named in one
warning with the count, or refused in one line with `strict=true`. The decoded images (uint8, N×C×H×W) are cached
under mlrun's cache folder keyed by the folder's fingerprint (mlrun.datasets._image_cache): a second run on an
unchanged folder reads one file. Images then take the path of the other image sets: uint8 on the device,
normalised (and augmented) per batch by `ImagePreprocess`.
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from mlrun.datasets import _image_cache as cache_file
from mlrun.datasets._image_files import (MAX_PIXELS, SHOWN, Listing, bad_text, channels_of, decode_all, headers,
                                         list_folder)
from mlrun.datasets._images import image_data
from mlrun.datasets.spec import Data
from mlrun.errors import UserError

log = logging.getLogger("mlrun")


def image_folder(path: str | None = None, size: list | None = None, grayscale: bool = False, strict: bool = False,
                 cache: bool = True, val_fraction: float = 0.1, split: dict | None = None,
                 limit_train: int | None = None, mean=None, std=None, augment: bool = False, pad: int = 2,
                 flip: bool = False, seed: int = 0) -> Data:
    """A folder of class subfolders as a multiclass image dataset (see the module docstring for layouts, sizes,
    channels, bad files and the cache); `mean`/`std` null = measured on the train split."""
    hw = check_settings(size, grayscale, strict, cache)
    try:
        listing = list_folder(path)
        key = cache_file.fingerprint(listing, hw, grayscale) if cache else None
    except OSError as e:
        raise UserError(f"dataset.path={str(path)!r}: cannot read it ({e.strerror or e}: {e.filename})") from None
    entry = cache_file.load(key, listing, hw) if cache else None
    if entry is None:
        entry = decode_folder(listing, hw, grayscale)
        if cache:
            cache_file.save(key, entry)
    report_bad(listing, entry["bad"], entry["n_bad"], strict)
    x, y, part = entry["x"].numpy(), entry["y"].numpy(), entry["part"].numpy()
    found = np.bincount(y[part == 0], minlength=len(listing.classes))
    if (found == 0).any():
        lost = [c for c, k in zip(listing.classes, found) if k == 0]
        raise UserError(f"dataset.path={str(path)!r}: class folder(s) {', '.join(map(repr, lost[:SHOWN]))} hold no "
                        f"readable train image once the bad files are skipped")
    train = (x[part == 0], y[part == 0])
    test = (x[part == 1], y[part == 1]) if (listing.part == 1).any() else None
    val = (x[part == 2], y[part == 2]) if (listing.part == 2).any() else None
    return image_data("image_folder", train, test, val=val, val_fraction=val_fraction, split=split,
                      limit_train=limit_train, mean=mean, std=std, augment=augment, pad=pad, flip=flip,
                      classes=listing.classes, seed=seed)


def check_settings(size, grayscale, strict, cache) -> tuple[int, int] | None:
    """dataset.size as (H, W) (None = the images' own size); one line for a bad key."""
    for key, value in (("grayscale", grayscale), ("strict", strict), ("cache", cache)):
        if not isinstance(value, bool):
            raise UserError(f"dataset.{key}={value!r}: must be true or false")
    if size is None:
        return None
    ok = isinstance(size, (list, tuple)) and len(size) == 2 and all(
        isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in size)
    if not ok or size[0] * size[1] > MAX_PIXELS:
        raise UserError(f"dataset.size={size!r}: must be null (the images' own size) or [H, W], two integers ≥ 1 "
                        f"(pixels, H·W ≤ {MAX_PIXELS:,}), e.g. [32,32]")
    return int(size[0]), int(size[1])


def decode_folder(listing: Listing, hw: tuple[int, int] | None, grayscale: bool) -> dict:
    """Headers first (formats, sizes, channels: the memory bound is known before any pixel is decoded), then every
    good file into uint8 (N, C, H, W). Returns the cache entry {x, y, part, bad: first names, n_bad}."""
    sizes, modes, bad = headers(listing.files)
    good = [i for i in range(len(listing.files)) if i not in bad]
    if not good:
        raise UserError(f"dataset.path={str(listing.root)!r}: none of its {len(listing.files):,} files is a readable "
                        f"PNG/JPEG/BMP/WebP image (e.g. {listing.name(0)}: {bad[0]})")
    hw = hw or own_size(listing, sizes, good)
    x, ok, late = decode_all(listing.files, good, channels_of(modes, grayscale), hw,
                             f"dataset.path={str(listing.root)!r}, dataset.size={list(hw)}")
    bad |= late
    keep = np.asarray(good)[ok]
    shown = [f"{listing.name(i)} ({bad[i]})" for i in sorted(bad)[:SHOWN]]
    return {"x": torch.from_numpy(x[ok] if not ok.all() else x), "y": torch.from_numpy(listing.labels[keep]),
            "part": torch.from_numpy(listing.part[keep]), "classes": listing.classes, "bad": shown,
            "n_bad": len(bad)}


def own_size(listing: Listing, sizes: list, good: list[int]) -> tuple[int, int]:
    """(H, W) shared by every good image (dataset.size=null); one line naming two sizes when they differ."""
    first = sizes[good[0]]
    other = next((i for i in good if sizes[i] != first), None)
    if other is not None:
        n = len({sizes[i] for i in good})
        raise UserError(f"dataset.size=null: the images differ in size ({listing.name(good[0])} is "
                        f"{first[0]}×{first[1]}, {listing.name(other)} {sizes[other][0]}×{sizes[other][1]} (W×H); "
                        f"{n} sizes in all); set dataset.size=[H,W] to resize every image, e.g. "
                        f"dataset.size=[{first[1]},{first[0]}]")
    return first[1], first[0]                        # Pillow's (W, H) → (H, W)


def report_bad(listing: Listing, shown: list[str], n_bad: int, strict: bool) -> None:
    """strict: one UserError line naming the bad files; else one warning line (nothing when there are none)."""
    if not n_bad:
        return
    where = f"dataset.path={str(listing.root)!r}"
    if strict:
        raise UserError(f"dataset.strict=true: {n_bad:,} of the {len(listing.files):,} files under {where} are not "
                        f"readable PNG/JPEG/BMP/WebP images: {bad_text(shown, n_bad)}; remove them, or set "
                        f"dataset.strict=false to skip them")
    log.warning("%s: skipped %s of %s files that are not readable PNG/JPEG/BMP/WebP images: %s "
                "(dataset.strict=true refuses them)", where, f"{n_bad:,}", f"{len(listing.files):,}",
                bad_text(shown, n_bad))
