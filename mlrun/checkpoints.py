"""Checkpoints: written atomically, read back with `weights_only=True` (plain data and tensors, never code).

A checkpoint holds everything needed to rebuild and evaluate the model:
  model (state dict), optimizer (state dict), epoch, config (the resolved run config), spec (DataSpec as a dict),
  metrics (the epoch's record), mlrun_version.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path

import torch

from mlrun.errors import UserError

REQUIRED = ("model", "config", "spec")


def save(path: Path, payload: dict) -> None:
    """Write to a temporary file in the same folder, fsync, then rename: a crash leaves the old file intact."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        torch.save(payload, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load(path: str | Path, key: str = "checkpoint", map_location="cpu") -> dict:
    """Read an mlrun checkpoint, or fail in one line naming the file and what is wrong with it."""
    file = Path(str(path)).expanduser()
    if file.is_dir():
        candidate = file / "checkpoints" / "best.pt"
        if not candidate.is_file():
            raise UserError(f"{key}={str(path)!r}: a folder without checkpoints/best.pt; pass a .pt file or a run dir")
        file = candidate
    if not file.is_file():
        raise UserError(f"{key}={str(path)!r}: file not found")
    if not zipfile.is_zipfile(file):
        raise UserError(f"{key}={str(file)!r}: corrupt or not a torch checkpoint (not a torch zip archive)")
    try:
        payload = torch.load(file, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        raise UserError(f"{key}={str(file)!r}: refused: it holds pickled objects beyond tensors and plain data "
                        f"(weights_only load failed: {str(e).splitlines()[0][:160]})") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as e:
        raise UserError(f"{key}={str(file)!r}: corrupt or not a torch checkpoint ({type(e).__name__})") from None
    if not isinstance(payload, dict) or any(k not in payload for k in REQUIRED):
        raise UserError(f"{key}={str(file)!r}: not an mlrun checkpoint (needs keys {', '.join(REQUIRED)})")
    return payload
