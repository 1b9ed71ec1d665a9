"""`mlrun compare A B [...]`: what differs between runs — every config key (nested keys flattened, defaults
included: the resolved .hydra/config.yaml), the metrics side by side with deltas against the first run, the
learning curves overlaid (one SVG per metric), provenance differences ("different data: train.csv sha256 …",
"code: commit … (3 files changed)"), and, where runs differ only by seed, the seed groups with a verdict.

    cmp = comparison(["outputs/2026-12-05/10-00-00", "outputs/2026-12-05/10-05-00"])
    print(render(cmp, width=120)); curves(cmp, Path("compare/"))

Each PATH is a run folder, a sweep folder or a glob of them; when several PATHs are given, the runs of each PATH
stay a group of their own in the seed statistics (two sweeps of 5 seeds of one config: "within noise" or not).
"""

from __future__ import annotations

import glob
import math
from dataclasses import dataclass, field
from pathlib import Path

from mlrun.errors import UserError
from mlrun.report import noise, provenance, svg
from mlrun.report.files import Unreadable
from mlrun.report.runs import find_runs, load_run, natural_key
from mlrun.report.table import higher_is_better, is_number

VERTICAL_MAX = 4                # runs shown as columns (A B C D); more: one row per run
SUMMARY_NUMBERS = ("best_epoch", "epochs_run", "total_seconds", "samples_per_second", "n_params")
CURVE_SKIP = ("epoch", "lr", "epoch_seconds", "samples_per_second")      # metrics.csv columns that are no metric
MISSING = "—"


@dataclass
class Comparison:
    runs: list[dict]                        # mlrun.report.runs.load_run dicts ("metrics": {column: numbers}), each
    #                                         with "name" and "side"
    skipped: list[str]                      # "<file>: <why>" per run left out
    keys: list[str]                         # config keys whose values differ
    metrics: list[str]                      # metric names present in some run
    metric: str | None                      # the metric the seed groups rank by
    groups: list[dict] = field(default_factory=list)    # noise.verdicts rows (only when a group has ≥ 2 runs)
    provenance: list[tuple[str, list[str]]] = field(default_factory=list)   # (line, names of the runs it is about)


def expand(paths: list[str]) -> list[list[Path]]:
    """The run folders of each PATH (a glob is expanded; no match is one error line)."""
    sides = []
    for p in paths:
        matches = sorted(glob.glob(p), key=natural_key) if glob.has_magic(p) else [p]
        if not matches:
            raise UserError(f"PATH={p!r}: the pattern matches nothing; give run folders, sweep folders or a glob")
        sides.append([run for m in matches for run in find_runs([m])])
    return sides


def settings(run: dict) -> dict:
    """Every config key (flattened) and the config group choices (`model`: mlp), as text."""
    return {**{k: _show(v) for k, v in run["config"].items()}, **run["overrides"], **run["choices"]}


def _show(v) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return "null" if v is None else str(v)


def metric_values(summary: dict) -> dict:
    """The numbers of summary.json worth comparing: test_*, best_val_* (cross validation: *_mean), counts, time."""
    return {k: v for k, v in summary.items() if is_number(v) and (
        k.startswith(("test_", "best_val_")) or k in SUMMARY_NUMBERS)}


def monitored(summary: dict, metric: str | None) -> float | None:
    """A run's value of `metric` (None: its best monitored val metric; cross validation: the mean over folds)."""
    name = metric or summary.get("monitor")
    if not isinstance(name, str):
        return None
    for key in (name, f"best_{name}", f"{name}_mean"):
        if is_number(summary.get(key)):
            return float(summary[key])
    return None


