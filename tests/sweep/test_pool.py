"""hydra/launcher=pool (mlrun/sweep/pool.py, hydra_plugins/mlrun_pool_launcher): warm workers, no batch barrier,
failures contained, no orphans; job configs built from a cached base equal Hydra's composition."""

from __future__ import annotations

import contextlib
import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hydra import initialize, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.utils import JobStatus
from hydra.types import HydraContext, RunMode
from omegaconf import OmegaConf

from hydra_plugins.mlrun_pool_launcher.pool_launcher import PoolLauncher
from mlrun.errors import RunFailed, UserError
from mlrun.paths import config_dir
from mlrun.sweep.job_config import JobConfigs
from mlrun.sweep.summary import register_resolvers
from tests.sweep import pool_app

ROOT = Path(__file__).resolve().parents[2]
APP = "from tests.sweep.pool_app import main; main()"


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(OSError):           # a zombie (not yet reaped by its parent) counts as gone
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    return True


@contextlib.contextmanager
def pool_launcher(sweep_dir: Path, n_jobs: int):
    """The real launcher, set up as Hydra's sweeper sets it up, over the tiny app in tests/sweep/pool_app.py."""
    from hydra._internal.callbacks import Callbacks

    GlobalHydra.instance().clear()
    with initialize(version_base="1.3", config_path=None):
        loader = GlobalHydra.instance().hydra.config_loader
        config = loader.load_configuration("pool_app", [f"hydra.sweep.dir={sweep_dir}"], RunMode.MULTIRUN)
        launcher = PoolLauncher(n_jobs=n_jobs, preload=[], stop_grace_s=5)
        launcher.setup(hydra_context=HydraContext(config_loader=loader, callbacks=Callbacks(config)),
                       task_function=pool_app.task, config=config)
        try:
            yield launcher
        finally:
            launcher.close()


def test_a_free_worker_takes_the_next_job_while_another_still_runs(tmp_path):
    with pool_launcher(tmp_path, n_jobs=2) as launcher:
        waiting = launcher.submit(["mode=wait"], 0)            # runs until the shorts are done and release exists
        shorts = [launcher.submit(["mode=short"], i) for i in range(1, 5)]
        results = [f.result(timeout=120) for f in shorts]
        assert not waiting.done()                              # no barrier: 4 jobs finished beside a running one
        (tmp_path / "release").touch()
        long_pid = waiting.result(timeout=120).return_value
    assert all(r.status == JobStatus.COMPLETED for r in results)
    assert {r.return_value for r in results} == {int((tmp_path / str(i) / "pid").read_text()) for i in range(1, 5)}
    assert len({r.return_value for r in results}) == 1 and long_pid not in {r.return_value for r in results}
    assert all((tmp_path / str(i) / "done").is_file() for i in range(5))     # each job in its own folder
    assert not alive(long_pid)                                               # closed: no worker left


def test_a_failing_job_keeps_its_worker_and_a_dead_worker_is_replaced(tmp_path):
    with pool_launcher(tmp_path, n_jobs=1) as launcher:
        failed, after = launcher.launch([["mode=fail"], ["mode=short"]], initial_job_idx=0)
        died = launcher.submit(["mode=die"], 2).result(timeout=120)
        (rerun,) = launcher.launch([["mode=short"]], initial_job_idx=3)
    assert failed.status == JobStatus.FAILED and isinstance(failed._return_value, ValueError)
    assert after.status == JobStatus.COMPLETED and after.return_value == int((tmp_path / "0" / "pid").read_text())
    assert died.status == JobStatus.FAILED and isinstance(died._return_value, RunFailed)
    line = (tmp_path / "2" / "error.txt").read_text().strip()
    assert line == str(died._return_value) and "died (signal SIGKILL" in line and "\n" not in line
    assert rerun.status == JobStatus.COMPLETED and rerun.return_value != after.return_value   # a new worker


