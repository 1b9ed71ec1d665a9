"""`mlrun report PATH... [--filter KEY=VALUE]... [--sort COLUMN] [--out DIR] [--no-plots] [--wide]`

    mlrun report outputs/multirun/2026-11-21/10-00-00        # a sweep: one row per job
    mlrun report outputs/ --filter model=mlp --sort val_acc   # every run under outputs/, best first
    mlrun report outputs/2026-11-21/10-00-00 outputs/2026-11-21/10-05-00 --out cmp/

PATH is a run folder, a sweep folder or any folder above them (runs are the folders with summary.json, or
error.txt for a failed job). The table holds the settings that differ between the runs (overrides and config
group choices), the best val metric, val and train loss at that epoch, the test metrics, best epoch, epochs, seconds,
samples/s, device, a published reference when the summary has one, and the error of failed runs. Rows come in
folder order with numbers compared as numbers (job 2 before job 10), or by --sort.

Printed, the table fits the terminal (120 columns when output is not a terminal): values shared by every run and a
shared published reference are said once above it (different references: a [n] mark per row, listed below),
long text is cut, and the least important columns are left out, named below the table. --wide prints every
column in full. <out>/runs.csv and <out>/runs.md always hold every column; <out> is PATH/report (one PATH),
./report (several) or --out DIR. The files are written all or nothing: where <out> cannot be written the table
is still printed, then one line says so (exit 1) and suggests --out.
Plots (PNG, matplotlib, headless): curves.png (train loss and val metric vs epoch and vs wall time, all runs
overlaid; the legend beside the panels, best first: past 10 runs the others are grey under one entry) and, for a
sweep over one or two settings, <metric>_vs_<setting>.png (points joined for numbers or side by side for names,
the metric axis zoomed to the data, not from 0; or a heatmap; seeds are averaged, error bars = their std).

--filter KEY=VALUE keeps runs whose column, config group (model=mlp) or config key (optimizer.lr=0.1) has that
value (repeatable). --sort COLUMN orders the table, best first for metrics (acc, r2 high; loss, rmse low).
Full guide: docs/sweeps.md.
"""

from __future__ import annotations

import contextlib
import json
import math
import numbers
import os
import re
import sys
from pathlib import Path

from mlrun.config.compose import flatten
from mlrun.errors import UserError

SKIP_GROUPS = ("hydra", "hydra/", "device")     # choice groups never shown as settings (device is its own column)
REPLICATE = "seed"                              # a setting averaged over in the metric-vs-setting plot


# ---- collect -------------------------------------------------------------------------------------------------

def find_runs(paths: list[str]) -> list[Path]:
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


def load_run(run_dir: Path) -> dict:
    import yaml

    def read_yaml(name):
        try:
            return yaml.safe_load((run_dir / ".hydra" / name).read_text()) or {}
        except (OSError, yaml.YAMLError):
            return {}

    overrides = {}
    for item in read_yaml("overrides.yaml") or []:
        key, _, value = str(item).lstrip("+~").partition("=")
        overrides[key] = value
    choices = {k: str(v) for k, v in ((read_yaml("hydra.yaml").get("hydra") or {}).get("runtime") or {})
               .get("choices", {}).items() if not k.startswith(SKIP_GROUPS)}
    try:
        summary = json.loads((run_dir / "summary.json").read_text())
    except (OSError, ValueError):
        summary = {}
    error = (run_dir / "error.txt").read_text().strip() if (run_dir / "error.txt").exists() else ""
    return {"dir": run_dir, "overrides": overrides, "choices": choices, "config": flatten(read_yaml("config.yaml") or {}),
            "summary": summary, "metrics": _read_metrics(run_dir / "metrics.csv"), "error": error}


def _read_metrics(path: Path):
    import pandas as pd

    try:
        return pd.read_csv(path)
    except (OSError, ValueError):
        return None




