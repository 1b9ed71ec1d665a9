"""The decoded-image cache of `dataset=image_folder`: one tensor file per folder state, so that a second run on
the same folder reads one file instead of decoding every image again.

The file is `<cache dir>/image_folder/<fingerprint>.pt` (mlrun.paths.cache_dir: $MLRUN_CACHE_DIR, else
~/.cache/mlrun) — never inside the user's image folder. The fingerprint is a SHA-256 of every file's path, size
and modification time, its class and part, and the settings that change the pixels (size, grayscale): a file
added, removed, replaced or touched gives a new key (and a new file; old ones can be deleted at any time).

A cache file is untrusted like any file: loaded with `weights_only=True` (tensors and plain data only), after its
size was checked against free memory, and every value checked (dtypes, shapes, label range, the class names,
the counts) against the folder it claims to be; a file that fails is named in one warning and decoded again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import torch

from mlrun.datasets._image_files import SHOWN, Listing
from mlrun.paths import cache_dir
from mlrun.runtime.memory import available_bytes, gb
from mlrun.runtime.outputs import temporary

log = logging.getLogger("mlrun")
VERSION = 1                      # of the cache file's layout; another version is decoded again


def fingerprint(listing: Listing, size, grayscale: bool) -> str:
    """Hex SHA-256 of the folder's state (paths, sizes, mtimes, labels, parts) and the pixel settings."""
    digest = hashlib.sha256(json.dumps({"version": VERSION, "root": str(listing.root.resolve()), "size": size,
                                        "grayscale": grayscale, "classes": listing.classes}).encode())
    for i, f in enumerate(listing.files):
        st = f.stat()
        digest.update(f"{listing.name(i)}\0{st.st_size}\0{st.st_mtime_ns}\0{listing.labels[i]}\0"
                      f"{listing.part[i]}\n".encode())
    return digest.hexdigest()


def cache_path(key: str) -> Path:
    return cache_dir() / "image_folder" / f"{key}.pt"


def problem(entry, listing: Listing, size) -> str | None:
    """Why a loaded cache entry does not fit `listing` (None when it does)."""
    if not isinstance(entry, dict) or entry.get("version") != VERSION:
        return "not a cache file of this mlrun version"
    x, y, part, bad = entry.get("x"), entry.get("y"), entry.get("part"), entry.get("bad")
    if not all(isinstance(t, torch.Tensor) for t in (x, y, part)):
        return "x, y and part must be tensors"
    n, n_bad = len(listing.files), entry.get("n_bad")
    if x.dtype != torch.uint8 or x.ndim != 4 or x.shape[1] not in (1, 3) or min(x.shape[2:], default=0) < 1:
        return f"x must be uint8 (N, 1|3, H, W), found {x.dtype} {tuple(x.shape)}"
    if size is not None and list(x.shape[2:]) != list(size):
        return f"images are {x.shape[2]}×{x.shape[3]}, not dataset.size={list(size)}"
    if y.dtype != torch.int64 or part.dtype != torch.int8 or y.shape != (len(x),) or part.shape != (len(x),):
        return "y must be int64 (N,) and part int8 (N,)"
    if len(y) and (int(y.min()) < 0 or int(y.max()) >= len(listing.classes) or int(part.min()) < 0
                   or int(part.max()) > 2):
        return "labels or parts out of range"
    if entry.get("classes") != listing.classes:
        return "its class names differ from the folder's"
    if not isinstance(n_bad, int) or isinstance(n_bad, bool) or len(x) + n_bad != n:
        return f"its counts ({len(x)} images + {n_bad!r} bad) do not add up to the folder's {n} files"
    if not isinstance(bad, list) or len(bad) > SHOWN or not all(isinstance(b, str) and len(b) < 4096 for b in bad):
        return "bad must be a short list of names"
    return None


def load(key: str, listing: Listing, size) -> dict | None:
    """The cached decode of `listing` ({x, y, part, bad, n_bad}), or None (absent, or refused with a warning)."""
    file = cache_path(key)
    try:
        bytes_ = file.stat().st_size
    except OSError:
        return None                                  # not cached yet
    if bytes_ > available_bytes() // 2:
        log.warning("%s: %s does not fit the memory available; decoding the images again", file, gb(bytes_))
        return None
    try:
        entry = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - a truncated or foreign file fails in any way while unpickling
        entry, why = None, f"unreadable ({type(e).__name__})"
    else:
        why = problem(entry, listing, size)
    if why:
        log.warning("%s: cache file refused (%s); decoding the images again", file, why)
        return None
    return entry


def save(key: str, entry: dict) -> None:
    """Write the cache file atomically (temporary + rename); a cache that cannot be written is one warning."""
    file = cache_path(key)
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        tmp = temporary(file)
        try:
            torch.save({"version": VERSION, **entry}, tmp)
            os.replace(tmp, file)
        finally:
            tmp.unlink(missing_ok=True)
    except OSError as e:
        log.warning("%s: could not write the image cache (%s); the next run decodes the images again (set "
                    "MLRUN_CACHE_DIR to a writable folder)", file, e.strerror or e)

