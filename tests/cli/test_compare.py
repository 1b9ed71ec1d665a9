"""`mlrun compare`: the printed comparison, the curves written, and one line for each bad argument."""

from __future__ import annotations

import re

import pytest

from mlrun.cli import main
from tests.helpers import mlrun_cli
from tests.report.test_compare import run


def test_compare_two_runs_prints_and_writes_curves(tmp_path):
    run(tmp_path / "runs" / "a", 0.90, lr=0.01)
    run(tmp_path / "runs" / "b", 0.93, lr=0.1)
    (tmp_path / "runs" / "broken").mkdir()
    (tmp_path / "runs" / "broken" / "summary.json").write_text("[]")
    out = mlrun_cli("compare", "runs/*", "--out", "cmp", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stderr.strip() == "mlrun compare: skipped runs/broken/summary.json: a JSON list, expected an object {...}"
    assert re.search(r"optimizer\.lr +0\.01 +0\.1\n", out.stdout) and re.search(r"test_acc +0\.9 +0\.93 +\+0\.03", out.stdout)
    assert sorted(p.name for p in (tmp_path / "cmp").glob("*.svg")) == [
        "curve_train_loss.svg", "curve_val_acc.svg", "curve_val_loss.svg"]


@pytest.mark.parametrize("argv, message", [
    ([], "give two run folders"),
    (["a", "--bogus"], "unknown option '--bogus'"),
    (["--metric"], "--metric needs a value"),
    (["missing_a", "missing_b"], "PATH='missing_a': no such file or folder"),
    (["runs", "--metric", "test_r2"], "--metric 'test_r2': no run has it; valid metrics: test_acc, test_loss, val_acc"),
])
def test_bad_arguments_end_in_one_line(tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(tmp_path)
    run(tmp_path / "runs" / "a", 0.90)
    run(tmp_path / "runs" / "b", 0.91)
    with pytest.raises(SystemExit) as stop:
        main(["compare", *argv] if argv else ["compare", "--no-plots"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and message in err and err.count("\n") == 1


@pytest.mark.slow                   # 6 real runs: ~30 s on the shared 2-core machine
def test_lr_that_really_differ_on_digits_are_significant(tmp_path):
    out = mlrun_cli("train", "-m", "dataset=digits", "model=mlp", "device=cpu", "trainer.epochs=3",
                    "optimizer.lr=0.001,0.1", "seed=0,1,2", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    (sweep,) = [p.parent for p in (tmp_path / "outputs" / "multirun").glob("*/*/sweep_summary.csv")]
    out = mlrun_cli("compare", str(sweep), "--no-plots", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    groups = out.stdout.split("seed groups")[1]
    assert re.search(r"optimizer\.lr=0\.001 +3 .*significant \(paired t", groups), groups
