"""The report's table: one row per run (the settings that differ, status, metrics, time, reference, error),
filtered and sorted; and the Markdown of it."""

from __future__ import annotations

import math
import numbers
import os
from pathlib import Path

from mlrun.errors import UserError
from mlrun.metrics.tasks import HIGHER_IS_BETTER
from mlrun.report.runs import load_runs, natural_key, setting


def differing(runs: list[dict]) -> list[str]:
    """Override keys and config groups whose value is not the same in every run, in first-seen order."""
    keys = dict.fromkeys(k for run in runs for k in [*run["overrides"], *run["choices"]] if not k.startswith("hydra"))
    return [k for k in keys if len({str(setting(r, k)) for r in runs}) > 1]


def row(run: dict, keys: list[str], root: Path) -> dict:
    s, m = run["summary"], run["metrics"]
    monitor = s.get("monitor")
    out = {"run": _relative(run["dir"], root)}
    out |= {k: _value(setting(run, k)) for k in keys}
    out["status"] = "failed" if run["error"] or not s else str(s.get("status", "ok"))   # ok | pruned | cached
    if s.get("status") == "fast_dev_run":           # one batch per split: none of its metrics is shown as a result
        out["status"], monitor = "fast_dev_run", None
        s = {k: v for k, v in s.items() if not k.startswith("test_") and k not in ("reference", "published")}
    if monitor:
        out[monitor] = s.get(f"best_{monitor}")
        best = m[m["epoch"] == s.get("best_epoch")] if m is not None and "epoch" in m else ()
        for key in ("val_loss", "train_loss"):          # at the best epoch: the gap shows over/underfitting
            out[key] = float(best[key].iloc[0]) if len(best) and key in best else math.nan
    out |= {k: v for k, v in s.items() if k.startswith("test_")}
    out |= {"best_epoch": s.get("best_epoch"), "epochs": s.get("epochs_run"), "seconds": s.get("total_seconds"),
            "samples_per_s": s.get("samples_per_second"), "device": s.get("device")}
    for key in ("reference", "published"):          # a published number the summary carries, if any
        ref = s.get(key)
        if isinstance(ref, dict) and ref.get("match") == "dataset":
            continue                                # another model's number (runs before references.py said no)
        if isinstance(ref, dict):
            out |= {f"ref_{k}": v for k, v in ref.items() if isinstance(v, (int, float, str))}
        elif ref is not None:
            out["reference"] = ref
    out["error"] = run["error"]
    return out


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root)).removeprefix(".") or path.resolve().name   # one run: its name
    except ValueError:
        return str(path)


