"""An Optuna search run by Hydra (`hydra/sweeper=mlrun_optuna`, chosen by the hparams_search presets):

    mlrun train -m hparams_search=optuna dataset=iris hydra.sweeper.n_trials=8
    mlrun train -m hparams_search=optuna_mlp hydra.sweeper.sampler=random hydra.sweeper.pruner=median
    mlrun train -m hparams_search=optuna hydra.sweeper.storage=journal:outputs/optuna.journal

Each trial is asked (ask/tell) and launched as one Hydra job with its sampled overrides plus three for the job's own
use: hydra.sweeper.study_name / storage / trial, through which the job opens its trial and reports each epoch
(mlrun.fit.trial; a pruner may stop it). The study lives in the storage, so the same command again resumes it.

Launching: a launcher with `submit(overrides, job_idx) -> Future[JobReturn]` (an asynchronous pool) gets a new trial
as soon as any running one finishes, at most n_jobs in flight; any other launcher gets batches of n_jobs through
`launch()` (each batch waits for its slowest job). How a job ended is read from its summary.json: `pruned` → a
PRUNED trial, `ok`/`cached` → COMPLETE with its value; a failed job (or a non-finite value) → FAIL.
"""

from __future__ import annotations

import json
import logging
import math
from concurrent.futures import FIRST_COMPLETED, wait
from pathlib import Path

from omegaconf import OmegaConf

from mlrun.errors import UserError
from mlrun.fit.trial import (PRUNERS, check_storage_file, make_pruner, open_storage, quiet_optuna, storage_path,
                             storage_url)
from mlrun.sweep import space as spaces

log = logging.getLogger("mlrun")

# hydra.sweeper.sampler → optuna.samplers class (gp: Gaussian process, needs torch and scipy; cmaes: the cmaes package)
SAMPLERS = {"tpe": "TPESampler", "random": "RandomSampler", "grid": "GridSampler", "cmaes": "CmaEsSampler",
            "gp": "GPSampler"}


