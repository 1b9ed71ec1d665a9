"""Clean stops and divergence: SIGINT/SIGTERM end a run at the next step boundary with a checkpoint, and a
NaN/Inf loss ends it in one line (trainer.nan_policy=stop) with the last good checkpoints kept.

    kill -TERM <pid>      # → finishes the step, writes last.pt, exits 143 with `mlrun train resume=<run dir>`
    Ctrl-C                # → the same, exit 130; a second Ctrl-C stops at once (the last checkpoint stays valid)

The loop pays one attribute check per step (`Boundary.stop`, `Boundary.steps == Boundary.next`); the signal
handler only sets `stop`. NaN detection costs nothing per step: the epoch's summed loss (already read once per
epoch) and a finiteness check of the parameters tell whether the epoch went wrong.
"""

from __future__ import annotations

import math
import signal
import threading
from pathlib import Path
from typing import Callable

import torch

from mlrun.errors import Stopped, UserError, stop_later_if_importing  # noqa: F401 - Stopped: caught by the commands

EXIT_DIVERGED = 3                   # exit status of a run stopped by nan_policy=stop
SIGNALS = {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM"}


class Diverged(UserError):
    """The loss or the parameters became NaN/Inf (nan_policy=stop); the run folder and checkpoints stay."""


class Boundary:
    """What `mlrun.fit.loop.train_epoch` checks after each step: a stop request, or a periodic checkpoint.

    `reached(batches, total)` calls `save(batches, total)`; then raises `Stopped` when a signal asked to stop.
    Under DDP (`agree` set) the handler only records the signal and the processes agree at checkpoint steps.
    """

    def __init__(self, every: int = 0, save: Callable | None = None, agree: Callable | None = None):
        self.every = every                    # checkpoint every N optimiser steps; 0 = off
        self.steps = 0                        # optimiser steps taken (restored on resume)
        self.saved = 0                        # the step count at the last checkpoint
        self.next = -1                        # the step count of the next periodic checkpoint (-1 = none)
        self.stop = False                     # set by the signal handler: checkpoint after this step, then stop
        self.signum = 0                       # which signal
        self.save, self.agree = save, agree
        self.where = ""                       # "epoch E step S/N": filled by `save` for the stop message

    def restart(self, steps: int) -> None:
        self.steps = self.saved = steps
        self.next = (steps // self.every + 1) * self.every if self.every else -1

    def reached(self, batches: int, total: torch.Tensor) -> None:
        if self.every and self.steps == self.next:
            self.next += self.every
        if self.agree is not None:            # DDP: every process takes the same decision at the same step
            self.signum = self.agree(self.signum)
            self.stop = bool(self.signum)
        if self.save is not None:
            self.save(batches, total)
        if self.stop:
            raise self.stopped()

    def check_epoch_end(self) -> None:
        """At an epoch boundary (the checkpoint is written): stop now if a signal arrived."""
        if self.agree is not None:
            self.signum = self.agree(self.signum)
            self.stop = bool(self.signum)
        if self.stop:
            raise self.stopped()

    def stopped(self) -> Stopped:
        return Stopped(self.signum, f"stopped by {SIGNALS.get(self.signum, self.signum)} at {self.where}")

    def handler(self, signum, frame) -> None:
        if self.signum:                       # a second signal: stop now; the last checkpoint is intact
            if stop_later_if_importing(signum, frame):
                return
            raise Stopped(signum, f"stopped at once by a second {SIGNALS.get(signum, signum)}")
        self.signum = signum
        if self.agree is None:
            self.stop = True


def stop_now(signum, frame) -> None:
    """The handler outside the training loop (building, testing): stop at once; checkpoints are atomic."""
    if stop_later_if_importing(signum, frame):
        return
    raise Stopped(signum, f"stopped by {SIGNALS.get(signum, signum)} outside the training loop")


class on_signals:
    """Context manager: route SIGINT/SIGTERM to `handler` (main thread only); the previous handlers come back
    on exit."""

    def __init__(self, handler: Callable):
        self.handler, self.saved = handler, {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in SIGNALS:
                if signal.getsignal(sig) is not signal.SIG_IGN:   # ignored on purpose (nohup, `cmd &`): leave it
                    self.saved[sig] = signal.signal(sig, self.handler)
        return self

    def __exit__(self, *exc):
        for sig, old in self.saved.items():
            signal.signal(sig, old)
        return False


def finite(loss: float, model: torch.nn.Module) -> bool:
    """The epoch's loss and every parameter are finite (one host sync)."""
    if not math.isfinite(loss):
        return False
    params = [p.detach() for p in model.parameters()]
    return not params or bool(torch.stack([torch.isfinite(p).all() for p in params]).all())


def diverged(where: str, loss: float, checkpoint: str, lr, policy: str) -> Diverged:
    kept = f"the last good checkpoint is {checkpoint}" if checkpoint else "no checkpoint was written yet"
    hint = "lower optimizer.lr" + (f" (now {lr})" if lr is not None else "")
    hint += ", set trainer.clip_grad_norm" + (", or trainer.nan_policy=skip_batch" if policy == "stop" else "")
    return Diverged(f"non-finite {'loss' if not math.isfinite(loss) else 'parameters'} (train_loss={loss}) "
                    f"in {where} (trainer.nan_policy={policy}); {kept}; {hint}")


class NanGuard:
    """trainer.nan_policy's check at each checkpoint: `stop` ends the run on a NaN/Inf loss or parameter,
    `skip_batch` only on NaN/Inf parameters or an epoch that skipped every batch. The message names the optimiser
    steps since the last checkpoint (`boundary.saved + 1` to `boundary.steps`)."""

    def __init__(self, policy: str, model: torch.nn.Module, skipped: torch.Tensor | None, n_batches: int,
                 last: Path, lr):
        self.policy, self.model, self.skipped, self.n_batches, self.last, self.lr = (
            policy, model, skipped, n_batches, last, lr)

    def check(self, where: str, loss: float, boundary: Boundary) -> None:
        hopeless = self.skipped is not None and self.policy == "skip_batch" and int(self.skipped) >= self.n_batches
        if hopeless or not finite(loss if self.policy == "stop" else 0.0, self.model):
            raise diverged(f"{where}, optimiser steps {boundary.saved + 1}-{boundary.steps}", loss,
                           str(self.last) if self.last.exists() else "", self.lr, self.policy)
