"""Sweeps: failures recorded and reported, parallel launchers, Optuna search resumed from its sqlite study."""

from __future__ import annotations

import csv
import multiprocessing
from pathlib import Path

import pytest

from mlrun.sweep import summary as sweep

TINY = ["dataset=iris", "model=logistic", "device=cpu", "trainer.epochs=1"]


def has(module: str) -> bool:
    return sweep._importable(module)          # False, not an exception, where hydra_plugins itself is missing


def optuna_major() -> int:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return int(version("optuna").split(".")[0])
    except PackageNotFoundError:
        return 0


needs_sweep = pytest.mark.skipif(optuna_major() < 4, reason="extra [sweep] (Optuna ≥ 4) not installed")
needs_joblib = pytest.mark.skipif(not has("hydra_plugins.hydra_joblib_launcher"), reason="extra [sweep] not installed")
needs_submitit = pytest.mark.skipif(not has("hydra_plugins.hydra_submitit_launcher"),
                                    reason="extra [slurm] not installed")


def sweep_dirs(root: Path) -> list[Path]:
    return sorted(p.parent for p in (root / "outputs" / "multirun").glob("*/*/multirun.yaml")) or \
        sorted(p.parent for p in (root / "outputs" / "multirun").glob("*/*/sweep_summary.csv"))


def rows(sweep_dir: Path) -> list[dict]:
    with open(sweep_dir / "sweep_summary.csv", newline="") as f:
        return list(csv.DictReader(f))


