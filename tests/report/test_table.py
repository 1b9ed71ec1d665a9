"""The report's table (mlrun.report.table): rows of a real 4-job sweep, filters, sorting, Markdown."""

from __future__ import annotations

import csv
import json

import pytest

from mlrun.errors import UserError
from mlrun.report.table import higher_is_better, markdown, natural_key, sort_table, table
from tests.report.fakes import accuracy


def test_grid_writes_four_run_dirs_and_a_summary(grid):
    for job in "0123":
        assert {"summary.json", "metrics.csv", "train.log"} <= {p.name for p in (grid / job).iterdir()}
    with open(grid / "sweep_summary.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["job"] for r in rows] == ["0", "1", "2", "3"] and {r["status"] for r in rows} == {"ok"}
    assert {r["monitor"] for r in rows} == {"val_acc"} and all(0 <= float(r["test_acc"]) <= 1 for r in rows)


def test_values_match_each_runs_summary(grid):
    df, runs, keys, skipped = table([str(grid)])
    assert len(df) == len(runs) == 4 and skipped == [] and set(keys) == {"optimizer", "optimizer.lr"}
    for _, r in df.iterrows():
        s = json.loads((grid / r["run"] / "summary.json").read_text())
        assert r["val_acc"] == s["best_val_acc"] and r["test_acc"] == s["test_acc"]
        assert r["best_epoch"] == s["best_epoch"]


@pytest.mark.parametrize("kwargs, message", [
    ({"paths": ["missing"]}, "PATH='missing': no such file or folder"),
    ({"filters": ["model=mlp"]}, "no run has model=mlp; values of model: logistic"),
    ({"filters": ["colour=red"]}, "unknown key 'colour'; valid keys are the columns run, optimizer"),
    ({"filters": ["optimizer"]}, "expected KEY=VALUE"),
    ({"sort": "accuracy"}, "--sort 'accuracy': no such column; valid columns: run, optimizer"),
])
def test_mistakes_are_one_line(grid, kwargs, message):
    kwargs = {"paths": [str(grid)], **kwargs}
    with pytest.raises(UserError) as e:
        table(**kwargs)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_failed_runs_are_listed_with_their_error(tmp_path):
    run = tmp_path / "sweep" / "0"
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "overrides.yaml").write_text("- optimizer.lr=-1\n")
    (run / "error.txt").write_text("optimizer.lr=-1: must be a number > 0\n")
    df, _, _, skipped = table([str(tmp_path / "sweep")])
    assert list(df["status"]) == ["failed"] and list(df["error"]) == ["optimizer.lr=-1: must be a number > 0"]
    assert skipped == []


def test_markdown_and_directions():
    import pandas as pd

    assert markdown(pd.DataFrame({"a": [1.23456, float("nan")], "b": ["x|y", "z"]})) == \
        "| a | b |\n|---|---|\n| 1.235 | x\\|y |\n|  | z |\n"
    assert higher_is_better("test_acc") and higher_is_better("val_r2")
    assert higher_is_better("val_loss") is False and higher_is_better("test_rmse") is False
    assert higher_is_better("seconds") is None


def test_sort_is_numeric_and_natural(sweep30):
    assert sorted(["10", "2", "1", "0"], key=natural_key) == ["0", "1", "2", "10"]
    assert sorted(["run10/3", "run2/11", "run2/3"], key=natural_key) == ["run2/3", "run2/11", "run10/3"]
    df, runs, _, _ = table([str(sweep30)], sort="val_acc")
    assert list(df["val_acc"]) == sorted((accuracy(j) for j in range(30)), reverse=True)
    assert [r["dir"].name for r in runs] == list(df["run"])                  # runs follow the rows
    df, _, _, _ = table([str(sweep30)], sort="optimizer.lr")                 # lowest first, not as text
    assert list(df["optimizer.lr"]) == sorted(df["optimizer.lr"])
    import pandas as pd

    mixed = pd.DataFrame({"run": ["a10", "a9", "b", "a1"], "v": ["x10", "x9", float("nan"), "x1"]})
    out, _ = sort_table(mixed, list(range(4)), "v")
    assert list(out["run"]) == ["a1", "a9", "a10", "b"]                      # natural; blanks last
