"""Exact resume: `mlrun train resume=PATH` continues a run in its own folder from checkpoints/last.pt.

    mlrun train resume=outputs/2026-01-31/12-00-00                    # a run dir, or its checkpoints/last.pt
    mlrun train resume=outputs/2026-01-31/12-00-00 trainer.epochs=60  # extend a finished run

last.pt carries, besides the model and optimizer: the scheduler, the loop position (epoch, batch within the
epoch and its running loss, optimiser step, early-stopping counters), the best epoch's weights and record, and
every RNG state (torch CPU, the shuffle generator, CUDA, python, numpy) as tensors and plain data, so it still
loads with `weights_only=True`. On CPU a resumed run ends bitwise equal to an uninterrupted one.

The config is the checkpoint's. Overrides given with resume= are composed as Hydra would and compared with the
checkpoint: RESUMABLE keys may change (e.g. trainer.epochs to extend a run), any other change is a conflict (one
line). The run's .hydra/ keeps the original config (Hydra is started with hydra.output_subdir=null);
metrics.csv is cut back to the checkpoint's epoch and appended to; train.log is appended to.
"""

from __future__ import annotations

import csv
import os
import random
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from mlrun.runtime import checkpoints
from mlrun.config.compose import flatten, override_key
from mlrun.errors import UserError
from mlrun.fit.loop import Position
from mlrun.fit.cache import NO_EFFECT

# keys an override may change on resume; everything else must match the checkpoint's config
# (NO_EFFECT: keys results do not depend on, shared with the run cache)
RESUMABLE = ("trainer.epochs", "trainer.patience", "trainer.nan_policy", "trainer.strategy", *NO_EFFECT)
IGNORED = ("resume", "output_root", "name")      # the run folder is fixed: these say nothing on resume


# ---- the training state in last.pt

def snapshot(position: Position, generator: torch.Generator | None, scheduler, best: dict | None,
             skipped: int = 0, world: int = 1) -> dict:
    """The `resume` entry of last.pt: everything but the model and optimizer needed to continue exactly."""
    shuffle = position.shuffle_state if position.batch else (generator.get_state() if generator is not None
                                                              else None)
    return {
        "position": {"epoch": position.epoch, "batch": position.batch, "step": position.step,
                     "total": None if position.total is None else position.total.detach().cpu().clone(),
                     "shuffle_state": shuffle, "best": position.best, "since_best": position.since_best,
                     "best_loss": position.best_loss},
        "rng": rng_state(), "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "best": best, "skipped": skipped, "world": world,
    }


def restore(state: dict, generator: torch.Generator | None, scheduler, device) -> Position:
    """Put the RNGs and the scheduler back; return the loop position to hand to `fit`."""
    p = state["position"]
    if scheduler is not None and state["scheduler"] is not None:
        scheduler.load_state_dict(state["scheduler"])
    if generator is not None and p["shuffle_state"] is not None:
        generator.set_state(p["shuffle_state"])
    set_rng_state(state["rng"])
    total = None if p["total"] is None else p["total"].to(device)
    return Position(epoch=p["epoch"], batch=p["batch"], total=total, shuffle_state=p["shuffle_state"],
                    step=p["step"], best=p["best"], since_best=p["since_best"],
                    best_loss=p.get("best_loss"))       # absent in checkpoints written before it existed


def rng_state() -> dict:
    import numpy as np

    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    return {"torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else [],
            "python": random.getstate(),
            "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype("int64")), "pos": int(pos),
                      "has_gauss": int(has_gauss), "gauss": float(gauss)}}


def set_rng_state(state: dict) -> None:
    import numpy as np

    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])
    random.setstate(_tuples(state["python"]))
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype("uint32"), n["pos"], n["has_gauss"], n["gauss"]))


def _tuples(v):
    return tuple(_tuples(x) for x in v) if isinstance(v, (list, tuple)) else v


