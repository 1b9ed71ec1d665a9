"""The report's plots (PNG, matplotlib on the headless Agg backend; the optional `[plot]` extra): learning curves
of every run, and the monitored metric vs the one or two settings a sweep varied."""

from __future__ import annotations

import math
from pathlib import Path

from mlrun.report.console import cut
from mlrun.report.table import higher_is_better, is_number, monitor_column
from mlrun.report.runs import natural_key

REPLICATE = "seed"          # a setting averaged over in the metric-vs-setting plot


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
    if not is_number(value) or math.isnan(value):
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
        if i in top:
            style = {"color": palette[top.index(i) % len(palette)], "marker": ".", "linewidth": 1.5, "zorder": 3}
        else:
            style = {"color": "0.6", "linewidth": 0.8, "alpha": 0.6, "zorder": 2}
        line = _draw_run(axes, done[i][0], style)
        if line is not None:
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
    entries = [(handles[i], cut(done[i][1], 40)) for i in top if i in handles]
    if "others" in handles:
        entries.append((handles["others"], f"others ({len(done) - TOP} runs)"))
    title = "best first" if len(done) <= TOP else f"best {TOP} of {len(done)}"
    fig.suptitle(f"learning curves ({len(done)} runs)")
    fig.tight_layout()
    fig.legend(*zip(*entries), loc="upper left", bbox_to_anchor=(1.0, 0.95), fontsize=8, title=title,
               title_fontsize=8, frameon=False)
    return fig


def _draw_run(axes, run: dict, style: dict):
    """One run's train loss (left) and monitored val metric (right) vs epoch (top row) and vs cumulative epoch
    time (bottom row); the last line drawn, for the legend (None when metrics.csv has neither column)."""
    m, line = run["metrics"], None
    monitor = run["summary"].get("monitor") or next((c for c in m.columns if c.startswith("val_")
                                                     and c != "val_loss"), None)
    wall = m["epoch_seconds"].cumsum() if "epoch_seconds" in m else m["epoch"]
    for row_, x in enumerate((m["epoch"], wall)):
        for col, name in enumerate(("train_loss", monitor)):
            if name in m:
                (line,) = axes[row_][col].plot(x, m[name], **style)
    return line


def save(fig, path: Path) -> Path:
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
    ok = df[df["status"].isin(["ok", "cached"])]          # cached: a finished run reused (pruned: cut short)
    metric = monitor_column(ok)
    if metric is None or not 1 <= len(dims) <= 2 or ok.empty:
        return None
    test = "test_" + metric.removeprefix("val_")
    plt = _pyplot()
    name = f"{metric}_vs_{'_'.join(d.replace('/', '-') for d in dims)}.png"
    if len(dims) == 1:
        fig = _one_setting_figure(plt, ok, dims[0], metric, test)
    else:
        fig = _heatmap(plt, ok, dims, metric, title=metric + (" (mean over seeds)" if REPLICATE in keys else ""))
    fig.tight_layout()
    return fig, name



def _one_setting_figure(plt, ok, key: str, metric: str, test: str):
    """Metric (val, test) and the losses at the best epoch vs one setting: a panel each, seeds averaged."""
    panels = [[c for c in (metric, test) if c in ok], [c for c in ("train_loss", "val_loss") if c in ok]]
    panels = [cols for cols in panels if cols]              # metric; losses at the best epoch (their gap)
    stats = ok.groupby(key, sort=True)[[c for cols in panels for c in cols]].agg(["mean", "std"])
    numeric = all(is_number(v) for v in stats.index)
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
            ax.errorbar(at, mean, yerr=std, marker="o", capsize=3, label=col, linestyle="-" if numeric else "none")
            shown += list(mean - (0 if std is None else std)) + list(mean + (0 if std is None else std))
        positive = [v for v in x if v > 0] if numeric else []
        if positive and max(positive) / min(positive) >= 100:      # values over decades: log axis
            ax.set_xscale("log") if len(positive) == len(x) else ax.set_xscale("symlog", linthresh=min(positive))
        if not numeric:
            ax.set_xticks(x, [str(v) for v in stats.index], rotation=30 if len(x) > 4 else 0)
            ax.set_xlim(-0.5, len(x) - 0.5)
        if cols[0] == metric:
            ax.set(xlabel=key, ylabel=metric.removeprefix("val_"), ylim=_zoom(shown, higher_is_better(metric)))
        else:
            values = [v for c in cols for v in ok[c] if math.isfinite(v)]
            positive = bool(values) and min(values) > 0 and max(values) / min(values) >= 100
            ax.set(xlabel=key, ylabel="loss", yscale="log" if positive else "linear")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(f"{metric} and losses at the best epoch vs {key} ({len(ok)} runs)")
    return fig


def _heatmap(plt, ok, dims: list[str], metric: str, title: str):
    """The metric's mean over seeds for each pair of values of two settings, each cell labelled."""
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
    ax.set(xlabel=dims[1], ylabel=dims[0], title=title)
    fig.colorbar(image, ax=ax)
    return fig
