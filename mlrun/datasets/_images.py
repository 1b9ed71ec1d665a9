"""Shared by the image datasets (idx, mnist, fashion_mnist, svhn): splits of uint8 images, the on-device batch
preprocessing (normalisation + augmentation) and the optional torchvision download.

Images stay uint8 (N, C, H, W) on the device — 4× less memory and transfer than float — and every batch is
turned into normalised floats by `ImagePreprocess` in front of the model (see `Data.preprocess`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mlrun.datasets.spec import Data, DataSpec, Split
from mlrun.datasets.splits import check_fractions, check_sizes, fraction_settings, split_indices
from mlrun.errors import UserError, check, number

CARVE = {"train": 0.8, "val": 0.1, "test": 0.1}      # default fractions when one file pair is carved


class ImagePreprocess(nn.Module):
    """uint8 images (N, C, H, W) → float (x/255 − mean) / std per channel, on the batch's device.

    In train mode with `augment`: a random crop of the image zero-padded by `pad` pixels on each side (a random
    shift of up to ±pad pixels, per image) and, with `flip`, a random horizontal flip with probability ½.
    No parameters: it is rebuilt from the dataset config, never stored in checkpoints.
    """

    def __init__(self, mean: list[float], std: list[float], augment: bool = False, pad: int = 2, flip: bool = False):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)
        self.augment, self.pad, self.flip = augment, pad, flip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and self.augment:       # on uint8: a quarter of the memory traffic
            if self.pad:
                x = random_crop(x, self.pad)
            if self.flip:
                x = random_flip(x)
        return (x.float() / 255.0 - self.mean) / self.std

    def extra_repr(self) -> str:
        return f"augment={self.augment}, pad={self.pad}, flip={self.flip}"


def random_crop(x: torch.Tensor, pad: int) -> torch.Tensor:
    """Each image shifted by its own random (dy, dx) in [−pad, pad]², the uncovered border filled with 0."""
    n, c, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad))                                    # (N, C, H+2p, W+2p)
    dy = torch.randint(0, 2 * pad + 1, (n, 1), device=x.device)
    dx = torch.randint(0, 2 * pad + 1, (n, 1), device=x.device)
    rows = dy + torch.arange(h, device=x.device)                               # (N, H) rows to keep
    cols = dx + torch.arange(w, device=x.device)                               # (N, W) columns to keep
    batch = torch.arange(n, device=x.device).view(n, 1, 1, 1)
    channel = torch.arange(c, device=x.device).view(1, c, 1, 1)
    return padded[batch, channel, rows.view(n, 1, h, 1), cols.view(n, 1, 1, w)]   # (N, C, H, W)


def random_flip(x: torch.Tensor) -> torch.Tensor:
    """Each image mirrored left–right with probability ½."""
    mask = torch.rand(len(x), device=x.device) < 0.5
    return torch.where(mask.view(-1, 1, 1, 1), x.flip(3), x)


def channel_stats(x: np.ndarray, chunk: int = 8192) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of uint8 images (N, C, H, W) on the [0, 1] scale, in float64 chunks."""
    total = np.zeros(x.shape[1])
    squares = np.zeros(x.shape[1])
    for start in range(0, len(x), chunk):
        part = x[start:start + chunk].astype(np.float64) / 255.0
        total += part.sum(axis=(0, 2, 3))
        squares += np.square(part).sum(axis=(0, 2, 3))
    n = max(len(x) * x.shape[2] * x.shape[3], 1)
    mean = total / n
    std = np.sqrt(np.maximum(squares / n - mean ** 2, 0.0))
    return mean.tolist(), np.where(std > 0, std, 1.0).tolist()