def reopen_metrics(path: Path, epochs_done: int) -> list[str] | None:
    """Cut metrics.csv back to the rows of finished epochs (a crash may have written one more); its header."""
    if not path.is_file():
        return None
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
    except (UnicodeDecodeError, csv.Error) as e:
        raise UserError(f"resume: {path} is not a readable metrics file ({type(e).__name__}); move it aside to "
                        f"resume without the earlier rows") from None
    if not rows:
        return None
    header, body = rows[0], [r for r in rows[1:] if r and r[0].isdigit() and int(r[0]) <= epochs_done]
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "w", newline="") as f:
        csv.writer(f).writerows([header, *body])
    os.replace(tmp, path)
    return header


# ---- the CLI side: which run, which checkpoint, which config

def locate(path: str) -> tuple[Path, Path]:
    """(run dir, checkpoint file) for resume=PATH, a run dir or <run>/checkpoints/<file>.pt."""
    p = Path(str(path)).expanduser()
    if p.is_dir():
        ckpt = p / "checkpoints" / "last.pt"
        if not ckpt.is_file():
            raise UserError(f"resume={str(path)!r}: not a run folder (no checkpoints/last.pt in it); pass a run "
                            f"dir such as outputs/<date>/<time> or its checkpoints/last.pt")
        return p.resolve(), ckpt.resolve()
    if not p.exists():
        raise UserError(f"resume={str(path)!r}: no such file or folder")
    if p.parent.name != "checkpoints":
        raise UserError(f"resume={str(path)!r}: a checkpoint outside a run folder; resume continues a run in "
                        f"its own folder, so pass <run dir> or <run dir>/checkpoints/last.pt")
    return p.parent.parent.resolve(), p.resolve()


def load(path: str) -> tuple[Path, Path, dict]:
    run_dir, ckpt = locate(path)
    payload = checkpoints.load(ckpt, key="resume")
    if "resume" not in payload:
        raise UserError(f"resume={str(ckpt)!r}: holds no training state (best.pt keeps only the best weights); "
                        f"pass the run dir or its checkpoints/last.pt")
    problem = state_problem(payload["resume"])
    if problem:
        raise UserError(f"resume={str(ckpt)!r}: not a valid training state ({problem})")
    return run_dir, ckpt, payload


def _count(v, low: int = 0) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= low


def state_problem(state) -> str | None:
    """What is wrong with last.pt's `resume` entry, or None (it comes from a file: check before use)."""
    if not isinstance(state, dict) or not isinstance(state.get("position"), dict):
        return "no position"
    p = state["position"]
    for key in ("epoch", "batch", "step", "since_best"):
        if not _count(p.get(key)):
            return f"position.{key}={p.get(key)!r} is not an integer ≥ 0"
    if p.get("best_loss") is not None and (isinstance(p["best_loss"], bool)
                                           or not isinstance(p["best_loss"], (int, float))):
        return f"position.best_loss={p['best_loss']!r} is not a number"
    if p.get("total") is not None and not (isinstance(p["total"], torch.Tensor) and p["total"].ndim == 0):
        return "position.total is not a scalar tensor"
    if p.get("shuffle_state") is not None and not (isinstance(p["shuffle_state"], torch.Tensor)
                                                   and p["shuffle_state"].dtype == torch.uint8):
        return "position.shuffle_state is not a generator state"
    rng = state.get("rng")
    if not isinstance(rng, dict) or not isinstance(rng.get("torch"), torch.Tensor) or \
            rng["torch"].shape != torch.get_rng_state().shape or rng["torch"].dtype != torch.uint8:
        return "rng.torch is not a torch RNG state"
    n = rng.get("numpy")
    if not isinstance(n, dict) or not isinstance(n.get("keys"), torch.Tensor) or n["keys"].numel() != 624 \
            or not _count(n.get("pos")):
        return "rng.numpy is not a numpy RNG state"
    if not isinstance(rng.get("python"), (list, tuple)) or len(rng["python"]) != 3:
        return "rng.python is not a python RNG state"
    if state.get("scheduler") is not None and not isinstance(state["scheduler"], dict):
        return "scheduler is not a mapping"
    best = state.get("best")
    if best is not None and not (isinstance(best, dict) and isinstance(best.get("model"), dict)
                                 and isinstance(best.get("record"), dict)):
        return "best is not {model, record}"
    if not _count(state.get("skipped", 0)) or not _count(state.get("world", 1), 1):
        return "skipped/world are not counts"
    return None


