"""`mlrun rerun SWEEP_DIR`: the failed and never-started jobs of a grid again, the finished ones kept, the summary
merged; a folder that is not a sweep is one line (exit 2)."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

TINY = ["dataset=iris", "model=logistic", "model.solver=gradient", "device=cpu", "trainer.epochs=1"]


def rows(sweep: Path) -> dict:
    with open(sweep / "sweep_summary.csv", newline="") as f:
        return {r["job"]: r for r in csv.DictReader(f)}


@pytest.mark.slow                       # three sweeps in subprocesses: ~20 s on 2 busy cores
def test_rerun_runs_the_failed_and_missing_jobs_and_keeps_the_rest(cli, tmp_path):
    out = cli("train", "-m", *TINY, "optimizer.lr=0.1,-1,0.05", cwd=tmp_path)
    assert out.returncode == 1
    (sweep,) = (tmp_path / "outputs" / "multirun").glob("*/*")
    shutil.rmtree(sweep / "2")                                           # a job that never started
    kept = (sweep / "0" / "summary.json").read_text()
    dry = cli("rerun", str(sweep), "--dry-run", cwd=tmp_path)
    assert dry.returncode == 0 and "job 1 (failed)" in dry.stdout and "job 2 (not started)" in dry.stdout
    assert "2 job(s) to run again, 1 kept" in dry.stdout
    again = cli("rerun", str(sweep), cwd=tmp_path)
    assert again.returncode == 1 and again.stderr.strip().endswith("1 job(s) failed again: 1 (see error.txt in each)")
    table = rows(sweep)
    assert {j: r["status"] for j, r in table.items()} == {"0": "ok", "1": "failed", "2": "ok"}
    assert "optimizer.lr=0.05" in table["2"]["overrides"] and (sweep / "2" / "summary.json").is_file()
    assert (sweep / "0" / "summary.json").read_text() == kept                # finished jobs untouched
    assert "must be a number > 0" in (sweep / "1" / "error.txt").read_text()
    shutil.rmtree(sweep / "1")
    (sweep / "1").mkdir()                                                   # unfinished: a folder, no summary
    fixed = cli("rerun", str(sweep), cwd=tmp_path)
    assert fixed.returncode == 1                                            # the same overrides fail the same way


def test_a_folder_that_is_not_a_sweep_is_one_line(cli, tmp_path):
    for path in (tmp_path, tmp_path / "missing"):
        out = cli("rerun", str(path), cwd=tmp_path)
        assert out.returncode == 2 and out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    assert "not a sweep folder" in cli("rerun", str(tmp_path), cwd=tmp_path).stderr
    (tmp_path / "multirun.yaml").write_text("hydra: [1, 2]\n")
    (tmp_path / "3").mkdir()
    (tmp_path / "3" / ".hydra").mkdir()
    (tmp_path / "3" / ".hydra" / "overrides.yaml").write_text("a: b\n")
    out = cli("rerun", str(tmp_path), cwd=tmp_path)
    assert out.returncode == 2 and "expected a YAML list of key=value overrides" in out.stderr


def sweep_folder(root: Path, task: list, job_overrides: list | None = None) -> Path:
    """A hand-made grid sweep folder: multirun.yaml (basic sweeper) and, optionally, job 0's overrides."""
    import yaml

    root.mkdir()
    (root / "multirun.yaml").write_text(yaml.safe_dump({"hydra": {
        "sweeper": {"_target_": "hydra._internal.core_plugins.basic_sweeper.BasicSweeper", "params": None},
        "overrides": {"task": task}}}))
    if job_overrides is not None:
        (root / "0" / ".hydra").mkdir(parents=True)
        (root / "0" / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(job_overrides))
    return root


@pytest.mark.parametrize("task, job, says", [
    (["seed=0,1"], ["seed=0", "resume=/elsewhere/run"], "would train or write outside this sweep folder"),
    (["seed=0,1"], ["seed=0", "output_root=/elsewhere"], "would train or write outside this sweep folder"),
    (["seed=0,1", "+hydra.run.dir=/x"], None, "would train or write outside this sweep folder"),
    (["seed=range(0,200)", "optimizer.lr=range(1,200)"], None, "its grid has 39800 jobs"),
    (["optimizer.lr=interval(0.1"], None, "hydra.overrides.task cannot be read"),
    ("oops", None, "is not a list of plain overrides"),
])
def test_a_tampered_sweep_folder_is_refused_before_anything_runs(tmp_path, task, job, says):
    """A sweep folder is untrusted: rerun never trains into another run (resume=), another output root, or a
    grid of unbounded size, and a damaged record is one line."""
    from mlrun.errors import UserError
    from mlrun.sweep.rerun import plan

    sweep = sweep_folder(tmp_path / "sweep", task, job)
    with pytest.raises(UserError, match=says):
        plan(sweep)


def test_output_root_that_holds_the_sweep_is_kept(tmp_path):
    from mlrun.sweep.rerun import plan

    sweep = sweep_folder(tmp_path / "sweep", ["seed=0,1"], ["seed=0", f"output_root={tmp_path}"])
    jobs, kept = plan(sweep)
    assert [(j.num, j.why) for j in jobs] == [(0, "unfinished"), (1, "not started")]
    assert f"output_root={tmp_path}" in jobs[0].overrides