def _per_channel(key: str, value, channels: int) -> list[float] | None:
    if value is None:
        return None
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    ok = len(values) in (1, channels) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    check(ok, key, value, f"must be null or {channels} number(s), one per channel, on the [0, 1] pixel scale")
    return [float(v) for v in values] * (channels // len(values))


def image_data(name: str, train: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray] | None, *,
               val: tuple[np.ndarray, np.ndarray] | None = None, val_fraction: float = 0.1,
               split: dict | None = None, limit_train: int | None = None,
               mean=None, std=None, augment: bool = False, pad: int = 2, flip: bool = False,
               classes: list | None = None, seed: int = 0) -> Data:
    """Train/val/test `Data` of uint8 images (N, C, H, W) and int64 labels, with an `ImagePreprocess`.

    `test` given: `val_fraction` of `train` is held out for validation (seeded, stratified by class), or `val`
    (images, labels) is the validation split when given (a val/ folder).
    `test` None: the one set is carved into `split` fractions {train, val, test} (seeded, stratified).
    `limit_train`: keep the first N train examples (they are already in random order).
    `mean`/`std`: per-channel normalisation on the [0, 1] scale; None = measured on the train split.
    """
    number("dataset.val_fraction", val_fraction, 0, 0.99)
    check(limit_train is None or (isinstance(limit_train, int) and not isinstance(limit_train, bool)
                                  and limit_train >= 1), "dataset.limit_train", limit_train,
          "must be null (all) or an integer ≥ 1")
    number("dataset.pad", pad, 0, integer=True)
    for key, value in (("augment", augment), ("flip", flip)):
        check(isinstance(value, bool), f"dataset.{key}", value, "must be true or false")
    x, y = train
    channels = x.shape[1]
    mean, std = _per_channel("dataset.mean", mean, channels), _per_channel("dataset.std", std, channels)
    if std is not None:
        check(all(s > 0 for s in std), "dataset.std", std, "every channel's std must be > 0")
    if test is None:
        fractions = check_fractions(CARVE if split is None else split)
        tr, va, te = split_indices(y, fractions, seed, stratify=True)
        parts = [(x, y, tr), (x, y, va), (x, y, te)]
        check_sizes({"train": len(tr), "val": len(va), "test": len(te)}, len(y), fraction_settings(fractions))
    else:
        if val is None:
            va = split_indices(y, (val_fraction, 0.0, 0.0), seed, stratify=True)[0]   # round(v·n) of each class
            rest = np.ones(len(y), dtype=bool)
            rest[va] = False
            tr = np.random.default_rng(seed).permutation(np.flatnonzero(rest))      # every other example trains
            parts = [(x, y, tr), (x, y, va), (test[0], test[1], np.arange(len(test[1])))]
            held = f"dataset.val_fraction={val_fraction:g}"
        else:                                                # a val/ folder: every train example trains
            tr, va = np.random.default_rng(seed).permutation(len(y)), np.arange(len(val[1]))
            parts = [(x, y, tr), (val[0], val[1], va), (test[0], test[1], np.arange(len(test[1])))]
            held = f"dataset={name}: the val files"
        check_sizes({"train": len(tr), "val": len(va), "test": len(test[1])}, len(y),
                    {"train": held, "val": held, "test": f"dataset={name}: the test files"})
        for what, other in (("test", test), ("val", val)):
            if other is not None and other[0].shape[1:] != x.shape[1:]:
                raise UserError(f"dataset={name}: {what} images are {'×'.join(map(str, other[0].shape[1:]))}, train "
                                f"images {'×'.join(map(str, x.shape[1:]))}; the split folders must share one shape")
    if limit_train is not None:
        parts[0] = (x, y, tr[:limit_train])
    splits = [Split(torch.from_numpy(np.ascontiguousarray(a[i])), torch.from_numpy(b[i].astype(np.int64)))
              for a, b, i in parts]
    if mean is None or std is None:
        measured = channel_stats(splits[0].x.numpy())
        mean, std = mean or measured[0], std or measured[1]
    n_classes = int(max(int(b.max()) if len(b) else 0 for b in (y, test[1] if test is not None else y))) + 1
    names = [str(c) for c in classes] if classes else [str(c) for c in range(n_classes)]
    check(len(names) >= n_classes, "dataset.classes", classes, f"lists {len(names)} names for {n_classes} labels")
    spec = DataSpec(input_shape=tuple(x.shape[1:]), n_outputs=len(names), task="multiclass", name=name,
                    classes=names)
    return Data(*splits, spec=spec, preprocess=ImagePreprocess(mean, std, augment, pad, flip))


def missing_files(root: Path, names: list[str], source: str = "") -> str:
    where = f" (from {source})" if source else ""
    return (f"dataset.root={str(root)!r}: missing {', '.join(names)}; put the files there{where}, point "
            f"dataset.root or MLRUN_DATA_DIR at a folder that has them, or pass dataset.download=true")


def md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def torchvision_fetcher(class_name: str, items_of: Callable, source: str) -> Callable[[Path, list[str]], None]:
    """A `download(root, missing)` that fetches a torchvision dataset class's files into `root`, checking each md5.

    `items_of(cls)` lists (urls, filename, md5) for the class. torchvision is optional and its import fails on
    some CPU-only installs (`torchvision::nms does not exist`): any failure to import it ends in one line saying
    which files to put where.
    """

    def download(root: Path, missing: list[str]) -> None:
        try:
            import torchvision.datasets as tvd
            from torchvision.datasets.utils import download_url
            items = items_of(getattr(tvd, class_name))
        except Exception as e:  # noqa: BLE001 - torchvision may fail in any way at import time
            why = f"{type(e).__name__}: {str(e).splitlines()[0][:120] if str(e) else ''}"
            raise UserError(f"dataset.download=true needs torchvision, which does not import here ({why}); "
                            + missing_files(root, missing, source).replace(", or pass dataset.download=true", ""))
        root.mkdir(parents=True, exist_ok=True)
        for urls, filename, checksum in items:
            target = root / filename
            if target.is_file() and md5(target) == checksum:
                continue
            errors = []
            for url in urls:
                try:
                    download_url(url, str(root), filename, checksum)
                    break
                except Exception as e:  # noqa: BLE001 - try the next mirror
                    errors.append(f"{url}: {type(e).__name__}")
            if not target.is_file():
                raise UserError(f"dataset.download=true: could not fetch {filename} into {root} ({'; '.join(errors)})")
            actual = md5(target)
            if actual != checksum:
                target.unlink()
                raise UserError(f"dataset.download=true: {target} has md5 {actual}, not the published {checksum}; "
                                f"deleted it, try again")

    return download


def mnist_style_items(cls) -> list[tuple[list[str], str, str]]:
    """(urls, filename, md5) of torchvision's MNIST-style classes: `resources` over `mirrors`."""
    mirrors = getattr(cls, "mirrors", None) or [""]
    return [([m + name if not name.startswith("http") else name for m in mirrors], name.rsplit("/", 1)[-1], checksum)
            for name, checksum in cls.resources]
