"""mlrun's Optuna sweeper: the override grammar as a search space, ask/tell without a batch barrier on a launcher
with submit(), batches on one without, pruned / failed / cached jobs told in Optuna's terms, bad keys in one line."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna", minversion="4")

from hydra.core.utils import JobReturn, JobStatus  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

from mlrun.errors import UserError  # noqa: E402
from mlrun.sweep import space  # noqa: E402
from mlrun.sweep.search import Search  # noqa: E402

D = optuna.distributions


def test_the_override_grammar_becomes_distributions_and_fixed_values():
    dists, fixed = space.parse(["optimizer.lr=tag(log, interval(0.0001, 0.3))", "model.dropout=interval(0.0, 0.5)",
                                "model.width=tag(int, interval(16, 256))", "trainer.batch_size=choice(16, 32, 64)",
                                "model.depth=range(1, 4)", "seed=3", "model.dropout=interval(0.1, 0.2)"])
    assert dists["optimizer.lr"] == D.FloatDistribution(0.0001, 0.3, log=True)
    assert dists["model.dropout"] == D.FloatDistribution(0.1, 0.2)            # the later override wins
    assert dists["model.width"] == D.IntDistribution(16, 256)
    assert dists["trainer.batch_size"] == D.CategoricalDistribution((16, 32, 64))
    assert dists["model.depth"] == D.IntDistribution(1, 3)                  # range's end is excluded
    assert fixed == {"seed": "3"}
    assert space.grid({"a": dists["trainer.batch_size"], "b": dists["model.depth"]}) == \
        {"a": [16, 32, 64], "b": [1, 2, 3]}
    assert space.overrides({"optimizer.lr": 0.01, "model.hidden": "[32]"}, {"seed": "3"}) == \
        ["optimizer.lr=0.01", "model.hidden=[32]", "seed=3"]


@pytest.mark.parametrize("bad, says", [
    (["optimizer.lr=interval(0.3, 0.1)"], "need lo < hi"),
    (["optimizer.lr=tag(log, interval(0, 0.1))"], "lo > 0 on a log scale"),
    (["optimizer.lr=interval(0.1"], "hydra.sweeper.params:"),
    (["optimizer.lr=tag(lg, interval(0.1, 0.2))"], "unknown tag.s. lg in tag.*valid tags are log, int"),
])
def test_a_bad_range_is_one_line(bad, says):
    with pytest.raises(UserError, match=says):
        space.parse(bad)


def test_grid_refuses_an_interval():
    dists, _ = space.parse(["optimizer.lr=interval(0.1, 0.3)"])
    with pytest.raises(UserError, match="sampler=grid: optimizer.lr is an interval"):
        space.grid(dists)


class Jobs:
    """A fake launcher: each job's value is its lr override; `slow` jobs sleep longer. Records the jobs in flight."""

    def __init__(self, root: Path, slow: int = -1, status: dict | None = None):
        self.root, self.slow, self.status = root, slow, status or {}
        self.lock, self.running, self.most, self.log = threading.Lock(), 0, 0, []

    def job(self, overrides: list[str], idx: int) -> JobReturn:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
            self.log.append(("start", idx))
        time.sleep(0.3 if idx == self.slow else 0.02)
        out = self.root / str(idx)
        out.mkdir(parents=True, exist_ok=True)
        status = self.status.get(idx, "ok")
        (out / "summary.json").write_text(json.dumps({"status": status}))
        ret = JobReturn(overrides=overrides, hydra_cfg=OmegaConf.create({"hydra": {"runtime": {"output_dir": str(out)}}}))
        ret.status = JobStatus.FAILED if status == "failed" else JobStatus.COMPLETED
        ret._return_value = RuntimeError("boom") if status == "failed" else \
            float(next(o for o in overrides if o.startswith("optimizer.lr=")).split("=")[1])
        with self.lock:
            self.running -= 1
            self.log.append(("end", idx))
        return ret


class Pool(Jobs):
    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.executor = ThreadPoolExecutor(4)

    def submit(self, overrides, job_idx):
        return self.executor.submit(self.job, overrides, job_idx)


class Batches(Jobs):
    def launch(self, batch, initial_job_idx):
        with ThreadPoolExecutor(len(batch)) as ex:
            return list(ex.map(self.job, batch, range(initial_job_idx, initial_job_idx + len(batch))))