def config(payload: dict, run_dir: Path, overrides: list[str], compose) -> DictConfig:
    """The checkpoint's config with the RESUMABLE keys that `overrides` change; a conflict is one line.

    compose(overrides) -> the composed config, as `mlrun train` would build it (see mlrun.fit.launch).
    """
    saved = OmegaConf.create(payload["config"])
    mine = [o for o in overrides if not override_key(o).startswith("hydra") and override_key(o) != "resume"]
    original = _original_overrides(run_dir)
    _check_belongs(saved, run_dir, original, compose)
    if mine:
        keys = {override_key(o) for o in mine}
        kept = [o for o in original if not any(override_key(o) == k or override_key(o).startswith(k + ".") for k in keys)]
        before, after = flatten(compose(original)), flatten(compose(kept + mine))
        flat_saved = flatten(saved)
        for key in sorted(set(before) | set(after)):
            new = after.get(key, "<absent>")
            if before.get(key, "<absent>") == new or key in IGNORED or key.startswith(tuple(i + "." for i in IGNORED)):
                continue
            if key in RESUMABLE:
                OmegaConf.update(saved, key, new, merge=False)
            elif flat_saved.get(key, "<absent>") != new:
                culprit = next((o for o in mine if key == override_key(o) or key.startswith(override_key(o).split("/")[0] + ".")),
                               ", ".join(mine))
                raise UserError(f"resume: {culprit} conflicts with the run being resumed ({key} is "
                                f"{flat_saved.get(key, '<absent>')!r} in its checkpoint, would be {new!r}); on resume "
                                f"only {', '.join(RESUMABLE)} may change — start a new run for anything else")
    OmegaConf.set_struct(saved, True)
    return saved


def _check_belongs(saved: DictConfig, run_dir: Path, original: list[str], compose) -> None:
    """A last.pt copied in from another run (another model, dataset, seed ...) is refused."""
    if not (run_dir / ".hydra" / "config.yaml").is_file():
        return
    try:
        theirs = flatten(compose(original))
    except Exception:  # noqa: BLE001 - the conf/ files changed since: nothing to compare against
        return
    mine = flatten(saved)
    for key in sorted(set(theirs) | set(mine)):
        if key in RESUMABLE or key in IGNORED or key.startswith(tuple(i + "." for i in IGNORED)):
            continue
        if key.split(".")[0] in ("model", "dataset") and theirs.get(key) != mine.get(key):
            raise UserError(f"resume: {run_dir / 'checkpoints'} holds a checkpoint of another run ({key} is "
                            f"{mine.get(key)!r} in it, {theirs.get(key)!r} in {run_dir / '.hydra' / 'overrides.yaml'})")


def _original_overrides(run_dir: Path) -> list[str]:
    file = run_dir / ".hydra" / "overrides.yaml"
    if not file.is_file():
        return []
    import yaml

    try:                                 # plain YAML: OmegaConf would resolve `${...}` while reading
        overrides = [str(o) for o in yaml.safe_load(file.read_text(encoding="utf-8")) or []]
    except Exception:  # noqa: BLE001 - unreadable: compare against the defaults instead
        return []
    for o in overrides:                  # resolvers run on compose: a stored file must not name any
        if "${" in o:
            raise UserError(f"resume: {file} holds an interpolation ({o!r}); refused: the overrides of a run "
                            f"folder are read as plain values")
    return overrides