def setting(run: dict, key: str):
    """A run's value of `key`: its override, else its config group choice, else its config value."""
    for table in (run["overrides"], run["choices"], run["config"]):
        if key in table:
            return table[key]
    return None


# ---- the table ------------------------------------------------------------------------------------------------

def differing(runs: list[dict]) -> list[str]:
    """Override keys and config groups whose value is not the same in every run, in first-seen order."""
    keys = dict.fromkeys(k for run in runs for k in [*run["overrides"], *run["choices"]] if not k.startswith("hydra"))
    return [k for k in keys if len({str(setting(r, k)) for r in runs}) > 1]


def row(run: dict, keys: list[str], root: Path) -> dict:
    s, m = run["summary"], run["metrics"]
    monitor = s.get("monitor")
    out = {"run": _relative(run["dir"], root)}
    out |= {k: _value(setting(run, k)) for k in keys}
    out["status"] = "failed" if run["error"] or not s else "ok"
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
    from mlrun.metrics.tasks import HIGHER_IS_BETTER

    return HIGHER_IS_BETTER.get(column.removeprefix("val_").removeprefix("test_"))


def natural_key(text) -> tuple:
    """Sort key that orders the numbers inside text by value: job 2 before job 10, 2026-11-9 before 2026-11-10."""
    parts = re.split(r"(\d+)", str(text))
    return tuple(int(t) if i % 2 else t for i, t in enumerate(parts))     # odd positions are the digit runs


def _number(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)      # numpy scalars too


def _missing(v) -> bool:
    return v is None or (isinstance(v, str) and v == "") or (_number(v) and math.isnan(v))


def _order(values: list, descending: bool) -> list[int]:
    """Positions of `values` sorted: numbers by value, text naturally, numbers before text; blanks always last."""
    def key(i):
        v = values[i]
        return (0, float(v), ()) if _number(v) else (1, 0.0, natural_key(v))

    present = sorted((i for i, v in enumerate(values) if not _missing(v)), key=key, reverse=descending)  # stable
    return present + [i for i, v in enumerate(values) if _missing(v)]


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
    cells = [[str(c) for c in df.columns]] + [[_cell(v) for v in r] for r in df.itertuples(index=False)]
    lines = ["| " + " | ".join(r) + " |" for r in cells]
    lines.insert(1, "|" + "|".join("---" for _ in df.columns) + "|")
    return "\n".join(lines) + "\n"


def _cell(v) -> str:
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:.4g}"
    return str(v).replace("|", "\\|")


# ---- the printed table ------------------------------------------------------------------------------------------

WIDTH = 120                 # characters: the printed table fits a terminal this wide (--wide: no limit)
TEXT_MAX = 32               # characters of a text cell in the printed table (runs.csv keeps the whole text)
REF_IDENTITY = ("ref_model", "ref_published_test_error", "ref_source", "ref_note", "reference")  # what a ref is
REF_HIDDEN = ("ref_family", "ref_match", "ref_units", "ref_test_error")   # runs.csv only (test_error = 100·(1−acc))


def _text(v) -> str:
    if _missing(v):
        return ""
    if _number(v):
        return str(int(v)) if isinstance(v, numbers.Integral) else f"{float(v):.4g}"
    return " ".join(str(v).split())


def _cut(text: str, limit: int, keep_end: bool = False) -> str:
    if len(text) <= limit:
        return text
    return "…" + text[-(limit - 1):] if keep_end else text[:limit - 1] + "…"


def _rank(column: str, keys: list[str], monitor: str | None) -> int:
    """How much a column matters in the printed table: columns are taken by rank (lowest first) while they fit."""
    fixed = {"run": 0, monitor: 1, "status": 2, "test_" + (monitor or "").removeprefix("val_"): 3, "error": 5,
             "ref": 7, "ref_difference": 7, "val_loss": 8, "train_loss": 8, "best_epoch": 9, "epochs": 9,
             "seconds": 10, "samples_per_s": 11, "device": 12}
    if column in fixed:
        return fixed[column]
    if column in keys:
        return 4                        # the settings that differ, in their order, as many as fit
    return 6 if column.startswith(("val_", "test_")) else 13


