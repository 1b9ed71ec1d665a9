"""Run folders for the report tests: a real 4-job sweep (trained once per session) and synthetic ones (files only)."""

from __future__ import annotations

import pytest

from tests.report.fakes import LONG_REFS, accuracy, fake_run


@pytest.fixture(scope="session")
def grid(tmp_path_factory):
    """optimizer × lr on iris, 2 epochs: 4 jobs in one sweep folder."""
    from tests.helpers import mlrun_cli

    cwd = tmp_path_factory.mktemp("grid")
    out = mlrun_cli("train", "-m", "dataset=iris", "model=logistic", "device=cpu", "trainer.epochs=2",
                    "optimizer=sgd,adam", "optimizer.lr=0.1,0.01", cwd=cwd)
    assert out.returncode == 0, out.stderr
    (sweep_dir,) = [p.parent for p in (cwd / "outputs" / "multirun").glob("*/*/sweep_summary.csv")]
    return sweep_dir


@pytest.fixture
def sweep30(tmp_path):
    """30 jobs: lr × seed; jobs 0-14 compare with the first reference, 15-29 with the second."""
    for job in range(30):
        fake_run(tmp_path / "sweep" / str(job), {"optimizer.lr": [0.001, 0.003, 0.01, 0.03, 0.1][job % 5],
                                                 "seed": job // 5}, accuracy(job), LONG_REFS[job // 15])
    return tmp_path / "sweep"


@pytest.fixture
def sweep4(tmp_path):
    """4 readable jobs (lr 0.1, 0.01 × seed 0, 1): the neighbours of a broken run."""
    for job in range(4):
        fake_run(tmp_path / "sweep" / str(job), {"optimizer.lr": [0.1, 0.01][job % 2], "seed": job // 2},
                 accuracy(job))
    return tmp_path / "sweep"
