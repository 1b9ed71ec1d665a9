"""Evaluation metrics on device tensors (one host sync per call site, not per batch)."""

from __future__ import annotations

import torch

METRICS = {"regression": ("r2", "rmse", "mae"), "binary": ("acc",), "multiclass": ("acc",),
           "ratings": ("rmse", "mae"), "unsupervised": ("recon_error",), "trajectory": ("traj_mse",)}
# monitored metric → True when larger is better
HIGHER_IS_BETTER = {"acc": True, "r2": True, "rmse": False, "mae": False, "loss": False,
                    "recon_error": False,     # recon_error: mean ‖x − x̂‖² per example (unsupervised)
                    "traj_mse": False}


def task_metrics(out: torch.Tensor, y: torch.Tensor, task: str) -> dict[str, torch.Tensor]:
    """Shapes as in mlrun.losses. Returns 0-d tensors: acc (classification), r2, rmse, mae (regression) or
    rmse, mae (ratings); recon_error (unsupervised);
    traj_mse (trajectory: mean squared error over examples, times and state dimensions)."""
    if task == "trajectory":
        return {"traj_mse": (out.float() - y).pow(2).mean()}
    if task == "binary":
        return {"acc": ((out[:, 0] > 0) == (y > 0.5)).float().mean()}
    if task == "multiclass":
        return {"acc": (out.argmax(dim=1) == y).float().mean()}
    if task == "ratings":                                       # out, y: (N,) predicted and true ratings
        err = out.float() - y
        return {"rmse": err.pow(2).mean().sqrt(), "mae": err.abs().mean()}
    if task == "unsupervised":                                  # out: per-example ‖x − x̂‖² (N, 1)
        return {"recon_error": out.float().mean()}
    err = out.float() - y
    ss_res = err.pow(2).sum(0)
    ss_tot = (y - y.mean(0)).pow(2).sum(0).clamp_min(torch.finfo(torch.float32).tiny)
    return {"r2": (1 - ss_res / ss_tot).mean(),                 # averaged over targets, as scikit-learn
            "rmse": err.pow(2).mean().sqrt(), "mae": err.abs().mean()}
