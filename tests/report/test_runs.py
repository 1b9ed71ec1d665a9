"""Finding and reading run folders (mlrun.report.runs): a run whose files cannot be used is skipped with the file
and the reason; its neighbours are still reported."""

from __future__ import annotations

import json

import pytest

from mlrun.errors import UserError
from mlrun.report.runs import find_runs, load_runs
from mlrun.report.table import table

BROKEN = {                                   # file in the run folder → (content, the reason given)
    "list": ("summary.json", b"[1, 2, 3]", "a JSON list, expected an object {...}"),
    "bomb": ("summary.json", b"[" * 100_000 + b"]" * 100_000, "nested more than 32 levels deep"),
    "text": ("summary.json", b"not json", "not JSON (Expecting value: line 1 column 1 (char 0))"),
    "empty": ("summary.json", b"", "empty file"),
    "latin1": ("summary.json", b'{"device": "caf\xe9"}', "not UTF-8 text (byte 0xe9 at offset 15)"),
    "monitor": ("summary.json", b'{"monitor": ["val_acc"]}', "monitor holds a list, expected a metric name like "
                                                              "'val_acc'"),
    "column": ("summary.json", b'{"monitor": "status"}', "monitor='status' is not a metric name like 'val_acc'"),
    "test": ("summary.json", b'{"test_acc": "0.9"}', "test_acc holds a str, expected a number"),
    "epoch": ("summary.json", b'{"best_epoch": [3]}', "best_epoch holds a list, expected a number"),
    "csv": ("metrics.csv", b"epoch,train_loss\n1,lots\n", "line 2, column train_loss: not a number: 'lots'"),
    "overrides": (".hydra/overrides.yaml", b"a: 1\n", "a dict, expected a list of key=value"),
    "choices": (".hydra/hydra.yaml", b"hydra: {runtime: {choices: [1]}}\n",
                "hydra.runtime.choices holds a list, expected a mapping"),
    "config": (".hydra/config.yaml", b"[" * 5000 + b"]" * 5000, "nested too deeply"),
}


def break_run(run_dir, case: str) -> str:
    name, content, why = BROKEN[case]
    (run_dir / name).write_bytes(content)
    return f"{run_dir / name}: {why}"


@pytest.mark.parametrize("case", BROKEN)
def test_a_broken_run_is_skipped_with_its_file_and_reason(sweep4, case):
    expected = break_run(sweep4 / "2", case)
    df, runs, _, skipped = table([str(sweep4)])
    assert skipped == [expected]
    assert list(df["run"]) == ["0", "1", "3"] and [r["dir"].name for r in runs] == ["0", "1", "3"]
    assert (df["status"] == "ok").all()


@pytest.mark.parametrize("case", ["list", "bomb", "text"])
def test_a_lone_broken_run_is_one_line_naming_the_file(sweep4, case):
    expected = break_run(sweep4 / "2", case)
    with pytest.raises(UserError) as e:
        table([str(sweep4 / "2")])
    assert str(e.value) == f"PATH={str(sweep4 / '2')!r}: no run can be read: {expected}"


def test_several_broken_runs_are_counted(sweep4):
    for job in "0123":
        break_run(sweep4 / job, "list")
    runs, skipped = load_runs([str(sweep4)])
    assert runs == [] and len(skipped) == 4
    with pytest.raises(UserError, match=r"no run can be read: .*/0/summary.json: a JSON list, .* \(and 3 more runs "
                                        r"like it\)$"):
        table([str(sweep4)])


def test_a_failed_job_keeps_its_error_and_a_killed_one_without_summary_is_a_row(sweep4):
    (sweep4 / "1" / "summary.json").unlink()
    (sweep4 / "1" / "error.txt").write_text("killed\n")
    df, _, _, skipped = table([str(sweep4)])
    assert skipped == [] and list(df["status"]) == ["ok", "failed", "ok", "ok"] and df["error"][1] == "killed"


def test_runs_are_found_in_natural_order_and_missing_paths_refused(sweep4, tmp_path):
    for job in (10, 11):
        (sweep4 / str(job)).mkdir()
        (sweep4 / str(job) / "summary.json").write_text(json.dumps({"monitor": "val_acc"}))
    assert [p.name for p in find_runs([str(sweep4)])] == ["0", "1", "2", "3", "10", "11"]
    with pytest.raises(UserError, match="no runs found"):
        find_runs([str(tmp_path / "sweep" / "0" / ".hydra")])