def _references(df) -> tuple[list[str], list[str]]:
    """Each row's reference as one line of text ("" for none) and the distinct texts in first-seen order."""
    texts = []
    for _, r in df.iterrows():
        get = {c: _text(r[c]) for c in REF_IDENTITY if c in df.columns}
        if get.get("ref_model"):
            text = f"{get['ref_model']}: {get.get('ref_published_test_error', '?')} % test error"
            text += f" ({get['ref_source']})" if get.get("ref_source") else ""
            text += f"; note: {get['ref_note']}" if get.get("ref_note") else ""
        else:
            text = get.get("reference", "")
        texts.append(text)
    return texts, list(dict.fromkeys(t for t in texts if t))


def _wrap(text: str, width: int, indent: str = "  ") -> list[str]:
    import textwrap

    return textwrap.wrap(text, width, subsequent_indent=indent, break_on_hyphens=False) or [""]


def compact(df, keys: list[str] = (), width: int | None = WIDTH) -> str:
    """The table as printed: at most `width` characters a line (None: no limit, every column).

    Values shared by every run are said once above the table, the published reference once when the runs share
    it (else a [n] mark per row and the references below), long text is cut with "…", and when the columns still
    do not fit, the least important ones (speed, device, epochs, losses, ...) are left out and named below.
    runs.csv keeps every column in full."""
    if df.empty:
        return "(no runs)"
    if width is None:
        import pandas as pd

        with pd.option_context("display.max_columns", None, "display.expand_frame_repr", False,
                               "display.max_colwidth", None):
            return df.to_string(index=False, float_format=lambda v: f"{v:.4g}", na_rep="")
    keys, monitor = list(keys), monitor_column(df)
    refs, distinct = _references(df)
    df = df.drop(columns=[c for c in (*REF_IDENTITY, *REF_HIDDEN) if c in df.columns])
    if len(distinct) > 1:                              # runs compared with different references: [n] marks
        at = list(df.columns).index("ref_difference") if "ref_difference" in df.columns else len(df.columns)
        df.insert(at, "ref", [f"[{distinct.index(t) + 1}]" if t else "" for t in refs])
    cells = {c: [_text(v) for v in df[c]] for c in df.columns}
    cells = {c: v for c, v in cells.items() if any(v)}                  # no empty columns
    if len(df) == 1:                                                     # one run: a column per line
        name_w = max(map(len, cells))
        lines = [f"{c:<{name_w}}  {_cut(v[0], max(width - name_w - 2, 8))}" for c, v in cells.items()]
        return "\n".join(_reference_lines(distinct, "ref_difference" in cells, width) + lines)
    shared = {c: v[0] for c, v in cells.items() if c != "run" and len(set(v)) == 1}
    columns = [c for c in cells if c not in shared]
    numeric = {c: all(_number(v) for v in df[c] if not _missing(v)) for c in columns}
    chosen: dict[str, list[str]] = {}
    used = -2                                        # two spaces between columns
    for c in sorted(columns, key=lambda c: _rank(c, keys, monitor)):        # stable: settings in their order
        shown = [_cut(v, 2 * TEXT_MAX if c == "error" else TEXT_MAX, keep_end=c == "run") for v in cells[c]]
        room = width - used - 2
        if max(len(c), *map(len, shown)) > room and not numeric[c] and room >= max(len(c), 12):
            shown = [_cut(v, room, keep_end=c == "run") for v in shown]      # text cut to the room left
        if max(len(c), *map(len, shown)) <= room or not chosen:
            chosen[c] = shown
            used += max(len(c), *map(len, shown)) + 2
    columns = [c for c in columns if c in chosen]                           # in the table's own order
    shown = [chosen[c] for c in columns]
    widths = [max(len(c), *map(len, vs)) for c, vs in zip(columns, shown)]
    lines = ["  ".join(c.rjust(w) if numeric[c] else c.ljust(w) for c, w in zip(columns, widths)).rstrip()]
    lines += ["  ".join(vs[i].rjust(w) if numeric[c] else vs[i].ljust(w) for c, vs, w in zip(columns, shown, widths))
              .rstrip() for i in range(len(df))]
    head = _wrap("shared by all runs: " + "  ".join(f"{c}={_cut(v, 60)}" for c, v in shared.items()), width) \
        if shared else []
    hidden = [c for c in cells if c not in shared and c not in columns]
    foot = _wrap(f"not shown to fit {width} columns: {', '.join(hidden)} (--wide prints every column; runs.csv "
                 f"has them all)", width) if hidden else []
    if "error" in hidden:                           # the errors did not fit as a column: one line per failed run
        failed = [(r, e) for r, e in zip(cells["run"] if "run" in cells else [""] * len(df), cells["error"]) if e]
        foot = [_cut(f"{r} failed: {e}", width) for r, e in failed[:10]] + \
            ([f"... and {len(failed) - 10} more failed runs"] if len(failed) > 10 else []) + foot
    refs = _reference_lines(distinct, "ref_difference" in columns or "ref_difference" in shared, width)
    return "\n".join((refs + head + lines if len(distinct) == 1 else head + lines + refs) + foot)


