"""Hydra's `@hydra.main` for `mlrun train`, below the Python API (mlrun.api) and the command (mlrun.cli.train):
start Hydra on an argv, and run each of its jobs (mlrun.fit.run.train) in Hydra's output folder.

- `run_hydra(argv, task)`: Hydra reads its command line from sys.argv (and shell completion its program name), so
  sys.argv is set for the call and restored after it; nothing else of the process changes.
- `run_task(cfg, launch)`: one job. In a single run every failure leaves as a typed error (mlrun.errors:
  UserError 2, RunFailed 1, RunDiverged 3, RunStopped 130/143) after the run folder is settled: a folder this
  command made and that holds no checkpoint is removed; a diverged run keeps its folder and `error.txt`. Hydra's
  run_job and run_and_report catch every Exception a task raises and print a traceback, so the error travels out
  inside `Escape` (a BaseException, as sys.exit would) and `run_hydra` returns it. In a sweep (-m) a
  failed job writes `error.txt`, logs one line and the other jobs go on; the caller reads the rows afterwards.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from pathlib import Path

from mlrun.errors import JobFailed, RunDiverged, RunFailed, RunStopped, Stopped, UserError
from mlrun.paths import config_dir


class Escape(BaseException):
    """Carries a job's typed error through Hydra to `run_hydra`."""

    def __init__(self, error: UserError):
        super().__init__(str(error))
        self.error = error


def run_hydra(argv: list[str], task) -> UserError | None:
    """`hydra.main(conf/, config)(task)` on `argv` (Hydra's flags and overrides), as `mlrun train ARGV` would run it;
    returns the typed error a job ended the command with (None: Hydra returned). HYDRA_FULL_ERROR=1 for the call:
    Hydra's own errors (a bad hydra.* value, a sweeper's) reach the caller as exceptions to put in one line, not as
    a printed traceback and exit 1."""
    import hydra

    completion = any(a in ("-sc", "--shell-completion") for a in argv)
    saved_argv, saved_full = list(sys.argv), os.environ.get("HYDRA_FULL_ERROR")
    sys.argv = ["mlrun" if completion else "mlrun train", *argv]   # the completion script registers `mlrun`
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        hydra.main(config_path=str(config_dir()), config_name="config", version_base="1.3")(task)()
    except Escape as e:
        return e.error
    finally:
        sys.argv = saved_argv
        if saved_full is None:
            os.environ.pop("HYDRA_FULL_ERROR", None)
        else:
            os.environ["HYDRA_FULL_ERROR"] = saved_full
    return None


def task_for(launch):
    """Hydra's task function for `launch` (a mlrun.fit.launch.Launch; None where no folder was settled): a single
    run's folder (where Hydra placed it, when the user named only hydra.sweep.dir) and its best monitored value
    land in `launch.run_dir` and `launch.result`."""
    def task(cfg) -> float:
        if launch is not None and launch.run_dir is None and launch.sweep_dir is None:
            from hydra.core.hydra_config import HydraConfig

            launch.run_dir = Path(HydraConfig.get().runtime.output_dir)
        value = run_task(cfg, launch)
        if launch is not None:
            launch.result = value
        return value

    return task


