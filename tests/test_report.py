"""`mlrun report` on a real 4-job sweep: the table (printed, CSV, Markdown), the plots, filters and sorting."""

from __future__ import annotations

import csv

import pytest

from mlrun.errors import UserError
from mlrun.report import higher_is_better, markdown, report


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    """optimizer × lr on iris, 2 epochs: 4 jobs in one sweep folder."""
    from conftest import mlrun_cli

    cwd = tmp_path_factory.mktemp("grid")
    out = mlrun_cli("train", "-m", "dataset=iris", "model=logistic", "device=cpu", "trainer.epochs=2",
                    "optimizer=sgd,adam", "optimizer.lr=0.1,0.01", cwd=cwd)
    assert out.returncode == 0, out.stderr
    (sweep_dir,) = [p.parent for p in (cwd / "outputs" / "multirun").glob("*/*/sweep_summary.csv")]
    return sweep_dir


def test_grid_writes_four_run_dirs_and_a_summary(grid):
    for job in "0123":
        assert {"summary.json", "metrics.csv", "train.log"} <= {p.name for p in (grid / job).iterdir()}
    with open(grid / "sweep_summary.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert [r["job"] for r in table] == ["0", "1", "2", "3"] and {r["status"] for r in table} == {"ok"}
    assert {r["monitor"] for r in table} == {"val_acc"} and all(0 <= float(r["test_acc"]) <= 1 for r in table)


def test_report_writes_csv_markdown_and_plots(grid, capsys):
    from mlrun.report import main

    main([str(grid)])                                    # `mlrun report <sweep dir>`
    out = capsys.readouterr()
    report_dir = grid / "report"
    with open(report_dir / "runs.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert len(table) == 4
    assert {"run", "optimizer", "optimizer.lr", "val_acc", "val_loss", "test_acc", "best_epoch", "seconds",
            "samples_per_s", "device"} <= set(table[0])
    assert "trainer.epochs" not in table[0]                     # the same in every run: not a column
    assert {(r["optimizer"], r["optimizer.lr"]) for r in table} == {("sgd", "0.1"), ("sgd", "0.01"),
                                                                   ("adam", "0.1"), ("adam", "0.01")}
    md = (report_dir / "runs.md").read_text().splitlines()
    assert len(md) == 2 + 4 and md[0].startswith("| run | optimizer | optimizer.lr |")
    for png in ("curves.png", "val_acc_vs_optimizer_optimizer.lr.png"):     # 2 settings swept → heatmap
        assert (report_dir / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "4 runs" in out.out and "adam" in out.out


def test_values_match_each_runs_summary(grid):
    import json

    df, _ = report([str(grid)], out=str(grid / "r2"), plots=False)
    for _, r in df.iterrows():
        s = json.loads((grid / r["run"] / "summary.json").read_text())
        assert r["val_acc"] == s["best_val_acc"] and r["test_acc"] == s["test_acc"]
        assert r["best_epoch"] == s["best_epoch"]


def test_filter_and_sort(grid):
    df, written = report([str(grid)], filters=["optimizer=adam"], sort="test_acc", out=str(grid / "r3"))
    assert list(df["optimizer"]) == ["adam", "adam"]
    assert list(df["test_acc"]) == sorted(df["test_acc"], reverse=True)        # accuracy: best first
    assert (grid / "r3" / "val_acc_vs_optimizer.lr.png") in written             # one setting left → line plot
    df, _ = report([str(grid)], filters=["optimizer.lr=0.10", "model=logistic"], sort="val_loss", plots=False,
                   out=str(grid / "r4"))
    assert list(df["optimizer.lr"]) == [0.1, 0.1] and list(df["val_loss"]) == sorted(df["val_loss"])


@pytest.mark.parametrize("kwargs, message", [
    ({"paths": ["missing"]}, "PATH='missing': no such file or folder"),
    ({"filters": ["model=mlp"]}, "no run has model=mlp; values of model: logistic"),
    ({"filters": ["colour=red"]}, "unknown key 'colour'; valid keys are the columns run, optimizer"),
    ({"filters": ["optimizer"]}, "expected KEY=VALUE"),
    ({"sort": "accuracy"}, "--sort 'accuracy': no such column; valid columns: run, optimizer"),
])
def test_mistakes_are_one_line(grid, kwargs, message):
    kwargs = {"paths": [str(grid)], "plots": False, "out": str(grid / "r5"), **kwargs}
    with pytest.raises(UserError) as e:
        report(**kwargs)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_bad_path_from_the_command(cli, tmp_path):
    out = cli("report", "nowhere", cwd=tmp_path)
    assert out.returncode == 2 and out.stderr.strip() == ("mlrun report: error: PATH='nowhere': no such file or "
                                                          "folder; give a run folder, a sweep folder or outputs/")
    (tmp_path / "empty").mkdir()
    out = cli("report", "empty", "--sort", cwd=tmp_path)
    assert out.returncode == 2 and "--sort needs a value" in out.stderr


def test_failed_runs_are_listed_with_their_error(tmp_path):
    run = tmp_path / "sweep" / "0"
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "overrides.yaml").write_text("- optimizer.lr=-1\n")
    (run / "error.txt").write_text("optimizer.lr=-1: must be a number > 0\n")
    df, written = report([str(tmp_path / "sweep")])
    assert list(df["status"]) == ["failed"] and list(df["error"]) == ["optimizer.lr=-1: must be a number > 0"]
    assert [p.name for p in written] == ["runs.csv", "runs.md"]                 # nothing to plot


def test_markdown_and_directions():
    import pandas as pd

    assert markdown(pd.DataFrame({"a": [1.23456, float("nan")], "b": ["x|y", "z"]})) == \
        "| a | b |\n|---|---|\n| 1.235 | x\\|y |\n|  | z |\n"
    assert higher_is_better("test_acc") and higher_is_better("val_r2")
    assert higher_is_better("val_loss") is False and higher_is_better("test_rmse") is False
    assert higher_is_better("seconds") is None


def test_without_matplotlib_the_tables_are_still_written(grid, monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a))
    df, written = report([str(grid)], out=str(grid / "r6"))
    assert [p.name for p in written] == ["runs.csv", "runs.md"] and len(df) == 4
    assert "pip install 'mlrun-classic[plot]'" in capsys.readouterr().err