def comparison(paths: list[str], metric: str | None = None) -> Comparison:
    runs, skipped = [], []
    sides = expand(paths)
    for side, dirs in enumerate(sides):
        for run_dir in dirs:
            try:
                runs.append(load_run(run_dir, frame=False) | {"side": side})
            except Unreadable as e:
                skipped.append(f"{run_dir / e.path}: {e.why}")
    if len(runs) < 2:
        found = "no run" if not runs else "one run"
        raise UserError(f"PATH={' '.join(paths)!r}: {found} can be read; compare needs two or more"
                        + (f" (skipped {skipped[0]}{' and more' if len(skipped) > 1 else ''})" if skipped else ""))
    _name(runs)
    every = [settings(r) for r in runs]
    keys = [k for k in dict.fromkeys(k for s in every for k in s) if len({s.get(k, MISSING) for s in every}) > 1]
    metrics = list(dict.fromkeys(k for r in runs for k in metric_values(r["summary"])))
    if metric and all(monitored(r["summary"], metric) is None for r in runs):
        valid = sorted({k.removeprefix("best_").removesuffix("_mean") for k in metrics
                        if k.startswith(("test_", "best_val_"))})
        raise UserError(f"--metric {metric!r}: no run has it; valid metrics: {', '.join(valid)}")
    metric = metric or next((r["summary"]["monitor"] for r in runs if isinstance(r["summary"].get("monitor"), str)),
                            None)
    cmp = Comparison(runs, skipped, keys, metrics, metric)
    cmp.groups = seed_verdicts(runs, every, keys, metric, several_sides=len(sides) > 1)
    cmp.provenance = provenance_lines(runs)
    return cmp


def _name(runs: list[dict]) -> None:
    """A, B, C, D for a few runs; else the folder path below the runs' common folder."""
    if len(runs) <= VERTICAL_MAX:
        for run, name in zip(runs, "ABCD"):
            run["name"] = name
        return
    parts = [r["dir"].resolve().parts for r in runs]
    common = next((i for i in range(min(map(len, parts))) if len({p[i] for p in parts}) > 1), 0)
    for run, p in zip(runs, parts):
        run["name"] = "/".join(p[common:]) or p[-1]


def seed_verdicts(runs: list[dict], every: list[dict], keys: list[str], metric: str | None,
                  several_sides: bool) -> list[dict]:
    """noise.verdicts of the runs grouped by their settings without the seed keys (and by PATH when several
    were given); [] when no group has two runs."""
    shown = [k for k in keys if not noise.seed_key(k) and not k.startswith("hydra")]
    labels = [(f"PATH {r['side'] + 1} " if several_sides else "") + " ".join(f"{k}={s[k]}" for k in shown if k in s)
              for r, s in zip(runs, every)]                 # every setting: the label is the group's identity
    labels = [label.strip() or "(defaults)" for label in labels]
    seeds = [s.get("seed") for s in every]
    groups = noise.seed_groups(labels, [monitored(r["summary"], metric) for r in runs], seeds)
    if not any(len(g.values) > 1 for g in groups):
        return []
    return noise.verdicts(groups, higher=higher_is_better(str(metric)) is not False)


def provenance_lines(runs: list[dict]) -> list[tuple[str, list[str]]]:
    """Each provenance difference of a run from the first, with the names of the runs it holds for."""
    first = provenance.of(runs[0]["summary"])
    found: dict[str, list[str]] = {}
    for run in runs[1:]:
        names = ("A", "B") if len(runs) == 2 else ("the first run", "this run")
        for line in provenance.differences(first, provenance.of(run["summary"]), names):
            found.setdefault(line, []).append(run["name"])
    return list(found.items())


def curves(cmp: Comparison) -> dict[str, str]:
    """{file name: SVG} — one chart per metrics.csv column (train_loss, val_acc, ...), every run overlaid."""
    columns = dict.fromkeys(c for r in cmp.runs if r["metrics"] is not None for c in r["metrics"] if c not in CURVE_SKIP)
    out = {}
    for column in columns:
        series = [(r["name"], list(r["metrics"]["epoch"]), list(r["metrics"][column])) for r in cmp.runs
                  if r["metrics"] is not None and column in r["metrics"]]
        chart = svg.lines(series, column, "epoch", column)
        if chart is not None:
            out[f"curve_{column}.svg"] = chart
    return out


def delta(a, b) -> str:
    if not (is_number(a) and is_number(b)) or math.isnan(a) or math.isnan(b):
        return ""
    return f"{b - a:+.4g}"
