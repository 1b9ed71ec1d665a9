"""Checkpoints: written atomically, read back with `weights_only=True` (plain data and tensors, never code).

A checkpoint holds everything needed to rebuild and evaluate the model:
  model (state dict), optimizer (state dict), epoch, config (the resolved run config), spec (DataSpec as a dict),
  metrics (the epoch's record), mlrun_version.

A checkpoint is untrusted input: `load` checks the payload's shape (config sections without interpolations, a spec
mapping, weights as finite real tensors) for every command that opens one (eval, predict, recommend, resume);
mlrun.infer.validate adds the checks that need the upper layers (spec and transform schema, TrainerSettings,
the memory pre-check) for eval, predict and recommend.
"""

from __future__ import annotations

import errno
import os
import pickle
import re
import shutil
import zipfile
from pathlib import Path

import torch

from mlrun.runtime.outputs import temporary
from mlrun.runtime.trees import walk
from mlrun.errors import UserError

REQUIRED = ("model", "config", "spec")
CONFIG_KEYS = ("dataset", "model", "optimizer", "device", "trainer")   # sections every run's config has


def save(path: Path, payload: dict) -> None:
    """Write to a temporary file in the same folder, fsync, then rename: a crash leaves the old file intact."""
    path = Path(path)
    path.parent.mkdir(exist_ok=True)           # not parents: a run folder deleted mid-run is not re-created
    tmp = temporary(path)                      # also removes `.<name>.tmp<pid>` of dead pids (kill -9 mid-write)
    try:
        with open(tmp, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        if isinstance(e, RuntimeError):      # torch reports a failed write as e.g. "unexpected pos 576 vs 534"
            full = "space" in str(e) or shutil.disk_usage(path.parent).free < 2**20
            code = errno.ENOSPC if full else errno.EIO
            raise OSError(code, os.strerror(code), str(path)) from None
        if isinstance(e, OSError) and not e.filename:
            raise OSError(e.errno, e.strerror, str(path)) from None
        raise


def resolve(path: str | Path, key: str = "checkpoint") -> Path:
    """The checkpoint file `path` names: a .pt file, or a run folder's checkpoints/best.pt."""
    file = Path(str(path)).expanduser()
    if file.is_dir():
        candidate = file / "checkpoints" / "best.pt"
        if not candidate.is_file():
            raise UserError(f"{key}={str(path)!r}: a folder without checkpoints/best.pt; pass a .pt file or a run dir")
        file = candidate
    if not file.is_file():
        raise UserError(f"{key}={str(path)!r}: file not found")
    return file


def load(path: str | Path, key: str = "checkpoint", map_location="cpu") -> dict:
    """Read an mlrun checkpoint, or fail in one line naming the file and what is wrong with it."""
    file = resolve(path, key)
    if not zipfile.is_zipfile(file):
        raise UserError(f"{key}={str(file)!r}: corrupt or not a torch checkpoint (not a torch zip archive)")
    try:
        payload = torch.load(file, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        found = re.search(r"GLOBAL (\S+)", re.sub(r"\x1b\[[0-9;]*m", "", str(e)))
        what = f" (it names {found.group(1)})" if found else ""
        raise UserError(f"{key}={str(file)!r}: refused: it holds pickled objects beyond tensors and plain data"
                        f"{what}; mlrun loads checkpoints with weights_only=True and never runs their code") from None
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
    for path, value in walk(config):
        if isinstance(value, str) and "${" in value:
            return f"config.{path}={value!r}: interpolations are not allowed in a stored config"
    if not isinstance(payload["spec"], dict) or not isinstance(payload["spec"].get("task"), str):
        return "its spec is not a mapping with a task"
    model = payload["model"]
    if not isinstance(model, dict) or not all(isinstance(v, torch.Tensor) for v in model.values()):
        return "its model weights are not a mapping of tensors"
    return weights_problem(model)


def weights_problem(weights: dict) -> str | None:
    """What is wrong with a state dict read from a file, or None: every tensor a dense real one in host memory
    (complex, sparse or meta tensors are no weights mlrun writes), every floating value finite (a NaN weight makes
    every prediction NaN, which argmax turns into class 0 without a word)."""
    for name, t in weights.items():
        if t.layout != torch.strided or t.device.type != "cpu" or t.is_complex():
            return f"its weight {name} is a {t.layout} {t.dtype} tensor on {t.device.type}, not real numbers"
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            bad = int((~torch.isfinite(t)).sum())
            return f"its weight {name} holds {bad:,} NaN/Inf value(s) of {t.numel():,}; non-finite weights " \
                   f"predict nothing meaningful (retrain, or use an earlier checkpoint)"
    return None