def _reference_lines(distinct: list[str], difference: bool, width: int) -> list[str]:
    """The published reference once (shared by the runs), or each one after its [n] mark."""
    if len(distinct) == 1:
        return _wrap(f"reference: {distinct[0]}" + ("; ref_difference = the run's test error − that, in points"
                                                    if difference else ""), width)
    lines = [line for i, t in enumerate(distinct, 1) for line in _wrap(f"[{i}] {t}", width, "    ")]
    return lines + (_wrap("ref_difference = the run's test error − its reference's, in points", width)
                    if difference and lines else [])


def terminal_width() -> int:
    """The terminal's width ($COLUMNS or the tty), WIDTH when output is not a terminal; at least 60."""
    import shutil

    return max(60, shutil.get_terminal_size((WIDTH, 24)).columns)


def sweep_table(sweep_dir: Path, width: int | None = WIDTH) -> str:
    """The compact table of a sweep's jobs, best first (printed when `mlrun train -m` ends); "" without runs."""
    try:
        runs = [load_run(d) for d in find_runs([str(sweep_dir)])]
    except UserError:
        return ""
    df, keys = build_table(runs, Path(sweep_dir).resolve())
    df, _ = best_first(df, runs)
    return compact(df, keys, width)


# ---- plots ----------------------------------------------------------------------------------------------------

def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


TOP = 10                    # runs with their own colour and legend entry in curves.png; the others are grey


def _best(run: dict):
    """(rank key, has a value) of a run by its best monitored val metric: lower keys are better."""
    s = run["summary"]
    value = s.get(f"best_{s.get('monitor')}")
    if not _number(value) or math.isnan(value):
        return (1, 0.0)
    maximize = s.get("mode") == "max" if s.get("mode") in ("max", "min") else \
        higher_is_better(str(s.get("monitor"))) is not False
    return (0, -value if maximize else value)


