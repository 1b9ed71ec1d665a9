"""User-facing errors: one line naming the key, the bad value and the valid choices."""

from __future__ import annotations

import math


class UserError(Exception):
    """A mistake the user can fix (bad value, missing file, missing GPU). Printed as one line, exit `code` (2).
    The Python API raises it (and the subclasses below) where the command would print its line and exit."""

    code = 2                             # the exit status of the command


class RunFailed(UserError):
    """The run folder could not be written, or sweep jobs failed (the other jobs finished): exit 1."""

    code = 1


class RunDiverged(UserError):
    """trainer.nan_policy=stop ended the run on NaN/Inf: exit 3; the run folder and its last good checkpoints
    stay (`run_dir`)."""

    code = 3

    def __init__(self, message: str, run_dir=None):
        super().__init__(message)
        self.run_dir = run_dir


class RunStopped(UserError):
    """SIGINT/SIGTERM ended the run: exit 128 + signal (130, 143). `resume`: the command that continues it (None
    when nothing was saved). An empty message: a DDP rank other than 0, which exits without a line (rank 0 says it)."""

    def __init__(self, message: str, code: int, resume: str | None = None):
        super().__init__(message)
        self.code, self.resume = code, resume


class JobFailed(Exception):
    """Raised by a failed sweep job under the Optuna sweeper, which then records a FAIL trial and goes on."""


class Stopped(BaseException):
    """SIGINT/SIGTERM ended the command; exit 128 + signal. A BaseException, so that no `except Exception` on the
    way (Hydra's instantiate, a dataset reader) turns a stop into an error blamed on a config group."""

    received: Stopped | None = None      # the first stop since the process (or mlrun.api.run) began: `fail` says it

    def __init__(self, signum: int, message: str):
        super().__init__(message)
        self.code = 128 + signum
        if Stopped.received is None:
            Stopped.received = self


def stop_later_if_importing(signum: int, frame) -> bool:
    """For a signal handler about to raise `Stopped`: when the interrupted code is inside an import, send the same
    signal again in 50 ms and return True (do not raise now). Raising inside an import can cross a C++ extension's
    init: SIGTERM during `import torch` aborted the process (std::terminate, exit -6; tests/runtime/test_faults.py)."""
    import os
    import threading

    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib._bootstrap"):
            timer = threading.Timer(0.05, os.kill, (os.getpid(), signum))
            timer.daemon = True
            timer.start()
            return True
        frame = frame.f_back
    return False


def check(ok: bool, key: str, value, allowed: str) -> None:
    """Raise `UserError("key=value: allowed")` unless `ok`."""
    if not ok:
        raise UserError(f"{key}={value!r}: {allowed}")


def number(key: str, value, low: float = float("-inf"), high: float = float("inf"), *,
           low_open: bool = False, integer: bool = False) -> None:
    """Fail unless `value` is a number (an int when `integer`) in [low, high] ((low, high] when `low_open`)."""
    kind = int if integer else (int, float)
    ok = isinstance(value, kind) and not isinstance(value, bool)
    finite = not ok or math.isfinite(value)
    ok = ok and finite
    ok = ok and (value > low if low_open else value >= low) and value <= high
    if not ok:
        what = "an integer" if integer else ("a number" if finite else "a finite number")
        lo = f"> {low:g}" if low_open else f"≥ {low:g}"
        rng = lo if high == float("inf") else f"in {'(' if low_open else '['}{low:g}, {high:g}]"
        raise UserError(f"{key}={value!r}: must be {what} {rng}")


def choose(table: dict, key: str, value):
    """Look `value` up in `table`, or fail with the list of valid names."""
    try:
        return table[value]
    except (KeyError, TypeError):
        raise UserError(f"{key}={value!r}: valid choices are {', '.join(map(str, table))}") from None


def find_user_error(exc: BaseException) -> UserError | None:
    """The UserError behind `exc` (Hydra's instantiate wraps errors raised by targets), if any."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, UserError):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None
