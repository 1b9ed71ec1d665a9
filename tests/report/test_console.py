"""The printed table (mlrun.report.console): fits the terminal, says shared values and references once, names
what it leaves out; the sweep's table printed when `mlrun train -m` ends."""

from __future__ import annotations

from mlrun.report.console import compact, sweep_table
from mlrun.report.table import table
from mlrun.report.write import write
from tests.report.fakes import LONG_REFS, accuracy


def test_printed_table_of_30_runs_fits_120_columns_and_runs_csv_keeps_everything(sweep30, tmp_path):
    df, runs, keys, _ = table([str(sweep30)])
    text = compact(df, keys)
    assert max(map(len, text.splitlines())) <= 120
    rows = [line.split()[0] for line in text.splitlines() if line[:1].isdigit()]
    assert rows == [str(j) for j in range(30)]                               # natural order: 2 before 10
    assert text.count(LONG_REFS[0]["source"][:40]) == 1 and "[1]" in text and "[2]" in text   # each once, marked
    assert "shared by all runs:" in text and "device=cpu" in text and "epochs=3" in text
    header = text.splitlines()[text.splitlines().index(next(x for x in text.splitlines() if x.startswith("run")))]
    assert {"optimizer.lr", "seed", "val_acc", "test_acc", "ref"} <= set(header.split())
    assert "device" not in header.split() and "ref_source" not in header     # shared / said once
    wide = compact(df, keys, width=None)
    assert "ref_source" in wide and max(map(len, wide.splitlines())) > 120   # --wide: every column in full
    written = write(df, runs, keys, tmp_path / "out", plots=False)
    import pandas as pd

    csv_ = pd.read_csv(written[0])
    assert {"device", "epochs", "ref_model", "ref_source", "ref_difference"} <= set(csv_.columns)
    assert csv_["ref_source"].str.len().max() > 100                          # the whole text, not cut


def test_a_shared_reference_is_said_once_above_the_table(sweep30):
    df, _, keys, _ = table([str(sweep30)], filters=["seed=0"])        # jobs 0-4: all the first reference
    text = compact(df, keys)
    assert text.startswith("reference: LogisticRegression") and "[1]" not in text
    assert " ".join(text.split()).count("plot_digits_classification_exercise.py") == 1
    assert max(map(len, text.splitlines())) <= 120


def test_narrow_terminals_and_hidden_columns_are_named(sweep30):
    df, _, keys, _ = table([str(sweep30)])
    text = compact(df, keys, width=70)
    assert max(map(len, text.splitlines())) <= 70
    header = next(x for x in text.splitlines() if x.startswith("run")).split()
    assert header[:4] == ["run", "optimizer.lr", "seed", "val_acc"]           # the most important columns stay
    assert "not shown to fit 70 columns: " in " ".join(text.split()) and "samples_per_s" in text


def test_one_run_is_listed_a_value_per_line(sweep30):
    df, _, keys, _ = table([str(sweep30 / "7")])
    lines = compact(df, keys).splitlines()
    assert "run             7" in lines and any(x.split() == ["val_acc", f"{accuracy(7):.4g}"] for x in lines)


def test_sweep_table_puts_the_best_first(sweep30):
    text = sweep_table(sweep30)
    rows = [int(line.split()[0]) for line in text.splitlines() if line[:1].isdigit()]
    assert rows == sorted(range(30), key=lambda j: -accuracy(j)) and max(map(len, text.splitlines())) <= 120
    assert sweep_table(sweep30.parent / "nothing_here") == ""


def test_errors_that_do_not_fit_as_a_column_get_a_line_each():
    import pandas as pd


    df = pd.DataFrame({"run": ["a/0", "a/1", "a/2"], "optimizer.lr": [0.1, -1.0, -2.0],
                       "status": ["ok", "failed", "failed"], "val_acc": [0.9, float("nan"), float("nan")],
                       "error": ["", "optimizer.lr=-1: must be a number > 0", "optimizer.lr=-2: must be a number > 0"]})
    wide = compact(df, ["optimizer.lr"], width=120)
    assert wide.splitlines()[0].split() == ["run", "optimizer.lr", "status", "val_acc", "error"]
    narrow = compact(df, ["optimizer.lr"], width=40).splitlines()
    assert narrow[0].split() == ["run", "optimizer.lr", "status", "val_acc"] and max(map(len, narrow)) <= 40
    failed = [line for line in narrow if " failed: " in line]
    assert [line[:33] for line in failed] == ["a/1 failed: optimizer.lr=-1: must", "a/2 failed: optimizer.lr=-2: must"]
    assert all(line.endswith("…") and len(line) == 40 for line in failed)   # cut to the width


def test_the_sweep_table_is_printed_without_importing_torch(grid):
    """A joblib sweep's launching process never trains; importing torch only to print the table cost it ~1.2 s."""
    import subprocess
    import sys

    code = ("import sys; from mlrun.report.console import sweep_table; from mlrun.sweep.summary import SweepSummary; "
            f"text = sweep_table({str(grid)!r}); print(len(text.splitlines())); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    rows, torch_imported = out.stdout.split()
    assert int(rows) >= 5 and torch_imported == "False", out.stdout


def test_the_sorted_column_is_shown_for_runs_of_mixed_tasks(tmp_path):
    """Issue 28: `--sort test_r2` over classification and regression runs kept test_r2 out of a narrow table."""
    import json

    from tests.report.fakes import fake_run

    for job in range(6):
        fake_run(tmp_path / str(job), {"model": "mlp", "dataset": ["digits", "diabetes"][job % 2],
                                       "optimizer.lr": 10.0 ** -job, "trainer.batch_size": 2 ** job}, 0.9)
        if job % 2:                                      # a regression run: r2, rmse instead of acc
            summary = json.loads((tmp_path / str(job) / "summary.json").read_text())
            for key in ("test_acc", "best_val_acc"):
                summary.pop(key)
            summary |= {"test_r2": 0.4 + job / 100, "test_rmse": 50.0 + job, "monitor": "val_r2",
                        "best_val_r2": 0.45}
            (tmp_path / str(job) / "summary.json").write_text(json.dumps(summary))
    df, runs, keys, _ = table([str(tmp_path)], sort="test_r2")
    lines = compact(df, keys, width=70, sort="test_r2").splitlines()
    header = next(line for line in lines if line.startswith("run"))
    assert header.split()[:2] == ["run", "test_r2"]
    assert [line.split()[1] for line in lines[lines.index(header) + 1:][:3]] == ["0.45", "0.43", "0.41"]