def curves_figure(runs: list[dict], labels: list[str]):
    """train loss and val metric vs epoch (top) and vs cumulative wall time (bottom), every run overlaid; None when
    no run has metrics. The legend sits right of the panels, best run first; past TOP runs only the best TOP get a
    colour and an entry, the rest are thin grey lines under one "others" entry."""
    done = [(r, lab) for r, lab in zip(runs, labels) if r["metrics"] is not None and len(r["metrics"])]
    if not done:
        return None
    plt = _pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(12, 8), squeeze=False)
    metrics = sorted({r["summary"].get("monitor", "") for r, _ in done} - {""})
    ranked = sorted(range(len(done)), key=lambda i: _best(done[i][0]))           # best first (stable)
    top = ranked[:TOP]
    palette = plt.get_cmap("tab10").colors
    handles = {}
    for i in [*ranked[TOP:], *reversed(top)]:          # grey first, then the colours; the best is drawn last
        run = done[i][0]
        if i in top:
            style = {"color": palette[top.index(i) % len(palette)], "marker": ".", "linewidth": 1.5, "zorder": 3}
        else:
            style = {"color": "0.6", "linewidth": 0.8, "alpha": 0.6, "zorder": 2}
        m = run["metrics"]
        monitor = run["summary"].get("monitor") or next((c for c in m.columns if c.startswith("val_")
                                                         and c != "val_loss"), None)
        wall = m["epoch_seconds"].cumsum() if "epoch_seconds" in m else m["epoch"]
        for row_, x in enumerate((m["epoch"], wall)):
            (line,) = axes[row_][0].plot(x, m["train_loss"], **style)
            if monitor in m:
                axes[row_][1].plot(x, m[monitor], **style)
        handles.setdefault(i if i in top else "others", line)
    limits = _robust_limits([v for r, _ in done for c in metrics if c in r["metrics"] for v in r["metrics"][c]],
                            higher_is_better(metrics[0]) if len(metrics) == 1 else None)
    for row_, xlabel in enumerate(("epoch", "wall time (s, cumulative epoch time)")):
        axes[row_][0].set(xlabel=xlabel, ylabel="train loss", yscale="log")
        axes[row_][1].set(xlabel=xlabel, ylabel=" / ".join(metrics) or "val metric", ylim=limits)
        for ax in axes[row_]:
            ax.grid(alpha=0.3)
            if row_ == 0:
                ax.xaxis.get_major_locator().set_params(integer=True)
    entries = [(handles[i], _cut(done[i][1], 40)) for i in top]
    if len(done) > TOP:
        entries.append((handles["others"], f"others ({len(done) - TOP} runs)"))
    title = "best first" if len(done) <= TOP else f"best {TOP} of {len(done)}"
    fig.suptitle(f"learning curves ({len(done)} runs)")
    fig.tight_layout()
    fig.legend(*zip(*entries), loc="upper left", bbox_to_anchor=(1.0, 0.95), fontsize=8, title=title,
               title_fontsize=8, frameon=False)
    return fig


def plot_curves(runs: list[dict], labels: list[str], path: Path) -> Path | None:
    fig = curves_figure(runs, labels)
    return None if fig is None else _save(fig, path)


def _save(fig, path: Path) -> Path:
    """Write the figure (PNG) and close it; bbox 'tight' takes in the legend beside the panels."""
    try:
        fig.savefig(path, dpi=110, format="png", bbox_inches="tight")
    finally:
        _pyplot().close(fig)
    return path


def _robust_limits(values: list[float], higher_better: bool | None):
    """y-limits that keep a diverged run (r2 = -1e30) from flattening every other curve; None = automatic."""
    import numpy as np

    v = np.asarray([x for x in values if np.isfinite(x)], dtype=float)
    if v.size < 4 or higher_better is None:
        return None
    q1, q3 = np.percentile(v, [25, 75])
    if v.max() - v.min() <= 100 * (q3 - q1):       # no extreme values: automatic limits
        return None
    fence = 10 * (q3 - q1)                         # values beyond it are off the chart (they stay in the table)
    lo, hi = (max(v.min(), q1 - fence), v.max()) if higher_better else (v.min(), min(v.max(), q3 + fence))
    if hi <= lo or (lo == v.min() and hi == v.max()):
        return None
    pad = 0.05 * (hi - lo)
    return (lo - pad, hi + pad)


