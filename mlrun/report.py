"""`mlrun report PATH... [--filter KEY=VALUE]... [--sort COLUMN] [--out DIR] [--no-plots]`

    mlrun report outputs/multirun/2026-11-21/10-00-00        # a sweep: one row per job
    mlrun report outputs/ --filter model=mlp --sort val_acc   # every run under outputs/, best first
    mlrun report outputs/2026-11-21/10-00-00 outputs/2026-11-21/10-05-00 --out cmp/

PATH is a run folder, a sweep folder or any folder above them (runs are the folders with summary.json, or
error.txt for a failed job). The table holds the settings that differ between the runs (overrides and config
group choices), the best val metric, val and train loss at that epoch, the test metrics, best epoch, epochs, seconds,
samples/s, device, a published reference when the summary has one, and the error of failed runs. It is printed
and written to <out>/runs.csv and <out>/runs.md; <out> is PATH/report (one PATH) or ./report (several).
Plots (PNG, matplotlib, headless): curves.png (train loss and val metric vs epoch and vs wall time, all runs
overlaid) and, for a sweep over one or two settings, <metric>_vs_<setting>.png (line/bars or heatmap; seeds are
averaged, the error bars are their standard deviation).

--filter KEY=VALUE keeps runs whose column, config group (model=mlp) or config key (optimizer.lr=0.1) has that
value (repeatable). --sort COLUMN orders the table, best first for metrics (acc, r2 high; loss, rmse low).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

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
        runs += sorted(found - set(runs))
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
    return {"dir": run_dir, "overrides": overrides, "choices": choices, "config": _flatten(read_yaml("config.yaml")),
            "summary": summary, "metrics": _read_metrics(run_dir / "metrics.csv"), "error": error}


def _read_metrics(path: Path):
    import pandas as pd

    try:
        return pd.read_csv(path)
    except (OSError, ValueError):
        return None


def _flatten(tree, prefix=""):
    out = {}
    for k, v in (tree or {}).items():
        if isinstance(v, dict):
            out |= _flatten(v, f"{prefix}{k}.")
        else:
            out[f"{prefix}{k}"] = v
    return out


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
        return str(path.resolve().relative_to(root)) or "."
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
    from mlrun.metrics import HIGHER_IS_BETTER

    return HIGHER_IS_BETTER.get(column.removeprefix("val_").removeprefix("test_"))


def sort_table(df, runs: list[dict], column: str):
    if column not in df.columns:
        raise UserError(f"--sort {column!r}: no such column; valid columns: {', '.join(df.columns)}")
    descending = bool(higher_is_better(column))
    order = df[column].sort_values(ascending=not descending, na_position="last", kind="stable").index
    return df.loc[order].reset_index(drop=True), [runs[i] for i in order]


def markdown(df) -> str:
    cells = [[str(c) for c in df.columns]] + [[_cell(v) for v in r] for r in df.itertuples(index=False)]
    lines = ["| " + " | ".join(r) + " |" for r in cells]
    lines.insert(1, "|" + "|".join("---" for _ in df.columns) + "|")
    return "\n".join(lines) + "\n"


def _cell(v) -> str:
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:.4g}"
    return str(v).replace("|", "\\|")


# ---- plots ----------------------------------------------------------------------------------------------------

def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_curves(runs: list[dict], labels: list[str], path: Path) -> Path | None:
    """train loss and val metric vs epoch (top) and vs cumulative wall time (bottom), every run overlaid."""
    done = [(r, lab) for r, lab in zip(runs, labels) if r["metrics"] is not None and len(r["metrics"])]
    if not done:
        return None
    plt = _pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(12, 8), squeeze=False)
    metrics = sorted({r["summary"].get("monitor", "") for r, _ in done} - {""})
    palette = plt.get_cmap("tab10" if len(done) <= 10 else "tab20").colors
    for i, (run, label) in enumerate(done):        # 20 colours, then the same colours dashed, dotted, ...
        style = {"color": palette[i % len(palette)], "linestyle": ("-", "--", ":", "-.")[i // len(palette) % 4]}
        m = run["metrics"]
        monitor = run["summary"].get("monitor") or next((c for c in m.columns if c.startswith("val_")
                                                         and c != "val_loss"), None)
        wall = m["epoch_seconds"].cumsum() if "epoch_seconds" in m else m["epoch"]
        for row_, x in enumerate((m["epoch"], wall)):
            axes[row_][0].plot(x, m["train_loss"], marker=".", label=label, **style)
            if monitor in m:
                axes[row_][1].plot(x, m[monitor], marker=".", label=label, **style)
    limits = _robust_limits([v for r, _ in done for c in metrics if c in r["metrics"] for v in r["metrics"][c]],
                            higher_is_better(metrics[0]) if len(metrics) == 1 else None)
    for row_, xlabel in enumerate(("epoch", "wall time (s, cumulative epoch time)")):
        axes[row_][0].set(xlabel=xlabel, ylabel="train loss", yscale="log")
        axes[row_][1].set(xlabel=xlabel, ylabel=" / ".join(metrics) or "val metric", ylim=limits)
        for ax in axes[row_]:
            ax.grid(alpha=0.3)
            if row_ == 0:
                ax.xaxis.get_major_locator().set_params(integer=True)
    if len(done) <= 30:
        axes[0][1].legend(fontsize=8 if len(done) <= 10 else 6, loc="best")
    fig.suptitle(f"learning curves ({len(done)} runs)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
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


def plot_vs_settings(df, keys: list[str], out: Path) -> Path | None:
    """Monitored metric vs the one or two settings swept (seeds averaged); None for 0 or > 2 settings."""
    dims = [k for k in keys if k != REPLICATE]
    ok = df[df["status"] == "ok"]
    metric = next((c for c in ok.columns if c.startswith("val_") and c != "val_loss"), None)
    if metric is None or not 1 <= len(dims) <= 2 or ok.empty:
        return None
    test = "test_" + metric.removeprefix("val_")
    plt = _pyplot()
    safe = "_".join(d.replace("/", "-") for d in dims)
    path = out / f"{metric}_vs_{safe}.png"
    if len(dims) == 1:
        key = dims[0]
        panels = [[c for c in (metric, test) if c in ok], [c for c in ("train_loss", "val_loss") if c in ok]]
        panels = [cols for cols in panels if cols]              # metric; losses at the best epoch (their gap)
        stats = ok.groupby(key, sort=True)[[c for cols in panels for c in cols]].agg(["mean", "std"])
        fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 4.5), squeeze=False)
        numeric = all(isinstance(v, (int, float)) for v in stats.index)
        x = list(stats.index) if numeric else list(range(len(stats)))
        for ax, cols in zip(axes[0], panels):
            for i, col in enumerate(cols):
                mean, std = stats[col]["mean"], stats[col]["std"].fillna(0)
                std = std if std.any() else None             # error bars only when seeds were averaged
                if numeric:
                    ax.errorbar(x, mean, yerr=std, marker="o", capsize=3, label=col)
                else:
                    width = 0.8 / len(cols)
                    ax.bar([p + (i - (len(cols) - 1) / 2) * width for p in x], mean, width, yerr=std, capsize=3,
                           label=col)
            positive = [v for v in x if v > 0] if numeric else []
            if positive and max(positive) / min(positive) >= 100:      # values over decades: log axis
                ax.set_xscale("log") if len(positive) == len(x) else ax.set_xscale("symlog",
                                                                                   linthresh=min(positive))
            if not numeric:
                ax.set_xticks(x, [str(v) for v in stats.index], rotation=30 if len(x) > 4 else 0)
            values = [v for c in cols for v in ok[c]]
            if cols[0] == metric:
                ax.set(xlabel=key, ylabel=metric.removeprefix("val_"),
                       ylim=_robust_limits(values, higher_is_better(metric)) if numeric else None)
            else:
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
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# ---- the command ----------------------------------------------------------------------------------------------

def report(paths: list[str], filters: list[str] = (), sort: str | None = None, out: str | None = None,
           plots: bool = True) -> tuple:
    """Build, write and return (table, written files)."""
    import importlib.util
    import os

    dirs = find_runs(paths)
    runs = [load_run(d) for d in dirs]
    root = Path(os.path.commonpath([str(Path(p).resolve()) for p in paths]))
    root = root if root.is_dir() else root.parent
    df, keys = build_table(runs, root)
    for item in filters:
        df, runs = apply_filter(df, runs, item)
    if sort:
        df, runs = sort_table(df, runs, sort)
    out_dir = Path(out) if out else (Path(paths[0]) / "report" if len(paths) == 1 else Path("report"))
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / "runs.csv", out_dir / "runs.md"]
    df.to_csv(written[0], index=False)
    written[1].write_text(markdown(df))
    if plots and importlib.util.find_spec("matplotlib") is None:
        print("plots skipped: matplotlib is not installed; pip install 'mlrun-classic[plot]'", file=sys.stderr)
        plots = False
    if plots:
        keys = [k for k in keys if k in df.columns and df[k].nunique() > 1]     # still differing after filters
        labels = [" ".join(f"{k}={_cell(r[k])}" for k in keys) or r["run"] for _, r in df.iterrows()]
        written += [p for p in (plot_curves(runs, labels, out_dir / "curves.png"),
                                plot_vs_settings(df, keys, out_dir)) if p is not None]
    return df, written


def main(argv: list[str]) -> None:
    from mlrun.cli import fail

    if not argv or any(a in ("-h", "--help") for a in argv):
        print(__doc__.strip())
        return
    paths, filters, options = [], [], {"sort": None, "out": None}
    plots = True
    args = iter(argv)
    for a in args:
        name, eq, inline = a.partition("=")
        if name in ("--filter", "--sort", "--out"):
            value = inline if eq else next(args, None)
            if value is None:
                fail("mlrun report", f"{name} needs a value, e.g. {name} " +
                     {"--filter": "model=mlp", "--sort": "val_acc", "--out": "report/"}[name])
            if name == "--filter":
                filters.append(value)
            else:
                options[name[2:]] = value
        elif a == "--no-plots":
            plots = False
        elif a.startswith("-"):
            fail("mlrun report", f"unknown option {a!r}; valid options: --filter KEY=VALUE, --sort COLUMN, "
                                 f"--out DIR, --no-plots")
        else:
            paths.append(a)
    if not paths:
        fail("mlrun report", "give at least one PATH: a run folder, a sweep folder or outputs/")
    try:
        df, written = report(paths, filters, options["sort"], options["out"], plots)
    except UserError as e:
        fail("mlrun report", str(e))
    import pandas as pd

    with pd.option_context("display.max_columns", None, "display.width", 200, "display.max_colwidth", 60):
        print(df.to_string(index=False, float_format=lambda v: f"{v:.4g}", na_rep=""))
    print(f"\n{len(df)} runs; wrote " + ", ".join(str(p) for p in written))
    sys.stdout.flush()
