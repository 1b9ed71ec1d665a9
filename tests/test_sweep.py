"""Sweeps: failures recorded and reported, parallel launchers, Optuna search resumed from its sqlite study."""

from __future__ import annotations

import csv
import importlib.util
import multiprocessing
from pathlib import Path

import pytest

from mlrun import sweep

TINY = ["dataset=iris", "model=logistic", "device=cpu", "trainer.epochs=1"]


def has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


needs_sweep = pytest.mark.skipif(not (has("hydra_plugins.hydra_optuna_sweeper") and has("optuna")),
                                 reason="extra [sweep] not installed")
needs_joblib = pytest.mark.skipif(not has("hydra_plugins.hydra_joblib_launcher"), reason="extra [sweep] not installed")
needs_submitit = pytest.mark.skipif(not has("hydra_plugins.hydra_submitit_launcher"),
                                    reason="extra [slurm] not installed")


def sweep_dirs(root: Path) -> list[Path]:
    return sorted(p.parent for p in (root / "outputs" / "multirun").glob("*/*/multirun.yaml")) or \
        sorted(p.parent for p in (root / "outputs" / "multirun").glob("*/*/sweep_summary.csv"))


def rows(sweep_dir: Path) -> list[dict]:
    with open(sweep_dir / "sweep_summary.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_failed_job_does_not_stop_the_sweep(cli, tmp_path):
    out = cli("train", "-m", *TINY, "optimizer.lr=0.1,-1", cwd=tmp_path)
    assert out.returncode == 1, out.stderr
    assert "1 sweep job(s) failed" in out.stderr and "Traceback" not in out.stderr
    (sweep_dir,) = sweep_dirs(tmp_path)
    table = {r["job"]: r for r in rows(sweep_dir)}
    assert table["0"]["status"] == "ok" and float(table["0"]["best_val"]) >= 0
    assert (sweep_dir / "0" / "summary.json").is_file() and (sweep_dir / "0" / "checkpoints" / "best.pt").is_file()
    assert table["1"]["status"] == "failed"
    assert table["1"]["error"] == "optimizer.lr=-1: must be a number > 0"
    assert (sweep_dir / "1" / "error.txt").read_text().strip() == table["1"]["error"]
    assert "job 1 failed" in out.stdout + out.stderr


def _append(args):
    path, i = args
    sweep.append_row(Path(path), {"job": i, "status": "ok", "overrides": f"seed={i}", f"test_m{i % 3}": i / 10})


def test_rows_from_parallel_processes_are_never_lost(tmp_path):
    path = tmp_path / "sweep_summary.csv"
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        pool.map(_append, [(str(path), i) for i in range(16)])
    table = rows(tmp_path)
    assert [int(r["job"]) for r in table] == list(range(16))       # every row, sorted by job
    assert {"test_m0", "test_m1", "test_m2"} <= set(table[0])      # header widened for new columns
    assert table[4]["test_m1"] == "0.4" and table[4]["test_m0"] == ""


def test_missing_plugin_names_the_extra(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    assert "pip install 'mlrun-classic[sweep]'" in sweep.missing_plugin(["-m", "hparams_search=optuna"])
    assert "[slurm]" in sweep.missing_plugin(["hydra/launcher=submitit_slurm"])
    assert sweep.missing_plugin(["optimizer=sgd"]) is None


def test_missing_plugin_is_one_line_from_the_command(cli, tmp_path):
    out = cli("train", "-m", "hydra/launcher=ray", cwd=tmp_path)
    if has("hydra_plugins.hydra_ray_launcher"):
        pytest.skip("the ray launcher is installed")
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "hydra_ray_launcher" in out.stderr


@needs_joblib
@pytest.mark.slow                       # subprocesses: > 15 s on 2 cores
def test_joblib_two_parallel_jobs_get_their_own_run_dirs(cli, tmp_path):
    out = cli("train", "-m", *TINY, "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "seed=0,1", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    (sweep_dir,) = sweep_dirs(tmp_path)
    table = rows(sweep_dir)
    assert sorted(r["job"] for r in table) == ["0", "1"] and all(r["status"] == "ok" for r in table)
    assert len({r["run_dir"] for r in table}) == 2
    for r in table:
        assert (Path(r["run_dir"]) / "summary.json").is_file()
    assert "Joblib.Parallel(n_jobs=2" in out.stdout + out.stderr


@needs_sweep
@pytest.mark.slow                       # subprocesses: > 15 s on 2 cores
@pytest.mark.filterwarnings("ignore::DeprecationWarning")    # optuna 2.10 on SQLAlchemy 1.4 warns about 2.0
def test_optuna_search_returns_its_best_and_resumes_the_study(cli, tmp_path):
    import optuna
    import yaml

    args = ["train", "-m", "hparams_search=optuna", *TINY, "trainer.epochs=2"]
    first = cli(*args, "hydra.sweeper.n_trials=2", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    second = cli(*args, "hydra.sweeper.n_trials=1", cwd=tmp_path)      # same study: continues it
    assert second.returncode == 0, second.stderr
    study = optuna.load_study(study_name="logistic-iris", storage=f"sqlite:///{tmp_path / 'outputs' / 'optuna.db'}")
    assert len(study.trials) == 3 and study.direction == optuna.study.StudyDirection.MAXIMIZE   # val acc
    values = [float(r["best_val"]) for d in sweep_dirs(tmp_path) for r in rows(d)]
    assert sorted(values) == pytest.approx(sorted(t.value for t in study.trials), abs=1e-6)
    last = sweep_dirs(tmp_path)[-1]
    best = yaml.safe_load((last / "optimization_results.yaml").read_text())
    assert best["best_value"] == pytest.approx(max(values))
    assert set(best["best_params"]) == {"optimizer.lr", "trainer.batch_size", "trainer.l2"}


@needs_sweep
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_optuna_search_where_every_trial_fails_ends_in_one_line(cli, tmp_path):
    import optuna

    out = cli("train", "-m", "hparams_search=optuna", *TINY, "hydra.sweeper.n_trials=2", "optimizer.lr=-1",
              cwd=tmp_path)
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
    assert "mlrun train: error: 2 sweep job(s) failed (first: optimizer.lr=-1: must be a number > 0)" in out.stderr
    (sweep_dir,) = sweep_dirs(tmp_path)
    assert [r["status"] for r in rows(sweep_dir)] == ["failed", "failed"]
    study = optuna.load_study(study_name="logistic-iris", storage=f"sqlite:///{tmp_path / 'outputs' / 'optuna.db'}")
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.FAIL] * 2


@needs_submitit
@pytest.mark.slow
def test_submitit_local_two_jobs(cli, tmp_path):
    out = cli("train", "-m", *TINY, "hydra/launcher=submitit_local", "seed=0,1", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    (sweep_dir,) = sweep_dirs(tmp_path)
    table = rows(sweep_dir)
    assert sorted(r["job"] for r in table) == ["0", "1"] and all(r["status"] == "ok" for r in table)
    assert all((sweep_dir / j / "summary.json").is_file() for j in ("0", "1"))


@needs_sweep
def test_optuna_preset_takes_its_direction_from_the_metric(cfg, monkeypatch, tmp_path):
    from omegaconf import OmegaConf

    from mlrun import metrics

    c = cfg("hparams_search=optuna", "dataset=iris")                    # the preset composes
    root = OmegaConf.create({"dataset": OmegaConf.to_container(c.dataset), "seed": 0})
    assert sweep._direction(_root_=root) == "maximize"                   # val acc
    monkeypatch.setitem(metrics.HIGHER_IS_BETTER, "acc", False)           # a metric where lower is better
    assert sweep._direction(_root_=root) == "minimize"
    assert sweep._optuna_storage(str(tmp_path / "out")) == f"sqlite:///{tmp_path / 'out' / 'optuna.db'}"
    assert (tmp_path / "out").is_dir()


def test_precheck_accepts_optuna_intervals_and_names_a_bad_key():
    from mlrun.paths import config_dir
    from mlrun.precheck import check_overrides

    assert check_overrides(config_dir(), ["model.dropout=interval(0,0.5)", "optimizer.lr=tag(log,interval(1e-4,1))"]) \
        is None
    assert check_overrides(config_dir(), ["model.dropou=interval(0,0.5)"]).startswith("model.dropou=0.0: unknown key")
