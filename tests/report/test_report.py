"""`mlrun report` on a real 4-job sweep: the table (printed, CSV, Markdown), the plots, filters and sorting."""

from __future__ import annotations

from pathlib import Path
import csv

import pytest

from mlrun.errors import UserError
from mlrun.report.report import higher_is_better, markdown, report


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    """optimizer × lr on iris, 2 epochs: 4 jobs in one sweep folder."""
    from tests.helpers import mlrun_cli

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
    from mlrun.cli.report import main

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


def test_the_sweep_table_is_printed_without_importing_torch(grid):
    """A joblib sweep's launching process never trains; importing torch only to print the table cost it ~1.2 s."""
    import subprocess
    import sys

    code = ("import sys; from mlrun.report.report import sweep_table; from mlrun.sweep.summary import SweepSummary; "
            f"text = sweep_table({str(grid)!r}); print(len(text.splitlines())); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    rows, torch_imported = out.stdout.split()
    assert int(rows) >= 5 and torch_imported == "False", out.stdout


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


# ---- readable output: a synthetic 30-job sweep (files only, no training) -----------------------------------------

LONG_REFS = [
    {"model": "LogisticRegression, trained on the first 90%, tested on the last 10% (0.933 accuracy)",
     "family": "logistic", "match": "dataset", "published_test_error": 6.7, "units": "percent",
     "source": "scikit-learn exercise Digits classification (examples/exercises/plot_digits_classification_exercise.py)"},
    {"model": "SVC (gamma=0.001), trained on the first half, tested on the second half (0.97 accuracy)",
     "family": "svm", "match": "dataset", "published_test_error": 3.0, "units": "percent",
     "source": "scikit-learn example Recognizing hand-written digits (examples/classification/plot_digits_classification.py)"},
]


def fake_run(run_dir: Path, overrides: dict, acc: float, reference: dict | None, epochs: int = 3) -> None:
    """A finished run folder as `mlrun train` leaves it (the files `mlrun report` reads)."""
    import json

    import yaml

    (run_dir / ".hydra").mkdir(parents=True)
    (run_dir / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump([f"{k}={v}" for k, v in overrides.items()]))
    (run_dir / ".hydra" / "hydra.yaml").write_text(yaml.safe_dump(
        {"hydra": {"runtime": {"choices": {"model": "mlp", "dataset": "digits", "optimizer": "adam"}}}}))
    rows = ["epoch,train_loss,val_loss,val_acc,epoch_seconds"]
    rows += [f"{e},{2 * (1 - acc) / e:.4f},{2.2 * (1 - acc) / e:.4f},{acc - 0.01 * (epochs - e):.4f},{0.4 + acc:.3f}"
             for e in range(1, epochs + 1)]
    (run_dir / "metrics.csv").write_text("\n".join(rows) + "\n")
    test_error = round(100 * (1 - acc), 4)
    ref = None if reference is None else {**reference, "test_error": test_error,
                                          "difference": round(test_error - reference["published_test_error"], 4)}
    (run_dir / "summary.json").write_text(json.dumps(
        {"test_acc": acc, "test_loss": 2 * (1 - acc), "best_epoch": epochs, "best_val_acc": acc, "monitor": "val_acc",
         "mode": "max", "epochs_run": epochs, "total_seconds": 3 * (0.4 + acc), "samples_per_second": 1e6 * acc,
         "device": "cpu",
         "reference": ref}))


def accuracy(job: int) -> float:
    return round(0.90 + 0.003 * ((7 * job) % 30), 4)       # distinct for the 30 jobs, not in job order


@pytest.fixture
def sweep30(tmp_path):
    """30 jobs: lr × seed; jobs 0-14 compare with the first reference, 15-29 with the second."""
    for job in range(30):
        fake_run(tmp_path / "sweep" / str(job), {"optimizer.lr": [0.001, 0.003, 0.01, 0.03, 0.1][job % 5],
                                                 "seed": job // 5}, accuracy(job), LONG_REFS[job // 15])
    return tmp_path / "sweep"


def test_printed_table_of_30_runs_fits_120_columns_and_runs_csv_keeps_everything(sweep30, tmp_path):
    from mlrun.report.report import compact, table, write

    df, runs, keys = table([str(sweep30)])
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
    from mlrun.report.report import compact, table

    df, _, keys = table([str(sweep30)], filters=["seed=0"])        # jobs 0-4: all the first reference
    text = compact(df, keys)
    assert text.startswith("reference: LogisticRegression") and "[1]" not in text
    assert " ".join(text.split()).count("plot_digits_classification_exercise.py") == 1
    assert max(map(len, text.splitlines())) <= 120


def test_narrow_terminals_and_hidden_columns_are_named(sweep30):
    from mlrun.report.report import compact, table

    df, _, keys = table([str(sweep30)])
    text = compact(df, keys, width=70)
    assert max(map(len, text.splitlines())) <= 70
    header = next(x for x in text.splitlines() if x.startswith("run")).split()
    assert header[:4] == ["run", "optimizer.lr", "seed", "val_acc"]           # the most important columns stay
    assert "not shown to fit 70 columns: " in " ".join(text.split()) and "samples_per_s" in text


def test_sort_is_numeric_and_natural(sweep30):
    from mlrun.report.report import natural_key, sort_table, table

    assert sorted(["10", "2", "1", "0"], key=natural_key) == ["0", "1", "2", "10"]
    assert sorted(["run10/3", "run2/11", "run2/3"], key=natural_key) == ["run2/3", "run2/11", "run10/3"]
    df, runs, _ = table([str(sweep30)], sort="val_acc")
    assert list(df["val_acc"]) == sorted((accuracy(j) for j in range(30)), reverse=True)
    assert [r["dir"].name for r in runs] == list(df["run"])                  # runs follow the rows
    df, _, _ = table([str(sweep30)], sort="optimizer.lr")                    # lowest first, not as text
    assert list(df["optimizer.lr"]) == sorted(df["optimizer.lr"])
    import pandas as pd

    mixed = pd.DataFrame({"run": ["a10", "a9", "b", "a1"], "v": ["x10", "x9", float("nan"), "x1"]})
    out, _ = sort_table(mixed, list(range(4)), "v")
    assert list(out["run"]) == ["a1", "a9", "a10", "b"]                      # natural; blanks last


def test_one_run_is_listed_a_value_per_line(sweep30):
    from mlrun.report.report import compact, table

    df, _, keys = table([str(sweep30 / "7")])
    lines = compact(df, keys).splitlines()
    assert "run             7" in lines and any(x.split() == ["val_acc", f"{accuracy(7):.4g}"] for x in lines)


def test_read_only_destination_prints_the_table_and_writes_nothing(sweep30, tmp_path, capsys):
    """As root chmod does not stop writes: a destination below a file fails the same way a read-only one does."""
    from mlrun.cli.report import main

    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(SystemExit) as e:
        main([str(sweep30), "--out", str(blocker / "report"), "--no-plots"])
    out = capsys.readouterr()
    assert e.value.code == 1 and "Traceback" not in out.err and out.err.count("\n") == 1
    assert out.err.startswith(f"mlrun report: error: cannot write the report files to {blocker / 'report'}: ")
    assert "--out DIR" in out.err and "val_acc" in out.out and blocker.read_text() == "x"
    (sweep30 / "report").write_text("not a folder")                 # the default destination PATH/report
    with pytest.raises(SystemExit):
        main([str(sweep30), "--no-plots"])
    assert "cannot write the report files" in capsys.readouterr().err


def test_a_failed_write_leaves_nothing_half_made(sweep30, tmp_path, monkeypatch):
    from mlrun.report import report as rep

    df, runs, keys = rep.table([str(sweep30)], filters=["seed=0"])
    real = rep._save

    def full_disk(fig, path):
        if "vs" in path.name:
            rep._pyplot().close(fig)
            raise OSError(28, "No space left on device")
        return real(fig, path)

    monkeypatch.setattr(rep, "_save", full_disk)
    with pytest.raises(OSError):
        rep.write(df, runs, keys, tmp_path / "new" / "report")
    assert not (tmp_path / "new").exists()                           # no files, no folders it created
    old = tmp_path / "old"
    old.mkdir()
    (old / "runs.csv").write_text("the previous report\n")
    with pytest.raises(OSError):
        rep.write(df, runs, keys, old)
    assert [p.name for p in old.iterdir()] == ["runs.csv"] and (old / "runs.csv").read_text() == "the previous report\n"


def test_curves_legend_scales_outside_the_panels(sweep30):
    from mlrun.report.report import TOP, curves_figure, table

    df, runs, _ = table([str(sweep30)])
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

    from mlrun.report.report import vs_settings_figure

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


def test_sweep_table_puts_the_best_first(sweep30):
    from mlrun.report.report import sweep_table

    text = sweep_table(sweep30)
    rows = [int(line.split()[0]) for line in text.splitlines() if line[:1].isdigit()]
    assert rows == sorted(range(30), key=lambda j: -accuracy(j)) and max(map(len, text.splitlines())) <= 120
    assert sweep_table(sweep30.parent / "nothing_here") == ""


def test_errors_that_do_not_fit_as_a_column_get_a_line_each():
    import pandas as pd

    from mlrun.report.report import compact

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
