"""Loss functions by name, checked against the task. Each maps (outputs, targets) → a scalar mean loss.

Shapes: regression outputs/targets (N, T); binary outputs (N, 1) logits, targets (N,) in {0, 1};
multiclass outputs (N, C) logits, targets (N,) int64 labels; ratings outputs/targets (N,) ratings;
unsupervised outputs (N, 1) per-example squared reconstruction error ‖x − x̂‖², targets ignored;
trajectory outputs/targets (N, T, d): y at T times.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from mlrun.datasets.spec import DataSpec
from mlrun.errors import UserError


def _binary_hinge(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.relu(1.0 - (2.0 * y - 1.0) * out[:, 0]).mean()    # labels {0,1} → {−1,+1}


def _trajectory(loss):
    """`loss` on (N, T, d) trajectories, refusing models whose outputs are not trajectories (no broadcasting)."""
    def traj_loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if out.shape != y.shape:
            raise UserError(f"task=trajectory: the model outputs {tuple(out.shape[1:])} per example, not y(t) of "
                            f"shape {tuple(y.shape[1:])}; use model=node")
        return loss(out, y)
    return traj_loss


LOSSES = {
    "regression": {
        "mse": F.mse_loss,
        "mae": F.l1_loss,
        "huber": F.huber_loss,                                  # delta 1.0: quadratic within ±1, linear beyond
    },
    "binary": {
        "bce": lambda out, y: F.binary_cross_entropy_with_logits(out[:, 0], y),
        "cross_entropy": lambda out, y: F.binary_cross_entropy_with_logits(out[:, 0], y),  # = bce for one logit
        "hinge": _binary_hinge,
    },
    "multiclass": {
        "cross_entropy": F.cross_entropy,                       # softmax + negative log-likelihood
        "hinge": F.multi_margin_loss,                           # Crammer–Singer-style multiclass margin, margin 1
    },
    "ratings": {
        "mse": F.mse_loss,                                      # outputs (N,) predicted ratings, targets (N,)
    },
    "unsupervised": {                                           # outputs (N, 1): per-example ‖x − x̂‖²; y unused
        "reconstruction": lambda out, y: out.mean(),
    },
    "trajectory": {
        "mse": _trajectory(F.mse_loss),                         # mean over examples, times and state dimensions
        "mae": _trajectory(F.l1_loss),
    },
}
ALL_LOSSES = ("mse", "mae", "huber", "cross_entropy", "bce", "hinge", "reconstruction")


def make_loss(name: str | None, spec: DataSpec):
    """The loss called `name` for `spec.task` (None: the dataset's default loss)."""
    name = name or spec.loss
    table = LOSSES[spec.task]
    if name not in table:
        why = "unknown loss" if name not in ALL_LOSSES else f"does not fit task={spec.task} (dataset={spec.name})"
        raise UserError(f"loss={name!r}: {why}; valid choices for this dataset are {', '.join(table)}")
    return table[name]