def printed_table(stdout: str) -> list[str]:
    """The header and row lines of the table `mlrun train -m` prints when the sweep ends."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("run  "))
    end = next(i for i, line in enumerate(lines[start + 1:] + [""], start + 1) if not line[:1].isdigit())
    return lines[start:end]


def test_failed_job_does_not_stop_the_sweep_and_the_table_is_printed_best_first(cli, tmp_path):
    out = cli("train", "-m", *TINY, "optimizer.lr=0.01,0.1,-1", cwd=tmp_path)
    assert out.returncode == 1, out.stderr
    assert "1 sweep job(s) failed" in out.stderr and "Traceback" not in out.stderr
    (sweep_dir,) = sweep_dirs(tmp_path)
    table = {r["job"]: r for r in rows(sweep_dir)}
    assert table["0"]["status"] == table["1"]["status"] == "ok" and float(table["0"]["best_val"]) >= 0
    assert (sweep_dir / "0" / "summary.json").is_file() and (sweep_dir / "0" / "checkpoints" / "best.pt").is_file()
    assert table["2"]["status"] == "failed"
    assert table["2"]["error"] == "optimizer.lr=-1: must be a number > 0"
    assert (sweep_dir / "2" / "error.txt").read_text().strip() == table["2"]["error"]
    assert "job 2 failed" in out.stdout + out.stderr
    lines = printed_table(out.stdout)                                    # the sweep ends with its table
    assert max(map(len, lines)) <= 120
    header, *printed = [line.split() for line in lines]
    assert header[:4] == ["run", "optimizer.lr", "status", "val_acc"]
    best = sorted("01", key=lambda j: -float(table[j]["best_val"]))     # stable: a tie keeps job order
    assert [r[0] for r in printed] == [*best, "2"]                      # best first, the failed job last
    assert [float(r[3]) for r in printed[:2]] == pytest.approx([float(table[j]["best_val"]) for j in best], abs=1e-3)
    assert printed[2][1:3] == ["-1", "failed"]


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
def test_optuna_search_returns_its_best_and_resumes_the_study(cli, tmp_path):
    import optuna
    import yaml

    args = ["train", "-m", "hparams_search=optuna", *TINY, "trainer.epochs=2"]
    first = cli(*args, "hydra.sweeper.n_trials=2", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    second = cli(*args, "hydra.sweeper.n_trials=1", cwd=tmp_path)      # same study: continues it
    assert second.returncode == 0, second.stderr
    storage = f"sqlite:///{tmp_path / 'outputs' / 'optuna.db'}"
    (summary,) = optuna.get_all_study_summaries(storage, include_best_trial=False)   # one study, continued
    assert summary.study_name.startswith("optuna-logistic-iris-")
    study = optuna.load_study(study_name=summary.study_name, storage=storage)
    assert len(study.trials) == 3 and study.direction == optuna.study.StudyDirection.MAXIMIZE   # val acc
    values = [float(r["best_val"]) for d in sweep_dirs(tmp_path) for r in rows(d)]
    assert sorted(values) == pytest.approx(sorted(t.value for t in study.trials), abs=1e-6)
    last = sweep_dirs(tmp_path)[-1]
    best = yaml.safe_load((last / "optimization_results.yaml").read_text())
    assert best["best_value"] == pytest.approx(max(values))
    assert set(best["best_params"]) == {"optimizer.lr", "trainer.batch_size", "trainer.l2"}


@needs_sweep
def test_optuna_search_where_every_trial_fails_ends_in_one_line(cli, tmp_path):
    import optuna

    out = cli("train", "-m", "hparams_search=optuna", *TINY, "hydra.sweeper.n_trials=2", "optimizer.lr=-1",
              cwd=tmp_path)
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
    assert "mlrun train: error: 2 sweep job(s) failed (first: optimizer.lr=-1: must be a number > 0)" in out.stderr
    (sweep_dir,) = sweep_dirs(tmp_path)
    assert [r["status"] for r in rows(sweep_dir)] == ["failed", "failed"]
    storage = f"sqlite:///{tmp_path / 'outputs' / 'optuna.db'}"
    (summary,) = optuna.get_all_study_summaries(storage, include_best_trial=False)
    assert summary.study_name == study_name("hparams_search=optuna", *TINY, "hydra.sweeper.n_trials=2", "optimizer.lr=-1")
    study = optuna.load_study(study_name=summary.study_name, storage=storage)
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

    from mlrun.metrics import tasks as metrics

    c = cfg("hparams_search=optuna", "dataset=iris")                    # the preset composes
    root = OmegaConf.create({"dataset": OmegaConf.to_container(c.dataset), "seed": 0})
    assert sweep._direction(_root_=root) == "maximize"                   # val acc
    monkeypatch.setitem(metrics.HIGHER_IS_BETTER, "acc", False)           # a metric where lower is better
    assert sweep._direction(_root_=root) == "minimize"
    assert sweep._optuna_storage(str(tmp_path / "out")) == f"sqlite:///{tmp_path / 'out' / 'optuna.db'}"
    assert (tmp_path / "out").is_dir()


def test_precheck_accepts_optuna_intervals_and_names_a_bad_key():
    from mlrun.paths import config_dir
    from mlrun.config.precheck import check_overrides

    assert check_overrides(config_dir(), ["model.dropout=interval(0,0.5)", "optimizer.lr=tag(log,interval(1e-4,1))"]) \
        is None
    assert check_overrides(config_dir(), ["model.dropou=interval(0,0.5)"]).startswith("model.dropou=0.0: unknown key")


def study_name(*overrides: str) -> str:
    """hydra.sweeper.study_name as `mlrun train -m OVERRIDES` resolves it (the sweep's own config)."""
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.types import RunMode

    from mlrun.paths import config_dir

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        c = GlobalHydra.instance().config_loader().load_configuration("config", list(overrides),
                                                                      run_mode=RunMode.MULTIRUN, from_shell=True)
    GlobalHydra.instance().clear()
    return c.hydra.sweeper.study_name


@needs_sweep
def test_study_name_tells_searches_apart_and_stays_for_the_same_command():
    base = study_name("hparams_search=optuna", "dataset=iris", "model=logistic", "trainer.epochs=2")
    assert base.startswith("optuna-logistic-iris-") and len(base.rsplit("-", 1)[1]) == 8
    same = [study_name("hparams_search=optuna", "trainer.epochs=2", "model=logistic", "dataset=iris"),   # reordered
            study_name("hparams_search=optuna", "dataset=iris", "model=logistic", "trainer.epochs=2",
                       "hydra.sweeper.n_trials=5", "hydra/launcher=joblib", "name=more")]         # more trials
    assert same == [base, base]
    other = {
        "preset": study_name("hparams_search=optuna_mlp", "dataset=iris", "model=logistic", "trainer.epochs=2"),
        "fixed value": study_name("hparams_search=optuna", "dataset=iris", "model=logistic", "trainer.epochs=3"),
        "range": study_name("hparams_search=optuna", "dataset=iris", "model=logistic", "trainer.epochs=2",
                            "optimizer.lr=tag(log,interval(0.001,0.05))"),
        "pinned key": study_name("hparams_search=optuna", "dataset=iris", "model=logistic", "trainer.epochs=2",
                                 "optimizer.lr=0.01"),
    }
    assert other["preset"].startswith("optuna_mlp-logistic-iris-")
    assert len({base, *other.values()}) == 5                            # each a study of its own
