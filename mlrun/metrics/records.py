"""One epoch record and one early-stopping rule, shared by the gradient loop and every solver.

A record holds only what was measured: `lr` is left out for solvers without a learning rate, `val_*` when the
val split is empty (mlrun.runtime.outputs prints what is there).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mlrun.metrics.tasks import HIGHER_IS_BETTER


def epoch_record(epoch: int, train_loss: float, val: dict, metric: str, seconds: float, samples_per_second: float,
                 lr: float | None = None, **extra) -> dict:
    """{epoch, train_loss, val_loss, val_<metric>, lr?, epoch_seconds, samples_per_second, **extra}.
    val: mlrun.metrics.scoring.evaluate's scores of the val split ({} or NaNs when it is empty)."""
    record = {"epoch": epoch, "train_loss": train_loss, "val_loss": val.get("loss", math.nan),
              f"val_{metric}": val.get(metric, math.nan)}
    if lr is not None:
        record["lr"] = lr
    return record | {"epoch_seconds": seconds, "samples_per_second": samples_per_second, **extra}


@dataclass
class Monitor:
    """Watches the monitored val metric: `update(value)` says whether it improved; `done` after `patience`
    epochs without improvement (0 = never). With no val split every epoch counts as the best (the last wins).

    Ties: an epoch that equals the best metric with a lower val `loss` also counts as improved. Accuracy on a small
    val split moves in steps of 1/N (iris: 23 rows, 4.3 points) and stops rising long before the model stops
    improving; without the tie-break early stopping ended the default MLP on iris after 13–32 epochs and kept the
    first, least trained epoch of the plateau (experiments/defaults/README.md: the MLP rows, 5 seeds)."""
    metric: str
    patience: int = 0
    best: float | None = None              # best value so far
    since_best: int = 0                    # epochs since it improved
    best_loss: float | None = None         # val loss at the best epoch: breaks ties of a coarse metric

    def update(self, value: float, has_val: bool = True, loss: float | None = None) -> bool:
        higher = HIGHER_IS_BETTER[self.metric]
        if not has_val:
            improved = True
        else:                              # NaN (diverged) never improves
            improved = not math.isnan(value) and (
                self.best is None or (value > self.best if higher else value < self.best)
                or (value == self.best and loss is not None and self.best_loss is not None
                    and loss < self.best_loss))
        if improved:
            self.best, self.since_best, self.best_loss = value, 0, loss
        else:
            self.since_best += 1
        return improved

    @property
    def done(self) -> bool:
        return bool(self.patience) and self.since_best >= self.patience