def search(tmp_path: Path, launcher, **conf) -> Search:
    conf = {"n_trials": 6, "n_jobs": 2, "sampler": "random", "seed": 0, "study_name": "s", "direction": "maximize",
            "params": {"optimizer.lr": "interval(0.0, 1.0)"}} | conf
    return Search(conf, OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path)}}}), launcher)


def test_a_submit_launcher_gets_a_new_trial_as_soon_as_one_finishes(tmp_path):
    pool = Pool(tmp_path, slow=0)
    s = search(tmp_path, pool)
    s.run(["seed=1"])
    assert pool.most == 2                                                    # n_jobs in flight, never more
    starts = [i for e, i in pool.log if e == "start"]
    assert sorted(starts) == list(range(6))
    assert pool.log.index(("start", 5)) < pool.log.index(("end", 0))        # no barrier: 1..5 ran beside job 0
    results = OmegaConf.load(tmp_path / "optimization_results.yaml")
    assert results.trials == {"complete": 6} and (tmp_path / "multirun.yaml").is_file()


def test_a_plain_launcher_gets_batches_and_each_outcome_is_told(tmp_path):
    launcher = Batches(tmp_path, status={1: "pruned", 2: "failed", 3: "cached"})
    s = search(tmp_path, launcher, n_trials=5, storage=f"sqlite:///{tmp_path / 'o.db'}")
    s.run([])
    starts = [i for e, i in launcher.log if e == "start"]
    assert launcher.log.index(("start", 2)) > launcher.log.index(("end", 1))   # batches of 2: a barrier
    study = optuna.load_study(study_name="s", storage=f"sqlite:///{tmp_path / 'o.db'}")
    states = [t.state.name for t in study.trials]
    assert sorted(starts) == list(range(5))
    assert states == ["COMPLETE", "PRUNED", "FAIL", "COMPLETE", "COMPLETE"]
    assert study.trials[3].value == pytest.approx(float(study.trials[3].params["optimizer.lr"]))


def test_grid_sampler_runs_each_point_once(tmp_path):
    pool = Pool(tmp_path)
    s = search(tmp_path, pool, sampler="grid", n_trials=10, params={"optimizer.lr": "choice(0.1, 0.2, 0.3)"})
    s.run([])
    assert s.n_trials == 3
    assert OmegaConf.load(tmp_path / "optimization_results.yaml").best_value == pytest.approx(0.3)


@pytest.mark.parametrize("key, value, says", [
    ("sampler", "bogus", "hydra.sweeper.sampler='bogus': valid choices are tpe, random, grid, cmaes, gp"),
    ("pruner", "bogus", "hydra.sweeper.pruner='bogus': valid choices are none, median, asha, hyperband"),
    ("n_jobs", 0, "hydra.sweeper.n_jobs=0: expected an integer ≥ 1"),
    ("storage", "/nowhere/x.db", "hydra.sweeper.storage='/nowhere/x.db': expected sqlite:///"),
    ("storage", "sqlite:////nowhere/at/all/x.db", "the folder /nowhere/at/all does not exist"),
])
def test_bad_sweeper_keys_are_one_line(tmp_path, key, value, says):
    with pytest.raises(UserError) as e:
        search(tmp_path, Pool(tmp_path), **{key: value})
    assert says in str(e.value) and "\n" not in str(e.value)


def test_pruning_without_a_storage_is_refused(tmp_path):
    with pytest.raises(UserError, match="pruner=median: pruning needs a storage"):
        search(tmp_path, Pool(tmp_path), pruner="median", storage=None)


TINY = ["dataset=iris", "model=logistic", "model.solver=gradient", "device=cpu"]


