"""The report's plots (mlrun.report.plots): the curves' legend, the metric axis, runs without some columns."""

from __future__ import annotations

from mlrun.report.plots import TOP, curves_figure, vs_settings_figure
from mlrun.report.table import table
from tests.report.fakes import accuracy


def test_curves_legend_scales_outside_the_panels(sweep30):
    df, runs, _, _ = table([str(sweep30)])
    fig = curves_figure(runs, [f"job {r['run']}" for _, r in df.iterrows()])
    assert not any(ax.get_legend() for ax in fig.axes) and len(fig.legends) == 1
    legend = fig.legends[0]
    labels = [t.get_text() for t in legend.get_texts()]
    best = sorted(range(30), key=lambda j: -accuracy(j))[:TOP]
    assert labels == [f"job {j}" for j in best] + [f"others ({30 - TOP} runs)"]
    fig.canvas.draw()
    box = legend.get_window_extent()
    assert all(box.x0 >= ax.get_window_extent().x1 for ax in fig.axes)       # right of every panel: covers none
    grey = [line for line in fig.axes[0].get_lines() if line.get_color() == "0.6"]
    assert len(grey) == 30 - TOP                                             # every run is still drawn
    few = curves_figure(runs[:4], ["a", "b", "c", "d"])
    assert len(few.legends[0].get_texts()) == 4


def test_metric_axis_zooms_to_the_data(tmp_path):
    import pandas as pd

    df = pd.DataFrame({"optimizer": ["sgd", "adam", "sgd", "adam"], "seed": [0, 0, 1, 1], "status": "ok",
                       "val_acc": [0.955, 0.985, 0.957, 0.983], "test_acc": [0.95, 0.98, 0.952, 0.981],
                       "val_loss": [0.2, 0.1, 0.21, 0.11], "train_loss": [0.15, 0.05, 0.16, 0.06]})
    fig, name = vs_settings_figure(df, ["optimizer", "seed"])
    assert name == "val_acc_vs_optimizer.png"
    metric_ax = fig.axes[0]
    lo, hi = metric_ax.get_ylim()
    assert 0.9 < lo < 0.95 and 0.985 < hi <= 1.0                     # not from 0: 0.955 vs 0.985 is visible
    assert not metric_ax.patches                                     # points with error bars, no bars from 0
    assert [t.get_text() for t in metric_ax.get_xticklabels()] == ["adam", "sgd"]
    df["lr"] = [0.01, 0.1, 0.01, 0.1]
    fig, _ = vs_settings_figure(df.drop(columns="optimizer"), ["lr", "seed"])
    lo, hi = fig.axes[0].get_ylim()
    assert 0.9 < lo < 0.95 and 0.985 < hi <= 1.0


def test_curves_of_runs_without_some_columns(sweep30):
    """metrics.csv without train_loss (or without any metric) draws what it has instead of failing."""
    (sweep30 / "0" / "metrics.csv").write_text("epoch,val_acc\n1,0.5\n2,0.6\n")
    (sweep30 / "1" / "metrics.csv").write_text("epoch,other\n1,0.5\n")
    df, runs, _, _ = table([str(sweep30)], filters=["seed=0"])
    fig = curves_figure(runs, list(df["run"]))
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "0" in labels and "1" not in labels and len(labels) == 4
    assert len(fig.axes[0].get_lines()) == 3 and len(fig.axes[1].get_lines()) == 4     # train loss | val_acc
