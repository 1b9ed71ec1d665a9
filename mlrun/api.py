"""The Python API, for notebooks and scripts: the same runs as the command, returned as objects.

    import mlrun
    result = mlrun.train(["model=mlp", "dataset=digits", "trainer.epochs=5"])   # same overrides as the shell
    result.summary["test_acc"], result.run_dir, result.metrics                   # metrics: metrics.csv as a DataFrame
    model = mlrun.load(result.run_dir)                                            # model + preprocessing
    preds = model.predict(frame_or_tensor)                                        # DataFrame: row, prediction, ...

`train` runs `mlrun train` in this process — the same composition, validation, run folder, outputs and messages —
and raises `mlrun.UserError` (the one-line message; `.code` = the command's exit status) instead of exiting.
"""

from __future__ import annotations

import contextlib
import io
import json
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from mlrun.errors import UserError


@dataclass
class Result:
    run_dir: Path           # the run folder under output_root (absolute)
    summary: dict           # summary.json: test metrics of the best epoch's weights, best epoch, time, ...
    metrics: pd.DataFrame   # metrics.csv: one row per epoch
    best_val: float         # the best monitored validation metric (what a sweeper optimises)


def train(overrides: list[str] | str = ()) -> Result:
    """`mlrun train OVERRIDES` in this process; a list of `key=value` strings, or one string split like a shell."""
    from mlrun.cli import train as command

    argv = shlex.split(overrides) if isinstance(overrides, str) else [str(o) for o in overrides]
    if any(a in ("-m", "--multirun", "--help", "-h", "--cfg", "-c") for a in argv):
        raise UserError(f"mlrun.train runs one job; {' '.join(a for a in argv if a.startswith('-'))} belongs to the "
                        f"shell command (mlrun train ...)")
    started: list = []
    err, saved_argv = io.StringIO(), list(sys.argv)
    try:
        with contextlib.redirect_stderr(err), own_logging():
            command.main(argv, started)
    except SystemExit as e:
        if e.code:
            line = err.getvalue().strip().splitlines()[-1:] or [f"mlrun train exited with status {e.code}"]
            error = UserError(line[0].removeprefix("mlrun train: error: "))
            error.code = e.code
            raise error from None
    finally:
        sys.argv = saved_argv
    launch = started[0]
    run_dir = Path(launch.run_dir).resolve()
    return Result(run_dir, json.loads((run_dir / "summary.json").read_text()),
                  pd.read_csv(run_dir / "metrics.csv"), launch.result)


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