def _value(v):
    """Numbers as numbers (sortable, plottable), everything else as text."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return v
    try:
        f = float(str(v))
        return int(f) if f.is_integer() and "." not in str(v) and "e" not in str(v).lower() else f
    except ValueError:
        return "" if v is None else str(v)


def build_table(runs: list[dict], root: Path):
    import pandas as pd

    keys = differing(runs)
    df = pd.DataFrame([row(r, keys, root) for r in runs])
    cols = list(df.columns)
    metrics = [c for c in cols if c.startswith("val_") and c != "val_loss"]
    order = ["run", *keys, "status", *metrics, "val_loss", "train_loss", *[c for c in cols if c.startswith("test_")],
             "best_epoch", "epochs", "seconds", "samples_per_s", *[c for c in cols if c.startswith("ref")],
             "device", "error"]
    if not df["error"].astype(bool).any():
        cols.remove("error")
    return df[[c for c in dict.fromkeys(order) if c in cols]].dropna(axis=1, how="all"), keys


def apply_filter(df, runs: list[dict], item: str):
    """Rows of `df` whose column / config group / config key `KEY` equals VALUE."""
    key, sep, value = item.partition("=")
    if not sep or not key:
        raise UserError(f"--filter {item!r}: expected KEY=VALUE, e.g. --filter model=mlp")
    values = [df[key].iloc[i] if key in df.columns else setting(run, key) for i, run in enumerate(runs)]
    if all(v is None for v in values):
        groups = sorted({g for r in runs for g in r["choices"]})
        raise UserError(f"--filter {item!r}: unknown key {key!r}; valid keys are the columns "
                        f"{', '.join(df.columns)}, the groups {', '.join(groups)}, or a config key like optimizer.lr")
    keep = [_same(v, value) for v in values]
    if not any(keep):
        seen = sorted({str(_value(v)) for v in values if v is not None})
        raise UserError(f"--filter {item!r}: no run has {key}={value}; values of {key}: {', '.join(seen)}")
    return df[keep].reset_index(drop=True), [r for r, k in zip(runs, keep) if k]


def _same(a, b: str) -> bool:
    if str(a) == b:
        return True
    try:
        return math.isclose(float(str(a)), float(b), rel_tol=1e-9)
    except ValueError:
        return False


def higher_is_better(column: str) -> bool | None:
    return HIGHER_IS_BETTER.get(column.removeprefix("val_").removeprefix("test_"))


def is_number(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)      # numpy scalars too


def is_missing(v) -> bool:
    return v is None or (isinstance(v, str) and v == "") or (is_number(v) and math.isnan(v))


def _order(values: list, descending: bool) -> list[int]:
    """Positions of `values` sorted: numbers by value, text naturally, numbers before text; blanks always last."""
    def key(i):
        v = values[i]
        return (0, float(v), ()) if is_number(v) else (1, 0.0, natural_key(v))

    present = sorted((i for i, v in enumerate(values) if not is_missing(v)), key=key, reverse=descending)  # stable
    return present + [i for i, v in enumerate(values) if is_missing(v)]


def sort_table(df, runs: list[dict], column: str):
    """Rows ordered by `column`, best first for metrics (acc, r2 high; loss, rmse low), blanks last."""
    if column not in df.columns:
        raise UserError(f"--sort {column!r}: no such column; valid columns: {', '.join(df.columns)}")
    order = _order(list(df[column]), descending=bool(higher_is_better(column)))
    return df.iloc[order].reset_index(drop=True), [runs[i] for i in order]


def monitor_column(df) -> str | None:
    """The best-val-metric column (val_acc, val_r2, ...), the first one when runs monitor different metrics."""
    return next((c for c in df.columns if c.startswith("val_") and c != "val_loss"), None)


def best_first(df, runs: list[dict]):
    column = monitor_column(df)
    return sort_table(df, runs, column) if column else (df, runs)


def markdown(df) -> str:
    cells = [[str(c) for c in df.columns]] + [[cell(v) for v in r] for r in df.itertuples(index=False)]
    lines = ["| " + " | ".join(r) + " |" for r in cells]
    lines.insert(1, "|" + "|".join("---" for _ in df.columns) + "|")
    return "\n".join(lines) + "\n"


def cell(v) -> str:
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:.4g}"
    return str(v).replace("|", "\\|")


def table(paths: list[str], filters: list[str] = (), sort: str | None = None) -> tuple:
    """(table, runs, swept keys, skipped) of the runs under `paths`: rows in natural folder order (job 2 before
    job 10), or sorted by `sort`, best first for metrics. skipped: "<file>: <why>" for each run whose files cannot
    be used (left out of the table); when no run can be used, a UserError names the first."""
    runs, skipped = load_runs(paths)
    root = Path(os.path.commonpath([str(Path(p).resolve()) for p in paths]))
    root = root if root.is_dir() else root.parent
    if not runs:
        more = f" (and {len(skipped) - 1} more runs like it)" if len(skipped) > 1 else ""
        raise UserError(f"PATH={' '.join(paths)!r}: no run can be read: {skipped[0]}{more}")
    df, keys = build_table(runs, root)
    for item in filters:
        df, runs = apply_filter(df, runs, item)
    if sort:
        df, runs = sort_table(df, runs, sort)
    return df, runs, keys, skipped
