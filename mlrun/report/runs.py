"""Finding run folders and reading each one into a plain dict (overrides, group choices, config, summary,
metrics, error). A run whose files cannot be used is skipped with a one-line reason instead of ending the report."""

from __future__ import annotations

import numbers
import os
import re
from pathlib import Path

from mlrun.config.compose import flatten
from mlrun.errors import UserError
from mlrun.report.files import (Unreadable, read_error, read_json_object, read_metrics_columns, read_metrics_csv,
                                read_yaml)

SKIP_GROUPS = ("hydra", "hydra/", "device")     # choice groups never shown as settings (device is its own column)
MONITOR = re.compile(r"(val|test)_\w{1,60}")     # summary.json's "monitor": a metric column, never `run`, `status`
TEXT_KEYS = ("monitor", "mode", "device")                                  # summary keys read as text
NUMBER_KEYS = ("best_epoch", "epochs_run", "total_seconds", "samples_per_second")   # ... and as numbers


def natural_key(text) -> tuple:
    """Sort key that orders the numbers inside text by value: job 2 before job 10, 2026-11-9 before 2026-11-10."""
    parts = re.split(r"(\d+)", str(text))
    return tuple(int(t) if i % 2 else t for i, t in enumerate(parts))     # odd positions are the digit runs


def find_runs(paths: list[str]) -> list[Path]:
    """The run folders under `paths` (those holding summary.json or error.txt), each path's in natural order."""
    runs: list[Path] = []
    for p in map(Path, paths):
        if not p.exists():
            raise UserError(f"PATH={str(p)!r}: no such file or folder; give a run folder, a sweep folder or outputs/")
        found = {f.parent for name in ("summary.json", "error.txt") for f in p.rglob(name)}
        if p.is_file() or not found:
            raise UserError(f"PATH={str(p)!r}: no runs found (a run folder holds summary.json, or error.txt for a "
                            f"failed job)")
        runs += sorted(found - set(runs), key=natural_key)          # job 2 before job 10
    return runs


def _scalar(v) -> bool:
    return v is None or isinstance(v, (str, bool, numbers.Real))


def check_summary(summary: dict) -> None:
    """Refuse the summary values the table reads when they have the wrong type (a list as `monitor`, ...)."""
    monitor = summary.get("monitor")
    if monitor is not None and not isinstance(monitor, str):
        raise Unreadable("summary.json", f"monitor holds a {type(monitor).__name__}, expected a metric name like "
                                         f"'val_acc'")
    if monitor is not None and not MONITOR.fullmatch(monitor):
        raise Unreadable("summary.json", f"monitor={monitor[:40]!r} is not a metric name like 'val_acc'")
    for key in TEXT_KEYS:
        if not isinstance(summary.get(key, ""), (str, type(None))):
            raise Unreadable("summary.json", f"{key} holds a {type(summary[key]).__name__}, expected text")
    for key in [*NUMBER_KEYS, f"best_{monitor}", *(k for k in summary if k.startswith("test_"))]:
        v = summary.get(key)
        if not (v is None or (isinstance(v, numbers.Real) and not isinstance(v, bool))):
            raise Unreadable("summary.json", f"{key} holds a {type(v).__name__}, expected a number")
    for key in ("reference", "published"):
        ref = summary.get(key)
        if not (_scalar(ref) or isinstance(ref, dict)):
            raise Unreadable("summary.json", f"{key} holds a {type(ref).__name__}, expected an object or text")


def _overrides(items) -> dict:
    if not isinstance(items, list):
        raise Unreadable(".hydra/overrides.yaml", f"a {type(items).__name__}, expected a list of key=value")
    out = {}
    for item in items:
        key, _, value = str(item).lstrip("+~").partition("=")
        out[key] = value
    return out


def _choices(hydra) -> dict:
    """hydra.yaml's hydra.runtime.choices (config group → option), without SKIP_GROUPS."""
    choices = hydra
    for key in ("hydra", "runtime", "choices"):
        choices = choices.get(key) if isinstance(choices, dict) else None
    if not isinstance(choices, (dict, type(None))):
        raise Unreadable(".hydra/hydra.yaml", f"hydra.runtime.choices holds a {type(choices).__name__}, "
                                              f"expected a mapping")
    return {str(k): str(v) for k, v in (choices or {}).items() if not str(k).startswith(SKIP_GROUPS)}


def load_run(run_dir: Path, frame: bool = True) -> dict:
    """A run folder's files as a dict; raises Unreadable naming the first file that cannot be used. `frame`:
    metrics.csv as a pandas DataFrame, else as {column: numbers}."""
    hydra = run_dir / ".hydra"
    try:
        summary = read_json_object(run_dir / "summary.json") if os.path.lexists(run_dir / "summary.json") else {}
        check_summary(summary)
        config = read_yaml(hydra / "config.yaml") or {}
        if not isinstance(config, dict):
            raise Unreadable(".hydra/config.yaml", f"a {type(config).__name__}, expected a mapping")
        run = {"dir": run_dir, "overrides": _overrides(read_yaml(hydra / "overrides.yaml") or []),
               "choices": _choices(read_yaml(hydra / "hydra.yaml")), "config": flatten(config),
               "summary": summary,
               "metrics": (read_metrics_csv if frame else read_metrics_columns)(run_dir / "metrics.csv"),
               "error": read_error(run_dir / "error.txt")}
    except Unreadable as e:                 # named from the run folder: summary.json, .hydra/config.yaml
        inside = e.path.relative_to(run_dir) if e.path.is_relative_to(run_dir) else e.path
        raise Unreadable(inside, e.why) from None
    return run


def load_runs(paths: list[str]) -> tuple[list[dict], list[str]]:
    """(the readable runs under `paths`, "<file>: <why>" for each run skipped, the file as found under PATH)."""
    runs, skipped = [], []
    for run_dir in find_runs(paths):
        try:
            runs.append(load_run(run_dir))
        except Unreadable as e:
            skipped.append(f"{run_dir / e.path}: {e.why}")
    return runs, skipped


def setting(run: dict, key: str):
    """A run's value of `key`: its override, else its config group choice, else its config value."""
    for table in (run["overrides"], run["choices"], run["config"]):
        if key in table:
            return table[key]
    return None