def _zoom(values: list[float], higher_better: bool | None):
    """y-limits around the data with a 10 % margin, never forced to 0 (0.955 and 0.985 must look different);
    kept inside [0, 1] when every value is; outlier-robust when one run diverged. None without finite values."""
    import numpy as np

    v = np.asarray([x for x in values if np.isfinite(x)], dtype=float)
    if not v.size:
        return None
    robust = _robust_limits(list(v), higher_better)
    if robust:
        return robust
    lo, hi = float(v.min()), float(v.max())
    pad = 0.1 * (hi - lo) if hi > lo else 0.05 * max(abs(hi), 1e-3)
    if 0 <= lo and hi <= 1:
        return (max(lo - pad, 0.0), min(hi + pad, 1.0))
    return (lo - pad, hi + pad)


def vs_settings_figure(df, keys: list[str]):
    """(figure, file name) of the monitored metric vs the one or two settings swept (seeds averaged); None for 0
    or > 2 settings. One setting: points with the seeds' std as error bars, joined by a line when the setting is a
    number (log axis over ≥ 2 decades); the metric axis is zoomed to the data. Two settings: a heatmap."""
    dims = [k for k in keys if k != REPLICATE]
    ok = df[df["status"] == "ok"]
    metric = monitor_column(ok)
    if metric is None or not 1 <= len(dims) <= 2 or ok.empty:
        return None
    test = "test_" + metric.removeprefix("val_")
    plt = _pyplot()
    name = f"{metric}_vs_{'_'.join(d.replace('/', '-') for d in dims)}.png"
    if len(dims) == 1:
        key = dims[0]
        panels = [[c for c in (metric, test) if c in ok], [c for c in ("train_loss", "val_loss") if c in ok]]
        panels = [cols for cols in panels if cols]              # metric; losses at the best epoch (their gap)
        stats = ok.groupby(key, sort=True)[[c for cols in panels for c in cols]].agg(["mean", "std"])
        numeric = all(_number(v) for v in stats.index)
        if not numeric:                                         # text settings in natural order
            stats = stats.iloc[sorted(range(len(stats)), key=lambda i: natural_key(stats.index[i]))]
        fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 4.5), squeeze=False)
        x = list(stats.index) if numeric else list(range(len(stats)))
        for ax, cols in zip(axes[0], panels):
            shown = []
            for i, col in enumerate(cols):
                mean, std = stats[col]["mean"], stats[col]["std"].fillna(0)
                std = std if std.any() else None             # error bars only when seeds were averaged
                at = x if numeric else [p + (i - (len(cols) - 1) / 2) * 0.15 for p in x]   # side by side
                ax.errorbar(at, mean, yerr=std, marker="o", capsize=3, label=col,
                            linestyle="-" if numeric else "none")
                shown += list(mean - (0 if std is None else std)) + list(mean + (0 if std is None else std))
            positive = [v for v in x if v > 0] if numeric else []
            if positive and max(positive) / min(positive) >= 100:      # values over decades: log axis
                ax.set_xscale("log") if len(positive) == len(x) else ax.set_xscale("symlog",
                                                                                   linthresh=min(positive))
            if not numeric:
                ax.set_xticks(x, [str(v) for v in stats.index], rotation=30 if len(x) > 4 else 0)
                ax.set_xlim(-0.5, len(x) - 0.5)
            if cols[0] == metric:
                ax.set(xlabel=key, ylabel=metric.removeprefix("val_"), ylim=_zoom(shown, higher_is_better(metric)))
            else:
                values = [v for c in cols for v in ok[c]]
                positive = min(values) > 0 and max(values) / min(values) >= 100
                ax.set(xlabel=key, ylabel="loss", yscale="log" if positive else "linear")
            ax.grid(alpha=0.3)
            ax.legend()
        fig.suptitle(f"{metric} and losses at the best epoch vs {key} ({len(ok)} runs)")
    else:
        import numpy as np

        grid = ok.pivot_table(index=dims[0], columns=dims[1], values=metric, aggfunc="mean")
        fig, ax = plt.subplots(figsize=(1.3 * grid.shape[1] + 3, 0.6 * grid.shape[0] + 2.5))
        image = ax.imshow(grid.values, cmap="viridis" if higher_is_better(metric) is not False else "viridis_r",
                          aspect="auto")
        ax.set_xticks(range(grid.shape[1]), [str(c) for c in grid.columns])
        ax.set_yticks(range(grid.shape[0]), [str(i) for i in grid.index])
        for (i, j), v in np.ndenumerate(grid.values):
            if not np.isnan(v):
                r, g, b, _ = image.cmap(image.norm(v))
                ax.text(j, i, f"{v:.3g}", ha="center", va="center", fontsize=8,
                        color="k" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "w")   # legible on any cell
        ax.set(xlabel=dims[1], ylabel=dims[0], title=metric + (" (mean over seeds)" if REPLICATE in keys else ""))
        fig.colorbar(image, ax=ax)
    fig.tight_layout()
    return fig, name


