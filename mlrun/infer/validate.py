"""Opening a checkpoint for eval, predict and recommend: every stored value is checked like a command-line value,
before anything is built.

    opened = open_checkpoint("outputs/<run>", ["device=cpu"])   # payload, cfg, spec, trainer settings, device

A checkpoint may come from a stranger or a broken disk, so, in this order:
  1. mlrun.runtime.checkpoints.load: weights_only, config sections, no interpolations, weights finite real tensors;
  2. the spec: DataSpec's fields with their types and ranges, consistent with its task (binary: 1 output and 0 or 2
     classes; multiclass: ≥ 2 outputs, one class name per output; ...), and the fitted preprocessing
     (`spec.transform`) against its schema (mlrun.datasets._table_transform / splits.array_transform);
  3. the stored config with the command's overrides: the registry allowlist, the seed, TrainerSettings (so a stored
     or typed trainer.eval_batch_size=0 is the one line `mlrun train` gives), the device;
  4. the memory pre-check that `mlrun train` has (mlrun.fit.memory_check.check_memory), on the stored spec, before the model
     or the dataset is built (a stored model.hidden=[1000000000] or spec.n_outputs=1e9 is refused, not allocated).
The weights are then checked against the model the spec and config build by `load_state_dict` (names and shapes)
where the model is built: mlrun.infer.predict and mlrun.infer.stored.rebuild.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from pathlib import Path

import torch
from omegaconf import DictConfig

from mlrun.config.registry import make, screen
from mlrun.config.settings import TrainerSettings
from mlrun.datasets.spec import TASKS, DataSpec
from mlrun.errors import UserError, check
from mlrun.fit import build
from mlrun.infer.stored import stored_config
from mlrun.fit.memory_check import check_memory
from mlrun.infer.transform_schema import transform_problem
from mlrun.runtime import checkpoints

SPEC_FIELDS = {f.name for f in fields(DataSpec)}
LARGEST = 2**40               # any count or size in a spec beyond this is no real dataset (memory is checked too)


@dataclass
class Opened:
    """A checkpoint that passed every check: its payload, the config with overrides, the spec, settings, device."""
    file: Path
    payload: dict
    cfg: DictConfig
    spec: DataSpec
    trainer: TrainerSettings
    device: torch.device


def open_checkpoint(path: str | Path, overrides: list[str] = (), key: str = "checkpoint") -> Opened:
    """Load and check the checkpoint `path` (a .pt file or a run folder) for a command with `overrides`; every
    problem is one UserError naming `key`, the file and the value."""
    file = checkpoints.resolve(path, key)
    payload = checkpoints.load(file, key)
    problem = spec_problem(payload["spec"])
    if problem:
        raise UserError(f"{key}={str(file)!r}: not a valid mlrun checkpoint ({problem})")
    cfg = stored_config(payload, list(overrides))
    screen(cfg)
    seed = cfg.get("seed")
    check(isinstance(seed, int) and not isinstance(seed, bool) and 0 <= seed < 2**63, "seed", seed,
          "must be an integer in [0, 2**63 - 1]")
    trainer = build.settings(cfg)
    device = make(cfg.device, "device")
    spec = DataSpec(**payload["spec"])
    check_memory(cfg, spec, device)
    return Opened(file, payload, cfg, spec, trainer, device)


def _count(value, low: int = 0) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= LARGEST


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _names(value) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def spec_problem(spec: dict) -> str | None:
    """What is wrong with a stored spec (DataSpec.to_dict()), or None."""
    unknown = sorted(str(k) for k in spec if k not in SPEC_FIELDS)
    if unknown:
        return f"spec.{unknown[0]}: not a DataSpec field"
    for name in ("input_shape", "n_outputs"):
        if name not in spec:
            return f"its spec has no {name}"
    if spec["task"] not in TASKS:
        return f"spec.task={spec['task']!r}: valid choices are {', '.join(TASKS)}"
    shape = spec["input_shape"]
    if not (isinstance(shape, (list, tuple)) and 1 <= len(shape) <= 4 and all(_count(d, 1) for d in shape)):
        return f"spec.input_shape={shape!r}: must be a list of 1 to 4 integers ≥ 1"
    for name in ("n_outputs", "n_users", "n_items", "n_train"):
        if name in spec and not _count(spec[name]):
            return f"spec.{name}={spec[name]!r}: must be an integer in [0, 2**40]"
    for name in ("name", "loss", "metric"):
        if name in spec and not isinstance(spec[name], str):
            return f"spec.{name}={spec[name]!r}: must be text"
    for name in ("classes", "features"):
        if name in spec and not _names(spec[name]):
            return f"spec.{name}: must be a list of names (text)"
    for name in ("rating_range", "times"):
        if name in spec and not (isinstance(spec[name], list) and all(_finite(v) for v in spec[name])):
            return f"spec.{name}={spec[name]!r}: must be a list of finite numbers"
    return _task_problem(spec) or _transform_problem(spec)


def _task_problem(spec: dict) -> str | None:
    """The outputs and classes a task needs (a binary spec relabelled multiclass keeps 1 output: refused here)."""
    task, n, classes = spec["task"], spec["n_outputs"], spec.get("classes", [])
    if task == "binary" and (n != 1 or len(classes) not in (0, 2)):
        return f"spec.task=binary with n_outputs={n} and {len(classes)} classes; binary needs 1 output and 2 classes"
    if task == "multiclass" and (n < 2 or len(classes) not in (0, n)):
        return (f"spec.task=multiclass with n_outputs={n} and {len(classes)} classes; multiclass needs ≥ 2 outputs "
                f"and one class name per output")
    if task in ("binary", "multiclass") and len(set(classes)) != len(classes):
        return f"spec.classes repeats a name ({', '.join(map(repr, classes[:10]))})"
    if task == "regression" and (n < 1 or classes):
        return f"spec.task=regression with n_outputs={n} and {len(classes)} classes; regression needs ≥ 1 output"
    if task == "ratings" and (list(spec["input_shape"]) != [2] or len(spec.get("rating_range", [])) not in (0, 2)):
        return "spec.task=ratings needs input_shape [2] and a rating_range [lowest, highest]"
    return None


def _transform_problem(spec: dict) -> str | None:
    """spec.transform: absent/empty, or a fitted preprocessing that agrees with the spec's inputs and target."""
    transform = spec.get("transform", {})
    if transform == {}:
        return None
    return transform_problem(transform, spec)
