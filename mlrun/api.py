"""The Python API, for notebooks and scripts, and the core that the `mlrun train` command is a shell over.

    import mlrun
    result = mlrun.train(["model=mlp", "dataset=digits", "trainer.epochs=5"])   # same overrides as the shell
    result = mlrun.train("model=mlp trainer.epochs=5", quiet=True)              # no epoch lines, no progress bar
    result.summary["test_acc"], result.run_dir, result.metrics                   # metrics: metrics.csv as a DataFrame
    model = mlrun.load(result.run_dir)                                            # model + preprocessing
    preds = model.predict(frame_or_tensor)                                        # DataFrame: row, prediction, ...

`run(argv)` is `mlrun train ARGV` without the exit: it checks the overrides, claims the run (or sweep) folder
(mlrun.fit.launch), runs Hydra and the training in this process (mlrun.fit.hydra_run) and raises typed errors
(mlrun.errors): `UserError` with `.code` = the command's exit status (2), `RunFailed` (1: the run folder could not
be written, sweep jobs failed), `RunDiverged` (3), `RunStopped` (130/143, SIGINT/SIGTERM). mlrun.cli.train prints
their one line and exits with `.code`. `train(overrides)` is one job of it, returned as a `Result`.

One train at a time per process: Hydra's state (its global config store, the logging it configures, the command
line its parser reads, the signal handlers) is process-wide, so calls from several threads run one after the
other (a lock); a call from inside a running train (a callback) is refused in one line.
"""

from __future__ import annotations

import contextlib
import json
import shlex
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from mlrun.config.compose import user_searchpath
from mlrun.config.precheck import check_overrides
from mlrun.errors import RunFailed, RunStopped, Stopped, UserError
from mlrun.fit.hydra_run import run_hydra, task_for
from mlrun.fit.launch import Launch, drop_if_empty, drop_unfinished, prepare
from mlrun.paths import config_dir
from mlrun.sweep import summary as sweep

INFO_FLAGS = ("-h", "--help", "--hydra-help", "--info", "-i", "--shell-completion", "-sc")
MULTIRUN = ("-m", "--multirun")
SHOW_CFG = ("--cfg", "-c")


@dataclass
class Result:
    run_dir: Path           # the run folder under output_root (absolute)
    summary: dict           # summary.json: test metrics of the best epoch's weights, best epoch, time, ...
    metrics: object         # metrics.csv as a pandas DataFrame: one row per epoch
    best_val: float         # the best monitored validation metric (what a sweeper optimises)


QUIET = "++hydra.job_logging.handlers.console.level=WARNING"    # the console shows warnings and errors only


def train(overrides: list[str] | str = (), quiet: bool = False) -> Result:
    """`mlrun train OVERRIDES` in this process; a list of `key=value` strings, or one string split like a shell.
    `quiet=True`: no epoch lines and no progress bar on the console (a notebook, a script looping over runs);
    warnings still show, and the run's train.log keeps every line."""
    if not isinstance(quiet, bool):
        raise UserError(f"mlrun.train: quiet={quiet!r}: must be True or False")
    argv = _overrides(overrides) + ([QUIET] if quiet else [])
    with own_logging():
        launch = run(argv)
    import pandas as pd     # here, not at the top: the command imports this module and never needs pandas

    run_dir = Path(launch.run_dir).resolve()
    return Result(run_dir, json.loads((run_dir / "summary.json").read_text()),
                  pd.read_csv(run_dir / "metrics.csv"), launch.result)


def _overrides(overrides) -> list[str]:
    if isinstance(overrides, str):
        try:
            argv = shlex.split(overrides)
        except ValueError as e:                                  # an unbalanced quote
            raise UserError(f"mlrun.train({overrides!r}): {e}") from None
    elif isinstance(overrides, (list, tuple)) and all(isinstance(o, str) for o in overrides):
        argv = list(overrides)
    else:
        bad = overrides if not isinstance(overrides, (list, tuple)) else next(
            o for o in overrides if not isinstance(o, str))
        raise UserError(f"mlrun.train: overrides must be a list of 'key=value' strings or one string like a shell "
                        f"line, not {type(bad).__name__} ({bad!r:.60})")
    flags = [a for a in argv if a.startswith("-")]
    if flags:
        raise UserError(f"mlrun.train runs one job; {' '.join(flags)} belongs to the shell command (mlrun train ...)")
    return argv


class _OneAtATime:
    """The process-wide train lock (see the module docstring)."""

    def __init__(self):
        self.lock, self.owner = threading.Lock(), None

    def __enter__(self):
        if self.owner == threading.get_ident():
            raise UserError("mlrun.train was called while a train is running in the same thread (from a callback?); "
                            "runs in one process go one at a time")
        self.lock.acquire()
        self.owner = threading.get_ident()

    def __exit__(self, *exc):
        self.owner = None
        self.lock.release()
        return False


_ONE_AT_A_TIME = _OneAtATime()