def run_task(cfg, launch) -> float:
    """One job: train `cfg` in Hydra's output folder (see the module docstring for failures). On resume the
    checkpoint's config is trained, not Hydra's: Hydra composed only this command's overrides, which
    mlrun.fit.launch has already merged into the checkpoint's config (or refused)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from mlrun.fit import cache

    hc = HydraConfig.get()
    run_dir = Path(hc.runtime.output_dir)
    multirun = hc.mode == RunMode.MULTIRUN
    resume = launch.resume if launch is not None else None
    owner = launch.owner if launch is not None else True
    if multirun and resume is None:  # the run cache first: a cached job imports no torch (mlrun.fit.cache)
        try:
            with _locked(run_dir, launch, owner):
                cached = cache.reuse(cfg, run_dir)
        except (UserError, OSError) as e:          # a broken index or an unwritable folder: this job fails
            return _job_failed(hc, run_dir, _line(e, run_dir), e, launch)
        if cached is not None:
            logging.getLogger("mlrun").info("job %s: cached, not trained: %s", hc.job.num, run_dir)
            return cached
    mine = owner and resume is None and (launch is None or launch.claimed)   # a folder this command made
    from mlrun.fit.run import train                   # below the cache: torch is imported from here on
    from mlrun.fit.trial import open_trial
    from mlrun.runtime.faults import on_signals, stop_now
    from mlrun.runtime.rundir import remove_stale_temporaries

    try:
        with on_signals(stop_now), _locked(run_dir, launch, owner):   # one process per run folder
            if owner:
                remove_stale_temporaries(run_dir)
            if resume is not None:   # the loop installs its own handler: stop at the next step boundary
                return train(resume["cfg"], run_dir, resume=resume["payload"])
            if multirun:
                share_cores(hc.launcher.get("n_jobs"))
            value = train(cfg, run_dir, trial=open_trial(hc.sweeper) if multirun else None)
            if owner:
                cache.remember(cfg, run_dir)
            return value
    except Stopped as e:                 # exit 130 (SIGINT) / 143 (SIGTERM)
        raise Escape(_stopped(e, run_dir, launch, mine)) from None
    except Exception as e:  # noqa: BLE001 - in a sweep any failure is recorded and the other jobs go on
        if Stopped.received is not None and not isinstance(e, RunStopped):   # a cleanup failed as the stop unwound
            raise Escape(_stopped(Stopped.received, run_dir, launch, mine)) from None
        if not multirun and not isinstance(e, (UserError, OSError)):
            raise
        line = _line(e, run_dir)
        if multirun:
            return _job_failed(hc, run_dir, line, e, launch)
        raise Escape(_failed(e, line, run_dir, owner, resume is not None, mine)) from None


@contextlib.contextmanager
def _locked(run_dir: Path, launch, owner: bool):
    """The run folder's lock for the run: the one taken when the folder was claimed (a folder the user named), or
    taken now (a second flock from this process on another descriptor would refuse itself)."""
    from mlrun.runtime.rundir import RunLock

    held = getattr(launch, "lock", None)
    if not owner or (held is not None and held.path.parent.resolve() == run_dir.resolve()):
        yield
        return
    with RunLock(run_dir):
        yield


def _stopped(e: Stopped, run_dir: Path, launch, mine: bool) -> RunStopped:
    from mlrun.runtime.rundir import discard

    if launch is not None and not launch.owner:          # rank 0 says it
        return RunStopped("", e.code)
    last = run_dir / "checkpoints" / "last.pt"
    if not last.exists() and (launch is None or launch.resume is None):
        logging.shutdown()
        if mine:
            discard(run_dir)
        return RunStopped(f"{e}; nothing was saved", e.code)
    how = f"mlrun train resume={run_dir}"
    if launch is not None and launch.sweep_dir is not None:   # a sweep's job: its rerun keeps the sweep's records
        return RunStopped(f"{e}; checkpoint {last}; run the sweep's unfinished jobs again with: mlrun rerun "
                          f"{launch.sweep_dir}", e.code)
    if launch is not None and launch.world > 1:
        how = f"torchrun --nproc_per_node=<N> -m {how}"
    return RunStopped(f"{e}; checkpoint {last}; resume with: {how}", e.code, resume=how)


def _failed(e: Exception, line: str, run_dir: Path, owner: bool, resumed: bool, mine: bool) -> UserError:
    """A single run's failure as its typed error, the run folder settled first."""
    from mlrun.runtime.faults import Diverged
    from mlrun.runtime.rundir import discard

    if isinstance(e, Diverged):          # keep the run folder: metrics.csv, last good checkpoints
        if owner:
            (run_dir / "error.txt").write_text(line + "\n")
        error = RunDiverged(line, run_dir)
    elif isinstance(e, OSError):
        error = RunFailed(line)
    else:
        if mine and not (run_dir / "checkpoints").exists():
            logging.shutdown()           # failed before training: leave no half-made run behind
            discard(run_dir)
        elif not resumed and owner:
            (run_dir / "error.txt").write_text(line + "\n")
        error = e if str(e) == line else UserError(line)
    if error is not e:
        error.__cause__ = e
    return error


def share_cores(n_jobs) -> int:
    """A sweep job's torch threads: the machine's cores ÷ the launcher's parallel jobs (joblib's n_jobs; -1 = one
    job per core), at least 1, unless trainer.threads says otherwise (then mlrun.fit.build sets it). Without this,
    2 jobs × torch's 2 default threads on 2 cores oversubscribe and the sweep runs no faster than in sequence."""
    import torch

    cores = os.cpu_count() or 1
    jobs = cores if n_jobs == -1 else (n_jobs if isinstance(n_jobs, int) and n_jobs > 0 else 1)
    threads = max(1, cores // jobs)
    if jobs > 1:
        torch.set_num_threads(threads)
    return threads


def _line(e: Exception, run_dir: Path) -> str:
    if isinstance(e, OSError):           # disk full, folder removed or made read-only during the run
        return f"cannot write the run folder {run_dir}: {e.strerror or e} ({getattr(e, 'filename', '') or ''})"
    line = " ".join(str(e).split())
    return line if isinstance(e, UserError) else f"{type(e).__name__}: {line}"


def _job_failed(hc, run_dir: Path, line: str, e: Exception, launch) -> float:
    """A failed sweep job: error.txt in its folder, a log line, and the sweeper told in its own terms."""
    (run_dir / "error.txt").write_text(line + "\n")
    logging.getLogger("mlrun").error("job %s failed: %s", hc.job.num, line, exc_info=not isinstance(e, UserError))
    if launch is not None:
        launch.failed.append(str(run_dir))
    if "optuna" in str(hc.sweeper.get("_target_")):   # a raise makes a FAIL trial; NaN crashes that sweeper
        raise JobFailed(line) from None
    return float("nan")