@pytest.mark.parametrize("stop", [signal.SIGTERM, pytest.param(signal.SIGKILL, marks=pytest.mark.slow)])
def test_stopping_the_sweep_leaves_no_worker_behind(tmp_path, stop):
    """SIGTERM: the launcher stops its workers; SIGKILL (nothing can run in the sweep's process): the kernel
    sends SIGTERM to each worker (PR_SET_PDEATHSIG)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-c", APP, "-m", "hydra/launcher=pool", "hydra.launcher.n_jobs=2",
                             "hydra.launcher.preload=[]", "hydra.launcher.stop_grace_s=5",
                             f"hydra.sweep.dir={tmp_path}", "mode=wait,wait,wait"], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        pid_files = [tmp_path / str(i) / "pid" for i in range(2)]
        for _ in range(600):                                   # both workers are running a job
            if all(p.is_file() and p.read_text() for p in pid_files) or proc.poll() is not None:
                break
            time.sleep(0.1)
        workers = [int(p.read_text()) for p in pid_files]
        proc.send_signal(stop)
        proc.wait(timeout=60)
        for _ in range(100):
            if not any(map(alive, workers)):
                break
            time.sleep(0.1)
        assert not any(map(alive, workers)), workers
        assert proc.returncode != 0 and not (tmp_path / "2" / "pid").exists()   # the third job never started
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("keys, line", [({"n_jobs": 0}, "hydra.launcher.n_jobs=0: must be an integer ≥ 1"),
                                         ({"n_jobs": "two"}, "hydra.launcher.n_jobs='two': must be"),
                                         ({"stop_grace_s": -1}, "hydra.launcher.stop_grace_s=-1: must be a number")])
def test_bad_launcher_keys_are_one_line(keys, line):
    with pytest.raises(UserError, match=f"^{line}"):           # before any worker starts
        PoolLauncher(**keys).setup(hydra_context=None, task_function=None, config=None)


JOBS = [["seed=3"], ["dataset=iris", "optimizer.lr=0.3", "seed=2"], ["model=logistic", "+extra=1", "trainer.epochs=4"],
        ["~trainer.l2", "optimizer=sgd", "model.hidden=[4,4]"], ["hydra.job.chdir=false", "seed=5"], ["seed=4"]]


def test_job_configs_equal_hydra_composition(tmp_path, monkeypatch):
    """Group, value, add, delete and hydra.* overrides; the last job reuses the first job's base."""
    monkeypatch.chdir(tmp_path)                               # mlrun_run_dir claims folders when resolved
    register_resolvers()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        loader = GlobalHydra.instance().hydra.config_loader
        master = loader.load_configuration("config", ["dataset=iris", "hydra.job.name=x", f"output_root={tmp_path}",
                                                      f"hydra.sweep.dir={tmp_path}"], RunMode.MULTIRUN)
        configs = JobConfigs(loader, master)
        for overrides in JOBS:
            fast, full = configs(overrides), loader.load_sweep_config(master, overrides)
            assert OmegaConf.to_yaml(fast) == OmegaConf.to_yaml(full), overrides
            for key in ("seed", "output_root", "dataset", "model", "optimizer", "trainer", "hydra.sweep.dir"):
                assert OmegaConf.select(fast, key) == OmegaConf.select(full, key)        # resolved alike
    assert len(configs.bases) == 5


@pytest.mark.slow                       # 2 workers importing torch: > 10 s on 2 shared cores
def test_mlrun_sweep_on_the_pool(cli, tmp_path):
    out = cli("train", "-m", "hydra/launcher=pool", "hydra.launcher.n_jobs=2", "dataset=iris", "model=logistic",
              "device=cpu", "trainer.epochs=1", "seed=0,1,2", "optimizer.lr=-1,0.1", cwd=tmp_path)
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
    (summary,) = tmp_path.glob("outputs/multirun/*/*/sweep_summary.csv")
    rows = list(csv.DictReader(summary.open()))
    assert sorted(int(r["job"]) for r in rows) == list(range(6))
    assert {r["status"] for r in rows if "optimizer.lr=0.1" in r["overrides"]} == {"ok"}
    assert {r["error"] for r in rows if "optimizer.lr=-1" in r["overrides"]} == {"optimizer.lr=-1: must be a number > 0"}
    assert "Pool(n_jobs=2) is launching 6 jobs" in out.stdout + out.stderr
    assert out.stderr.strip().splitlines()[-1].startswith("mlrun train: error: 3 sweep job(s) failed")