def run(argv: list[str]) -> Launch | None:
    """`mlrun train ARGV`: one run, a sweep (-m), or Hydra's --help/--cfg/--info/completion; the Launch record
    (None for those flags). Typed errors, see the module docstring; a folder this command claimed and did not
    train in is removed first."""
    with _ONE_AT_A_TIME:
        Stopped.received = None                    # a stop of an earlier run in this process (a notebook) is not ours
        sweep.register_resolvers()
        missing = sweep.missing_plugin(argv)
        if missing:
            raise UserError(missing)
        searchpath = user_searchpath()             # ./conf/<group>/<option>.yaml adds options without editing mlrun
        if searchpath:
            argv = [*argv, f"hydra.searchpath=[{searchpath}]"]
        if any(a in MULTIRUN for a in argv):       # flags first: argparse cannot split overrides around -m
            if any(a in SHOW_CFG for a in argv):   # Hydra would raise a ValueError
                raise UserError("--cfg prints one composed config; drop -m (and give one value per key) to see it")
            argv = ["-m", *[a for a in argv if a not in MULTIRUN]]
        launch = None
        try:
            if not any(a in INFO_FLAGS for a in argv):
                launch = _settle(argv, searchpath)
                argv = launch.argv if launch is not None else argv
            _hydra(argv, launch)
        except (Stopped, KeyboardInterrupt) as e:  # before the training loop took over: nothing worth keeping
            _stopped(e, launch)
        except Exception as e:
            if Stopped.received is not None and not isinstance(e, RunStopped):   # a library's cleanup failed as
                _stopped(Stopped.received, launch)                               # the stop unwound (Hydra's reader)
            if isinstance(e, OSError):             # e.g. the disk was full before the run could write .hydra/
                drop_unfinished(launch)
                raise RunFailed(f"cannot write the run folder: {e.strerror or e} ({e.filename or ''})") from None
            raise
        finally:
            if launch is not None:
                launch.release()
        return launch


def _settle(argv: list[str], searchpath: str | None) -> Launch | None:
    """Before Hydra: every override composes (one line if not), then the run's folder (not for --cfg)."""
    from hydra._internal.utils import get_args_parser   # Hydra's own parser: flags vs overrides

    problem = check_overrides(config_dir(), get_args_parser().parse_args(argv).overrides, searchpath)
    if problem:
        raise UserError(problem)
    return None if any(a in SHOW_CFG for a in argv) else prepare(argv, searchpath)


def _hydra(argv: list[str], launch: Launch | None) -> None:
    """Hydra runs the job(s); its own refusals become one line; failed sweep jobs end in RunFailed."""
    from hydra.errors import HydraException

    try:
        escaped = run_hydra(argv, task_for(launch))
    except Exception as e:
        rows = sweep.collect(launch.sweep_dir) if launch and launch.sweep_dir else []
        if isinstance(e, UserError) and not rows:          # e.g. a sweep callback refusing its launcher
            drop_if_empty(launch)
            raise
        if isinstance(e, HydraException) and not rows:     # a bad hydra.* override: one line, as Hydra would
            drop_if_empty(launch)
            raise UserError(str(e).split("\n")[0]) from e
        if not rows or any(r["status"] in sweep.DONE for r in rows):
            raise
        escaped = None                                     # every job failed: said below
    finally:
        if "mlrun.runtime.distributed" in sys.modules:     # imported only by a DDP run
            sys.modules["mlrun.runtime.distributed"].shutdown()
    if escaped is not None:
        raise escaped
    if launch is not None:
        _report_failed_jobs(launch)


def _report_failed_jobs(launch: Launch) -> None:
    """RunFailed (exit 1) when sweep jobs failed (in this process or, per the sweep's rows, elsewhere)."""
    rows = sweep.collect(launch.sweep_dir) if launch.sweep_dir else []
    failed = {d: "" for d in launch.failed} | {r["run_dir"]: r.get("error", "") for r in rows
                                                if r.get("status") not in sweep.DONE}
    if failed:
        first = next((e for e in failed.values() if e), "")
        raise RunFailed(f"{len(failed)} sweep job(s) failed{f' (first: {first})' if first else ''}; "
                        f"see error.txt in {', '.join(sorted(failed))}")


def _stopped(e: BaseException, launch: Launch | None):
    """A stop before the training loop took over: the claimed folder goes, RunStopped (exit 128 + signal)."""
    drop_unfinished(launch)
    raise RunStopped(f"{_stop_text(e)}; nothing was saved", getattr(e, "code", 130)) from None


def _stop_text(e: BaseException) -> str:
    return str(e) if isinstance(e, Stopped) else "stopped by SIGINT (KeyboardInterrupt) before training started"


@contextlib.contextmanager
def own_logging():
    """Hydra configures the root logger for each run (console + <run>/train.log); afterwards the caller's logging
    comes back, so a later log line never reopens the train.log of a finished (or removed) run folder."""
    import logging

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    loggers = {name: (list(lg.handlers), lg.level, lg.propagate) for name, lg in logging.root.manager.loggerDict.items()
               if isinstance(lg, logging.Logger)}
    try:
        yield
    finally:
        for h in root.handlers:
            if h not in handlers:
                h.close()
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, (hs, lv, prop) in loggers.items():
            lg = logging.getLogger(name)
            lg.handlers[:], lg.level, lg.propagate = hs, lv, prop


def load(path: str | Path, overrides: list[str] = ()):
    """A saved run (a run folder → its checkpoints/best.pt, or a .pt file) ready to `predict`."""
    from mlrun.infer.predict import Predictor

    return Predictor.load(path, list(overrides))