class Search:
    """One invocation of a search: `run(arguments)` asks, launches and tells `n_trials` trials."""

    def __init__(self, conf: dict, config, launcher):
        self.conf, self.config, self.launcher = conf, config, launcher
        self.n_trials = _count("n_trials", conf.get("n_trials", 20))
        self.n_jobs = _count("n_jobs", conf.get("n_jobs", 1))
        self.sampler_name = _choice("sampler", str(conf.get("sampler", "tpe")), SAMPLERS)
        self.pruner_name = _choice("pruner", str(conf.get("pruner", "none")), PRUNERS)
        self.storage = storage_url(conf.get("storage"))
        check_storage_file(self.storage)
        if self.pruner_name != "none" and self.storage is None:
            raise UserError(f"hydra.sweeper.pruner={self.pruner_name}: pruning needs a storage the jobs can reach; "
                            f"set hydra.sweeper.storage (sqlite:///<path>.db or journal:<path>)")
        self.direction = _choice("direction", str(conf.get("direction", "maximize")),
                                 {"maximize": 1, "minimize": 1})
        self.sweep_dir = Path(str(config.hydra.sweep.dir))
        self.job_idx, self.failures, self.told = 0, 0, 0
        self.asked: set[int] = set()           # trial numbers asked in this invocation
        self._fixed: dict = {}                 # keys the command line fixed: the same in every trial

    def run(self, arguments: list[str]) -> None:
        import optuna

        quiet_optuna()
        params = [f"{k}={v}" for k, v in (self.conf.get("params") or {}).items()]
        space, fixed = spaces.parse(params + arguments)
        for key in fixed:
            space.pop(key, None)
        self._fixed = fixed
        sampler = self._sampler(space)
        study = self._study(sampler)
        if len(study.trials):         # resumed: a seeded sampler would suggest the first invocation's points again
            study.sampler = self._sampler(space, offset=len(study.trials))
        self.sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, self.sweep_dir / "multirun.yaml")   # as Hydra's basic sweeper: rerun reads it
        log.info("study %s (%s, sampler=%s, pruner=%s): %d trials, %d at a time%s", study.study_name,
                 self.storage or "in memory", self.sampler_name, self.pruner_name, self.n_trials, self.n_jobs,
                 "" if hasattr(self.launcher, "submit") else " (in batches)")
        def ask():
            trial = study.ask(fixed_distributions=space)    # the sampled params cover the space
            self.asked.add(trial.number)
            return trial

        try:
            if hasattr(self.launcher, "submit"):
                self._pool(study, ask)
            else:
                self._batches(study, ask)
        finally:                      # stopped (Ctrl-C, SIGTERM): trials asked and never told end FAIL, not RUNNING
            for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
                if trial.number in self.asked:
                    study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
        write_results(study, self.sweep_dir)

    def _study(self, sampler):
        """The study, created or resumed; one line for a storage that cannot be opened or a direction that differs."""
        import optuna

        name = self.conf.get("study_name")
        try:
            study = optuna.create_study(study_name=name, storage=open_storage(self.storage), sampler=sampler,
                                        pruner=make_pruner(self.pruner_name, self._keys("pruners")),
                                        direction=self.direction, load_if_exists=True)
        except ValueError as e:
            raise UserError(f"hydra.sweeper.study_name={name}: {' '.join(str(e).split())}") from None
        except Exception as e:  # noqa: BLE001 - a missing database driver, a damaged or locked database file
            raise UserError(f"hydra.sweeper.storage={self.storage}: cannot open it ({type(e).__name__}: "
                            f"{' '.join(str(e).split())[:200]})") from None
        if study.direction.name.lower() != self.direction:
            raise UserError(f"hydra.sweeper.direction={self.direction}: study {study.study_name!r} in "
                            f"{self.storage} was made to {study.direction.name.lower()}; give it another "
                            f"hydra.sweeper.study_name, or drop the direction")
        return study

    def _keys(self, group: str) -> dict:
        name = self.sampler_name if group == "samplers" else self.pruner_name
        keys = (self.conf.get(group) or {}).get(name) or {}
        return dict(OmegaConf.to_container(keys) if OmegaConf.is_config(keys) else keys)

    def _sampler(self, space: dict, offset: int = 0):
        """The sampler; `offset` (trials already in a resumed study) moves its seed so new points are suggested."""
        import optuna

        keys, seed = self._keys("samplers"), self.conf.get("seed")
        if seed is not None and offset:
            seed = int(seed) + offset
        if self.sampler_name == "grid":
            values = spaces.grid(space)
            size = math.prod(len(v) for v in values.values())
            if size < self.n_trials:
                log.info("sampler=grid: %d grid points, so %d trials (not %d)", size, size, self.n_trials)
                self.n_trials = size
            keys["search_space"] = values
        try:
            return getattr(optuna.samplers, SAMPLERS[self.sampler_name])(seed=seed, **keys)
        except (TypeError, ValueError, ImportError) as e:
            raise UserError(f"hydra.sweeper.sampler={self.sampler_name}: {' '.join(str(e).split())}") from None

    def _job(self, study, trial) -> list[str]:
        """The trial's overrides, plus where its job finds the trial (mlrun.fit.trial)."""
        # the storage's trial id (Optuna keeps it private; optuna.trial.Trial(study, id) is how a job reopens it)
        own = [f"hydra.sweeper.study_name={_quote(study.study_name)}", f"hydra.sweeper.trial={trial._trial_id}"]
        if self.storage is not None:
            own.append(f"hydra.sweeper.storage={_quote(self.storage)}")
        return [*spaces.overrides(trial.params, self._fixed), *own]

    def _batches(self, study, ask) -> None:
        left = self.n_trials
        while left > 0 and not self._too_many_failures():
            trials = [ask() for _ in range(min(self.n_jobs, left))]
            returns = self.launcher.launch([self._job(study, t) for t in trials], initial_job_idx=self.job_idx)
            self.job_idx += len(returns)
            for trial, ret in zip(trials, returns):
                self._tell(study, trial, ret)
            left -= len(trials)

    def _pool(self, study, ask) -> None:
        """No batch barrier: a new trial as soon as any running one has finished, at most n_jobs in flight."""
        running, asked = {}, 0
        while running or (asked < self.n_trials and not self._too_many_failures()):
            while asked < self.n_trials and len(running) < self.n_jobs and not self._too_many_failures():
                trial = ask()
                running[self.launcher.submit(self._job(study, trial), self.job_idx)] = trial
                self.job_idx += 1
                asked += 1
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in done:
                trial = running.pop(future)
                try:
                    ret = future.result()
                except Exception as e:  # noqa: BLE001 - the worker died or the pool failed: a FAIL trial
                    log.error("trial %d failed in the launcher: %s: %s", trial.number, type(e).__name__, e)
                    ret = None
                self._tell(study, trial, ret)

    def _tell(self, study, trial, ret) -> None:
        import optuna

        State = optuna.trial.TrialState
        status, value = _outcome(ret)
        self.told += 1
        self.failures += status == "failed"
        try:
            if status == "pruned":
                study.tell(trial, state=State.PRUNED)
            elif status == "ok":
                study.tell(trial, value)
            else:
                study.tell(trial, state=State.FAIL)
        except RuntimeError as e:      # GridSampler stops the study once every point ran: told all the same
            if "Study.stop" not in str(e):
                raise

    def _too_many_failures(self) -> bool:
        rate = float(self.conf.get("max_failure_rate", 1.0))
        if self.told and self.failures / self.told > rate:
            log.error("%d of %d trials failed (more than hydra.sweeper.max_failure_rate=%g): no new trials",
                      self.failures, self.told, rate)
            return True
        return False


