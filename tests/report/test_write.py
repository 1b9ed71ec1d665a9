"""Writing a report (mlrun.report.write): the files, all or nothing, claimed folders, two reports at once."""

from __future__ import annotations

import csv

import pandas as pd
import pytest

from mlrun.cli.report import main
from mlrun.errors import UserError
from mlrun.report import plots
from mlrun.report import write as write_module
from mlrun.report.table import table
from mlrun.report.write import report, write


def test_report_writes_csv_markdown_and_plots(grid, capsys):
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


def test_filter_and_sort(grid):
    df, written, _ = report([str(grid)], filters=["optimizer=adam"], sort="test_acc", out=str(grid / "r3"))
    assert list(df["optimizer"]) == ["adam", "adam"]
    assert list(df["test_acc"]) == sorted(df["test_acc"], reverse=True)        # accuracy: best first
    assert (grid / "r3" / "val_acc_vs_optimizer.lr.png") in written             # one setting left → line plot
    df, _, _ = report([str(grid)], filters=["optimizer.lr=0.10", "model=logistic"], sort="val_loss", plots=False,
                   out=str(grid / "r4"))
    assert list(df["optimizer.lr"]) == [0.1, 0.1] and list(df["val_loss"]) == sorted(df["val_loss"])


def test_without_matplotlib_the_tables_are_still_written(grid, monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a))
    df, written, _ = report([str(grid)], out=str(grid / "r6"))
    assert [p.name for p in written] == ["runs.csv", "runs.md"] and len(df) == 4
    assert "pip install 'mlrun-classic[plot]'" in capsys.readouterr().err


def test_read_only_destination_prints_the_table_and_writes_nothing(sweep30, tmp_path, capsys):
    """As root chmod does not stop writes: a destination below a file fails the same way a read-only one does."""
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
    df, runs, keys, _ = table([str(sweep30)], filters=["seed=0"])
    real = plots.save

    def full_disk(fig, path):
        if "vs" in path.name:
            plots._pyplot().close(fig)
            raise OSError(28, "No space left on device")
        return real(fig, path)

    monkeypatch.setattr(write_module, "save", full_disk)
    with pytest.raises(OSError):
        write(df, runs, keys, tmp_path / "new" / "report")
    assert not (tmp_path / "new").exists()                           # no files, no folders it created
    old = tmp_path / "old"
    old.mkdir()
    (old / "runs.csv").write_text("the previous report\n")
    with pytest.raises(OSError):
        write(df, runs, keys, old)
    assert [p.name for p in old.iterdir()] == ["runs.csv"] and (old / "runs.csv").read_text() == "the previous report\n"


def test_two_reports_at_once_both_succeed_or_one_is_in_use(sweep4):
    """D14: two writers of one new report folder (was: one failed with 'No such file or directory' as the other
    renamed its temporary files or removed the folder). Threads hold separate flocks, as processes do."""
    import threading

    df, runs, keys, _ = table([str(sweep4)])
    for attempt in range(8):
        out = sweep4.parent / f"report{attempt}"
        barrier, results = threading.Barrier(2), []

        def one():
            barrier.wait()
            try:
                results.append([p.name for p in write(df, runs, keys, out, plots=False)])
            except UserError as e:
                results.append(str(e))

        threads = [threading.Thread(target=one) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert ["runs.csv", "runs.md"] in results, results
        assert all(r == ["runs.csv", "runs.md"] or (isinstance(r, str) and f"report folder {out} is in use by pid "
                                                    in r) for r in results), results
        assert sorted(p.name for p in out.iterdir()) == [".mlrun-report", "runs.csv", "runs.md"]
        assert len(pd.read_csv(out / "runs.csv")) == 4


def test_a_folder_being_written_is_in_use(sweep4):
    import fcntl
    import os

    df, runs, keys, _ = table([str(sweep4)])
    write(df, runs, keys, sweep4 / "report", plots=False)
    with open(sweep4 / "report" / ".mlrun-report", "r+") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        held.truncate()
        held.write("4242")
        held.flush()
        with pytest.raises(UserError) as e:
            write(df, runs, keys, sweep4 / "report", plots=False)
    assert str(e.value) == (f"report folder {sweep4 / 'report'} is in use by pid 4242 (another mlrun report is "
                            f"writing it); wait for it, or write elsewhere with --out DIR")
    write(df, runs, keys, sweep4 / "report", plots=False)              # the lock went with its holder
    assert (sweep4 / "report" / ".mlrun-report").read_text() == str(os.getpid())


@pytest.mark.parametrize("present, ok", [
    ([], True),                                                   # an empty folder
    (["runs.csv", "runs.md", "val_acc_vs_lr.png"], True),         # a report made before the mark existed
    ([".mlrun-report", "runs.csv", ".runs.csv.999.part"], True),  # a report, and a killed writer's leftover
    (["runs.csv", "notes.txt"], False),
    (["summary.json", "metrics.csv"], False),                     # a run folder
    (["runs.csv", "sub/"], False),
])
def test_only_new_or_report_folders_are_written(sweep4, present, ok):
    df, runs, keys, _ = table([str(sweep4)])
    out = sweep4.parent / "out"
    out.mkdir()
    for name in present:
        (out / name).mkdir() if name.endswith("/") else (out / name).write_text("old")
    if ok:
        assert [p.name for p in write(df, runs, keys, out, plots=False)] == ["runs.csv", "runs.md"]
        assert sorted(p.name for p in out.iterdir()) == [".mlrun-report", "runs.csv", "runs.md"]   # old plot gone
    else:
        with pytest.raises(UserError, match=r"^report folder '.*/out' holds files that are not an mlrun report "
                                            r"\((notes.txt|metrics.csv, summary.json|sub)\); "):
            write(df, runs, keys, out, plots=False)
        assert sorted(p.name + "/" * p.is_dir() for p in out.iterdir()) == sorted(present)     # untouched