@pytest.mark.slow                       # subprocess searches: ~30 s on 2 busy cores
def test_a_pruned_search_from_the_command(cli, tmp_path):
    import csv

    out = cli("train", "-m", "hparams_search=optuna", *TINY, "trainer.epochs=4", "trainer.patience=0",
              "hydra.sweeper.n_trials=5", "optimizer.lr=tag(log,interval(0.00001,1.0))", "hydra.sweeper.pruner=median",
              "hydra.sweeper.pruners.median.n_startup_trials=1", "hydra.sweeper.pruners.median.n_warmup_steps=0",
              cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    (sweep,) = (tmp_path / "outputs" / "multirun").glob("*/*")
    table = list(csv.DictReader(open(sweep / "sweep_summary.csv")))
    study = optuna.load_study(study_name=OmegaConf.load(sweep / "optimization_results.yaml").study_name,
                              storage=f"sqlite:///{tmp_path / 'outputs' / 'optuna.db'}")
    assert [r["status"] for r in table] == [{"COMPLETE": "ok", "PRUNED": "pruned"}[t.state.name] for t in study.trials]
    pruned = [r for r in table if r["status"] == "pruned"]
    assert pruned and all(int(r["epochs_run"]) < 4 for r in pruned)
    assert f"5 jobs, 0 failed, {len(pruned)} pruned" in out.stdout


@pytest.mark.slow
def test_a_finished_grid_again_is_cached_and_cache_false_trains(cli, tmp_path):
    import csv

    grid = ["train", "-m", *TINY, "trainer.epochs=1", "optimizer.lr=0.1,0.05"]
    assert cli(*grid, cwd=tmp_path).returncode == 0
    again = cli(*grid, cwd=tmp_path)
    assert again.returncode == 0 and "2 jobs, 0 failed, 2 cached" in again.stdout
    forced = cli(*grid, "cache=false", cwd=tmp_path)
    assert forced.returncode == 0 and "cached" not in forced.stdout.split("sweep summary:")[1].split("\n")[0]
    first, second, third = sorted((tmp_path / "outputs" / "multirun").glob("*/*"))
    for job in ("0", "1"):
        summary = json.loads((second / job / "summary.json").read_text())
        assert summary["status"] == "cached" and summary["cached_from"] == str((first / job).resolve())
        assert summary["best_val_acc"] == json.loads((first / job / "summary.json").read_text())["best_val_acc"]
    assert [r["status"] for r in csv.DictReader(open(third / "sweep_summary.csv"))] == ["ok", "ok"]


@pytest.mark.parametrize("sampler", ["tpe", "random", pytest.param("cmaes", marks=pytest.mark.slow), "gp"])
def test_every_sampler_runs_a_search(tmp_path, sampler):
    pool = Pool(tmp_path)
    search(tmp_path, pool, sampler=sampler, n_trials=3, n_jobs=1,
           params={"optimizer.lr": "interval(0.0, 1.0)", "model.width": "tag(int, interval(1, 8))"}).run([])
    assert OmegaConf.load(tmp_path / "optimization_results.yaml").trials == {"complete": 3}


def test_a_rerun_is_told_to_its_study_as_a_new_trial(tmp_path):
    """A killed job's trial (left RUNNING) is marked FAIL and the rerun's value added with the same params."""
    from mlrun.sweep.search import tell_rerun

    url = f"sqlite:///{tmp_path / 'o.db'}"
    study = optuna.create_study(study_name="s", storage=url, direction="maximize")
    killed = study.ask({"optimizer.lr": D.FloatDistribution(1e-4, 0.3, log=True)})
    job = tmp_path / "sweep" / "3"
    job.mkdir(parents=True)
    ref = {"study_name": "s", "storage": url, "trial": killed._trial_id}
    ran = [f"optimizer.lr={killed.params['optimizer.lr']!r}", "dataset=iris"]      # the job's stored overrides
    assert "no finite value" in tell_rerun(ref, job, ran)               # the rerun failed again: nothing added
    (job / "summary.json").write_text(json.dumps({"status": "ok", "monitor": "val_acc", "best_val_acc": 0.9}))
    assert "not trial 0's params" in tell_rerun(ref, job, ["optimizer.lr=0.5", "dataset=iris"])   # edited
    assert "trial 0 again = 0.9" in tell_rerun(ref, job, ran)
    old, new = optuna.load_study(study_name="s", storage=url).trials
    assert old.state.name == "FAIL" and new.state.name == "COMPLETE" and new.value == 0.9
    assert new.params == old.params and new.user_attrs == {"rerun_of": 0}
    assert OmegaConf.load(tmp_path / "sweep" / "optimization_results.yaml").best_value == 0.9
    for storage in ("postgresql://elsewhere/db", f"sqlite:///{tmp_path / 'none.db'}", "journal:/no/such/folder/j"):
        said = tell_rerun({**ref, "storage": storage}, job, ran)         # a stranger's folder: no connection made
        assert "not a local file that exists" in said and not (tmp_path / "none.db").exists()
    assert "not told: KeyError" in tell_rerun({**ref, "study_name": "other"}, job, ran)
    import sqlite3

    theirs = tmp_path / "theirs.db"                                      # someone's database: never given tables
    with sqlite3.connect(theirs) as con:
        con.execute("CREATE TABLE mydata (x)")
    assert "not an Optuna SQLite database" in tell_rerun({**ref, "storage": f"sqlite:///{theirs}"}, job, ran)
    with sqlite3.connect(theirs) as con:
        assert [r[0] for r in con.execute("SELECT name FROM sqlite_master")] == ["mydata"]


@pytest.mark.slow                       # a search killed mid-trial, then `mlrun rerun`: ~20 s
def test_a_killed_search_job_is_rerun_and_told(cli, tmp_path):
    import os
    import signal
    import subprocess
    import sys

    search = [sys.executable, "-m", "mlrun", "train", "-m", "hparams_search=optuna", "dataset=digits", "model=mlp",
              "device=cpu", "trainer.epochs=30", "trainer.patience=0", "trainer.threads=1", "hydra.sweeper.n_trials=2"]
    p = subprocess.Popen(search, cwd=tmp_path, start_new_session=True, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and p.poll() is None:
        metrics = list((tmp_path / "outputs" / "multirun").glob("*/*/1/metrics.csv"))
        if metrics and metrics[0].read_text().count("\n") >= 2:        # the second trial is training
            break
        time.sleep(0.1)
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    (sweep,) = (tmp_path / "outputs" / "multirun").glob("*/*")
    assert not (sweep / "1" / "summary.json").exists()
    out = cli("rerun", str(sweep), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "job 1 (unfinished)" in out.stdout and "told study" in out.stdout
    (name,) = optuna.get_all_study_names(f"sqlite:///{tmp_path / 'outputs' / 'optuna.db'}")
    trials = optuna.load_study(study_name=name, storage=f"sqlite:///{tmp_path / 'outputs' / 'optuna.db'}").trials
    assert [t.state.name for t in trials] == ["COMPLETE", "FAIL", "COMPLETE"]
    assert trials[2].params == trials[1].params and trials[2].user_attrs["rerun_of"] == 1
    summary = json.loads((sweep / "1" / "summary.json").read_text())
    assert trials[2].value == summary["best_val_acc"]
    assert OmegaConf.load(sweep / "optimization_results.yaml").trials.complete == 2


def test_a_resumed_seeded_search_suggests_new_points_and_keeps_its_direction(tmp_path):
    url = f"sqlite:///{tmp_path / 'o.db'}"
    for _ in range(2):                                     # the same command twice: 3 + 3 trials, 6 distinct points
        search(tmp_path, Pool(tmp_path), n_trials=3, storage=url).run([])
    study = optuna.load_study(study_name="s", storage=url)
    assert len({t.params["optimizer.lr"] for t in study.trials}) == 6
    with pytest.raises(UserError, match="hydra.sweeper.direction=minimize: study 's' .* was made to maximize"):
        search(tmp_path, Pool(tmp_path), n_trials=1, storage=url, direction="minimize").run([])
    assert len(optuna.load_study(study_name="s", storage=url).trials) == 6


@pytest.mark.parametrize("content, scheme, says", [
    (b"hi\n", "journal:", "is not an Optuna journal file"),
    (b'{"user": "data"}\n', "journal:", "is not an Optuna journal file"),
    (b"hello\n", "sqlite:///", "is not an Optuna SQLite database"),
])
def test_a_storage_file_that_is_not_optunas_is_refused_and_left_alone(tmp_path, content, scheme, says):
    theirs = tmp_path / "theirs.txt"
    theirs.write_bytes(content)
    with pytest.raises(UserError, match=says):
        search(tmp_path, Pool(tmp_path), n_trials=1, storage=f"{scheme}{theirs}")
    assert theirs.read_bytes() == content


def test_a_stopped_search_leaves_no_trial_running(tmp_path):
    from mlrun.errors import Stopped

    class Interrupted(Batches):
        def launch(self, batch, initial_job_idx):
            raise Stopped(2, "stopped by SIGINT")

    url = f"sqlite:///{tmp_path / 'o.db'}"
    with pytest.raises(Stopped):
        search(tmp_path, Interrupted(tmp_path), n_trials=2, storage=url).run([])
    assert [t.state.name for t in optuna.load_study(study_name="s", storage=url).trials] == ["FAIL", "FAIL"]
