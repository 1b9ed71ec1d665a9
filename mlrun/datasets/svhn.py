"""SVHN cropped digits (Netzer et al. 2011): 73,257 train + 26,032 test colour 32×32 house-number digits,
10 classes (+ 531,131 `extra`), from the `.mat` files `train_32x32.mat`, `test_32x32.mat`, `extra_32x32.mat`.

    mlrun train dataset=svhn model=cnn model.arch=svhn dataset.augment=true
    mlrun train experiment=svhn_cnn

The files store X as (32, 32, 3, N) uint8 and y as (N, 1) with label 10 for the digit 0; here X becomes
(N, 3, 32, 32) and 10 → 0. Reading needs scipy (imported only here).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mlrun.datasets._images import image_data, missing_files, torchvision_fetcher
from mlrun.datasets.spec import Data
from mlrun.errors import UserError, check

SOURCE = "http://ufldl.stanford.edu/housenumbers/"


def read_svhn_mat(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images (N, 3, 32, 32) and int64 labels 0–9 from one SVHN `.mat` file; one line per problem."""
    file = Path(path)
    try:
        import scipy.io
    except ImportError:
        raise UserError(f"{file}: reading SVHN's .mat files needs scipy: pip install scipy") from None
    try:
        mat = scipy.io.loadmat(str(file))
    except Exception as e:  # noqa: BLE001 - loadmat raises ValueError, OSError, TypeError, ... on bad files
        raise UserError(f"{file}: not a readable MATLAB file ({type(e).__name__}: "
                        f"{str(e).splitlines()[0][:120] if str(e) else ''})") from None
    if "X" not in mat or "y" not in mat:
        raise UserError(f"{file}: expected variables X and y, found {', '.join(k for k in mat if not k.startswith('__'))}")
    x, y = np.asarray(mat["X"]), np.asarray(mat["y"]).reshape(-1)
    if x.ndim != 4 or x.shape[2] != 3 or x.dtype != np.uint8:
        raise UserError(f"{file}: expected X as uint8 (rows, cols, 3, N), found {x.dtype} {'×'.join(map(str, x.shape))}")
    if x.shape[3] != len(y):
        raise UserError(f"{file}: {x.shape[3]:,} images in X but {len(y):,} labels in y")
    y = y.astype(np.int64)
    if len(y) and (y.min() < 0 or y.max() > 10):
        raise UserError(f"{file}: labels must be 0–10 (10 = digit 0), found {y.min()}..{y.max()}")
    y[y == 10] = 0
    return np.ascontiguousarray(x.transpose(3, 2, 0, 1)), y     # (H, W, C, N) → (N, C, H, W)


def _svhn_items(splits: list[str]):
    return lambda cls: [([url], filename, checksum) for url, filename, checksum in (cls.split_list[s] for s in splits)]


def svhn(root: str, train_file: str = "train_32x32.mat", test_file: str | None = "test_32x32.mat",
         extra: bool = False, val_fraction: float = 0.1, split: dict | None = None, limit_train: int | None = None,
         mean=(0.4377, 0.4438, 0.4728), std=(0.1980, 0.2010, 0.1970), augment: bool = False, pad: int = 2,
         flip: bool = False, download: bool = False, seed: int = 0) -> Data:
    """SVHN from `.mat` files under `root`; `extra=true` adds extra_32x32.mat to the train set before the
    validation split. `test_file=null` carves train/val/test from the train file (`split`)."""
    check(isinstance(download, bool), "dataset.download", download, "must be true or false")
    check(isinstance(extra, bool), "dataset.extra", extra, "must be true or false")
    root_path = Path(str(root)).expanduser()
    names = [n for n in (train_file, test_file, "extra_32x32.mat" if extra else None) if n]
    missing = [n for n in names if not (root_path / n).is_file()]
    if missing and download:
        wanted = [s for s, n in (("train", train_file), ("test", test_file), ("extra", "extra_32x32.mat"))
                  if n in missing and n == f"{s}_32x32.mat"]
        torchvision_fetcher("SVHN", _svhn_items(wanted), SOURCE)(root_path, missing)
        missing = [n for n in names if not (root_path / n).is_file()]
    if missing:
        raise UserError(missing_files(root_path, missing, SOURCE))
    x, y = read_svhn_mat(root_path / train_file)
    if extra:
        xe, ye = read_svhn_mat(root_path / "extra_32x32.mat")
        x, y = np.concatenate([x, xe]), np.concatenate([y, ye])
    test = read_svhn_mat(root_path / test_file) if test_file else None
    return image_data("svhn", (x, y), test, val_fraction=val_fraction, split=split, limit_train=limit_train,
                      mean=mean, std=std, augment=augment, pad=pad, flip=flip, seed=seed)
