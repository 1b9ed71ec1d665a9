"""Evaluation metrics on device tensors (one host sync per call site, not per batch).

No `import torch` at module level: the names below (METRICS, HIGHER_IS_BETTER) are read by processes that never
train — a joblib sweep's launching process when it prints the jobs' table, `mlrun report` — and importing torch
there costs ~1.3 s on a 2-core machine. The functions receive tensors and use only their methods.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

FLOAT32_TINY = 1.1754943508222875e-38       # torch.finfo(torch.float32).tiny: keeps ss_tot of a constant target > 0

METRICS = {"regression": ("r2", "rmse", "mae"), "binary": ("acc",), "multiclass": ("acc",),
           "ratings": ("rmse", "mae"), "unsupervised": ("recon_error",), "trajectory": ("traj_mse",)}
# top-k ranking metrics of recommenders (mlrun.metrics.ranking), named `<name>@<k>`, e.g. ndcg@10; larger is better
RANKING = ("precision", "recall", "ndcg", "map", "hit_rate", "coverage")


class _Directions(dict):
    """A dict that also answers for every `<ranking name>@<k>` (True: larger is better)."""

    def __missing__(self, key):
        name, _, k = str(key).partition("@")
        if name in RANKING and k.isdigit():
            return True
        raise KeyError(key)

    def get(self, key, default=None):
        try:
            return self[key]
        except KeyError:
            return default


# monitored metric → True when larger is better
HIGHER_IS_BETTER = _Directions({"acc": True, "r2": True, "rmse": False, "mae": False, "loss": False,
                    "recon_error": False,     # recon_error: mean ‖x − x̂‖² per example (unsupervised)
                    "traj_mse": False})


def _regression(out: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    err = out.float() - y                                       # (N, targets)
    ss_res = err.pow(2).sum(0)
    ss_tot = (y - y.mean(0)).pow(2).sum(0).clamp_min(FLOAT32_TINY)
    return {"r2": (1 - ss_res / ss_tot).mean(),                 # averaged over targets, as scikit-learn
            "rmse": err.pow(2).mean().sqrt(), "mae": err.abs().mean()}


def _ratings(out: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    err = out.float() - y                                       # (N,) predicted − true ratings
    return {"rmse": err.pow(2).mean().sqrt(), "mae": err.abs().mean()}


TASK_METRICS = {
    "regression": _regression,
    "binary": lambda out, y: {"acc": ((out[:, 0] > 0) == (y > 0.5)).float().mean()},
    "multiclass": lambda out, y: {"acc": (out.argmax(dim=1) == y).float().mean()},
    "ratings": _ratings,
    "unsupervised": lambda out, y: {"recon_error": out.float().mean()},      # out: per-example ‖x − x̂‖² (N, 1)
    "trajectory": lambda out, y: {"traj_mse": (out.float() - y).pow(2).mean()},   # over examples, times, dims
}


def task_metrics(out: torch.Tensor, y: torch.Tensor, task: str) -> dict[str, torch.Tensor]:
    """Shapes as in mlrun.fit.losses. Returns the 0-d tensors named in METRICS[task]."""
    return TASK_METRICS[task](out, y)