def plot_vs_settings(df, keys: list[str], out: Path) -> Path | None:
    made = vs_settings_figure(df, keys)
    return None if made is None else _save(made[0], out / made[1])


# ---- the command ----------------------------------------------------------------------------------------------

def table(paths: list[str], filters: list[str] = (), sort: str | None = None) -> tuple:
    """(table, runs, swept keys) of the runs under `paths`: rows in natural folder order (job 2 before job 10),
    or sorted by `sort`, best first for metrics."""

    runs = [load_run(d) for d in find_runs(paths)]
    root = Path(os.path.commonpath([str(Path(p).resolve()) for p in paths]))
    root = root if root.is_dir() else root.parent
    df, keys = build_table(runs, root)
    for item in filters:
        df, runs = apply_filter(df, runs, item)
    if sort:
        df, runs = sort_table(df, runs, sort)
    return df, runs, keys


def default_out(paths: list[str]) -> Path:
    return Path(paths[0]) / "report" if len(paths) == 1 else Path("report")


def write(df, runs: list[dict], keys: list[str], out_dir: Path, plots: bool = True) -> list[Path]:
    """runs.csv, runs.md and the plots in `out_dir`. All or nothing: each file is written beside its final name
    and renamed once every file is done; on an OSError the new files (and folders) are removed and it re-raises."""
    import importlib.util

    made_dirs = [p for p in (out_dir, *out_dir.parents) if not p.exists()]       # deepest first
    temps: list[tuple[Path, Path]] = []

    def temp(path: Path) -> Path:
        temps.append((path.with_name(f".{path.name}.part"), path))
        return temps[-1][0]

    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        df.to_csv(temp(out_dir / "runs.csv"), index=False)
        temp(out_dir / "runs.md").write_text(markdown(df))
        if plots and importlib.util.find_spec("matplotlib") is None:
            print("plots skipped: matplotlib is not installed; pip install 'mlrun-classic[plot]'", file=sys.stderr)
            plots = False
        if plots:
            keys = [k for k in keys if k in df.columns and df[k].nunique() > 1]   # still differing after filters
            labels = [" ".join(f"{k}={_cell(r[k])}" for k in keys) or r["run"] for _, r in df.iterrows()]
            fig = curves_figure(runs, labels)
            if fig is not None:
                _save(fig, temp(out_dir / "curves.png"))
            made = vs_settings_figure(df, keys)
            if made is not None:
                _save(made[0], temp(out_dir / made[1]))
        for part, final in temps:
            os.replace(part, final)
    except OSError:
        for part, _ in temps:
            with contextlib.suppress(OSError):
                part.unlink()
        for d in made_dirs:
            with contextlib.suppress(OSError):
                d.rmdir()
        raise
    return [final for _, final in temps]


def report(paths: list[str], filters: list[str] = (), sort: str | None = None, out: str | None = None,
           plots: bool = True) -> tuple:
    """Build, write and return (table, written files)."""
    df, runs, keys = table(paths, filters, sort)
    return df, write(df, runs, keys, Path(out) if out else default_out(paths), plots)