def write_results(study, sweep_dir: Path) -> None:
    """optimization_results.yaml: the best trial over the whole study (every invocation); counts by state."""
    import optuna

    trials = study.get_trials(deepcopy=False)
    counts = {s.name.lower(): sum(t.state == s for t in trials) for s in optuna.trial.TrialState}
    out = {"name": "optuna", "study_name": study.study_name, "trials": {k: v for k, v in counts.items() if v}}
    if counts.get("complete"):
        best = study.best_trial
        out |= {"best_params": best.params, "best_value": best.value, "best_trial": best.number}
        log.info("best trial %d of study %s: %s = %s", best.number, study.study_name, best.params, best.value)
    OmegaConf.save(OmegaConf.create(out), sweep_dir / "optimization_results.yaml")


def tell_rerun(ref: dict, folder: Path, overrides: list[str]) -> str:
    """Tell the study of a search job's trial what its rerun (`mlrun rerun`, in `folder`) gave; a line for the log.

    The trial the job first ran as is finished (FAIL) or was left RUNNING by a killed job (then marked FAIL now):
    Optuna never reopens a finished trial, so the rerun is added as a new trial with the same params and
    distributions, COMPLETE with the rerun's best monitored val metric (user attr `rerun_of`: the old trial's number),
    and the sweep's optimization_results.yaml is written again. The sampler sees it from the search's next invocation
    on. A rerun that failed again adds nothing, nor one whose `overrides` do not hold the trial's params."""
    import optuna

    quiet_optuna()
    State = optuna.trial.TrialState
    try:                                     # the folder's files are untrusted: only a local file that exists
        url = storage_url(ref["storage"]) or ""
    except UserError:
        url = ""
    path = storage_path(url)
    if path is None or not path.is_file() or path.stat().st_size == 0:
        return f"study {ref['study_name']!r} not told: its storage {ref['storage']!r} is not a local file that exists"
    try:
        check_storage_file(url)
    except UserError as e:
        return f"study {ref['study_name']!r} not told: {e}"
    try:
        study = optuna.load_study(study_name=ref["study_name"], storage=open_storage(url))
        old = study._storage.get_trial(ref["trial"])      # noqa: SLF001 - the id the sweeper gave the job
    except Exception as e:  # noqa: BLE001 - no such study or trial, an unreadable file: the rerun's result stands
        return f"study {ref['study_name']!r} not told: {type(e).__name__}: {' '.join(str(e).split())[:200]}"
    stored = spaces.overrides(old.params, {})
    if not set(stored) <= set(overrides):                 # the job's overrides were edited: not this trial's point
        return f"study {study.study_name!r} not told: the job's overrides are not trial {old.number}'s params"
    if old.state == State.RUNNING:                        # its job was killed: the trial never ended
        study._storage.set_trial_state_values(old._trial_id, State.FAIL)   # noqa: SLF001
    s = _read_summary(folder / "summary.json")
    value = s.get(f"best_{s.get('monitor')}") if s.get("status") in ("ok", "cached") else None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return f"study {study.study_name!r} not told: the rerun gave no finite value"
    study.add_trial(optuna.trial.create_trial(params=old.params, distributions=old.distributions, value=float(value),
                                              user_attrs={**old.user_attrs, "rerun_of": old.number}))
    write_results(study, folder.parent)
    return f"told study {study.study_name!r}: trial {old.number} again = {value:.6g} (a new trial)"


def _outcome(ret) -> tuple[str, float | None]:
    """(ok | pruned | failed, value) of a JobReturn: its summary.json's status, its return value."""
    from hydra.core.utils import JobStatus

    if ret is None or ret.status != JobStatus.COMPLETED:
        return "failed", None
    try:
        value = float(ret.return_value)
    except (TypeError, ValueError):
        return "failed", None
    status = _summary_status(ret)
    if status == "pruned":
        return "pruned", value
    return ("ok", value) if math.isfinite(value) else ("failed", None)


def _summary_status(ret) -> str | None:
    try:
        path = Path(str(ret.hydra_cfg.hydra.runtime.output_dir)) / "summary.json"
    except AttributeError:
        return None
    status = _read_summary(path).get("status")
    return status if isinstance(status, str) else None


def _read_summary(path: Path) -> dict:
    """A job's summary.json (bounded: 4 MiB), {} when absent or unreadable."""
    try:
        if path.stat().st_size > 4 << 20:
            return {}
        s = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return s if isinstance(s, dict) else {}


def _quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _count(key: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UserError(f"hydra.sweeper.{key}={value!r}: expected an integer ≥ 1")
    return value


def _choice(key: str, value: str, valid) -> str:
    if value not in valid:
        raise UserError(f"hydra.sweeper.{key}={value!r}: valid choices are {', '.join(valid)}")
    return value
