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
CONFIG_KEYS = ("dataset", "model", "optimizer", "device", "trainer")   # sections every run's config has


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
    problem = _schema_problem(payload)
    if problem:
        raise UserError(f"{key}={str(file)!r}: not a valid mlrun checkpoint ({problem})")
    return payload


def _schema_problem(payload: dict) -> str | None:
    """What is wrong with a loaded payload's shape, or None: the config a mapping of the run's groups with no
    interpolations (`${...}` would be resolved: resolvers can create folders), the spec a mapping, the weights
    a mapping of tensors."""
    config = payload["config"]
    if not isinstance(config, dict):
        return f"its config is a {type(config).__name__}, not a mapping"
    for group in CONFIG_KEYS:
        if not isinstance(config.get(group), dict):
            return f"its config has no {group} section"
    for path, value in _leaves(config):
        if isinstance(value, str) and "${" in value:
            return f"config.{path}={value!r}: interpolations are not allowed in a stored config"
    if not isinstance(payload["spec"], dict) or not isinstance(payload["spec"].get("task"), str):
        return "its spec is not a mapping with a task"
    model = payload["model"]
    if not isinstance(model, dict) or not all(isinstance(v, torch.Tensor) for v in model.values()):
        return "its model weights are not a mapping of tensors"
    return None


def _leaves(tree, prefix: str = ""):
    items = tree.items() if isinstance(tree, dict) else enumerate(tree) if isinstance(tree, list) else ()
    for k, v in items:
        if isinstance(v, (dict, list)):
            yield from _leaves(v, f"{prefix}{k}.")
        else:
            yield f"{prefix}{k}", v
