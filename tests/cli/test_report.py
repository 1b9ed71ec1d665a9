"""`mlrun report` from the command line: one-line errors, skipped runs named, the exit status."""

from __future__ import annotations

from tests.report.fakes import fake_run


def test_bad_path_from_the_command(cli, tmp_path):
    out = cli("report", "nowhere", cwd=tmp_path)
    assert out.returncode == 2 and out.stderr.strip() == ("mlrun report: error: PATH='nowhere': no such file or "
                                                          "folder; give a run folder, a sweep folder or outputs/")
    (tmp_path / "empty").mkdir()
    out = cli("report", "empty", "--sort", cwd=tmp_path)
    assert out.returncode == 2 and "--sort needs a value" in out.stderr


def test_broken_runs_are_skipped_and_named(cli, tmp_path):
    """D11: summary.json `[1,2,3]` (was an AttributeError traceback); D12: 100,000 nested brackets under the
    parent (was a RecursionError that aborted the whole report)."""
    for job in range(3):
        fake_run(tmp_path / "sweep" / str(job), {"optimizer.lr": 0.1 * (job + 1)}, 0.9 + 0.01 * job)
    (tmp_path / "sweep" / "0" / "summary.json").write_text("[1,2,3]")
    out = cli("report", "sweep/0", cwd=tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr and out.stderr == (
        "mlrun report: error: PATH='sweep/0': no run can be read: sweep/0/summary.json: a JSON list, expected an "
        "object {...}\n")
    (tmp_path / "sweep" / "1" / "summary.json").write_text("[" * 100_000 + "]" * 100_000)
    out = cli("report", "sweep", "--no-plots", "--html", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stderr.splitlines() == [
        "mlrun report: skipped sweep/0/summary.json: a JSON list, expected an object {...}",
        "mlrun report: skipped sweep/1/summary.json: nested more than 32 levels deep"]
    assert "1 run (2 skipped, named above); wrote sweep/report/: runs.csv, runs.md" in out.stdout
    assert "- sweep/1/summary.json: nested more than 32 levels deep" in (tmp_path / "sweep/report/runs.md").read_text()
    html = (tmp_path / "sweep/report/report.html").read_text()              # --html: the page, skipped runs named
    assert "wrote sweep/report/: runs.csv, runs.md, report.html" in out.stdout
    assert "<li>sweep/1/summary.json: nested more than 32 levels deep</li>" in html and '<table id="runs"' in html


def test_a_folder_that_is_not_a_report_is_never_written(cli, tmp_path):
    fake_run(tmp_path / "run", {"optimizer.lr": 0.1}, 0.9)
    out = cli("report", "run", "--out", "run", "--no-plots", cwd=tmp_path)
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "val_acc" in out.stdout
    assert out.stderr.startswith("mlrun report: error: report folder 'run' holds files that are not an mlrun "
                                 "report (.hydra, metrics.csv, summary.json); ")
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [".hydra", "metrics.csv", "summary.json"]


def test_two_reports_of_one_run_at_once(tmp_path):
    """D14: both succeed, or one says the report folder is in use (was: exit 1, 'No such file or directory')."""
    import subprocess
    import sys

    fake_run(tmp_path / "run", {"optimizer.lr": 0.1}, 0.9)
    procs = [subprocess.Popen([sys.executable, "-m", "mlrun", "report", "run", "--no-plots"], cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    for p in procs:
        p.stdout.close()
        p.stderr.close()
    assert (0, "") in results, results
    assert all(r == (0, "") or (r[0] == 2 and "report folder run/report is in use by pid" in r[1]) for r in results)
    assert sorted(p.name for p in (tmp_path / "run" / "report").iterdir()) == [".mlrun-report", "runs.csv", "runs.md"]


def test_provenance_that_differs_is_printed(tmp_path, monkeypatch, capsys):
    from mlrun.cli import main
    from tests.report.test_compare import PROV, run

    monkeypatch.chdir(tmp_path)
    run(tmp_path / "sweep" / "0", 0.9)
    run(tmp_path / "sweep" / "1", 0.91, prov={**PROV, "python": "3.12.1"})
    run(tmp_path / "sweep" / "2", 0.92, prov={**PROV, "python": "3.12.1"})
    main(["report", "sweep", "--no-plots"])
    out = capsys.readouterr().out
    assert "provenance (against the first run):\n  python: 3.11.7 vs 3.12.1  [1, 2]\n" in out
