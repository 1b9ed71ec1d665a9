"""Linear regression ŷ = W x + b, trained by gradient descent or solved in closed form (`solver=lstsq`)."""

from __future__ import annotations

import time

import torch
from torch import nn

from mlrun.models.base import Model
from mlrun.datasets.spec import DataSpec
from mlrun.errors import choose
from mlrun.metrics.records import epoch_record
from mlrun.metrics.scoring import evaluate

SOLVERS = ("gradient", "lstsq")


class Linear(Model):
    tasks = ("regression",)   # dataset tasks it learns (checked once by mlrun.fit.build.model)
    epoch_unit = "solve"      # solver=lstsq: one record, the closed-form solve

    def __init__(self, spec: DataSpec, solver: str = "gradient"):
        """A single affine layer from `spec.n_features` inputs to `spec.n_outputs` targets (regression only)."""
        super().__init__()
        self.solver = choose({s: s for s in SOLVERS}, "model.solver", solver)
        self.flatten = nn.Flatten()
        self.linear = nn.Linear(spec.n_features, spec.n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.flatten(x))

    @property
    def fit_direct(self):
        """With solver=lstsq the trainer calls this instead of its gradient loop (see mlrun.train)."""
        return self._solve_direct if self.solver == "lstsq" else None

    def _solve_direct(self, data, trainer, loss_fn):
        """One 'epoch': solve on train, score train and val; yields (record, improved) like mlrun.fit.loop.fit."""
        start = time.perf_counter()
        self.fit_closed_form(data.train.x, data.train.y, trainer.l2)
        seconds = time.perf_counter() - start
        metric = data.spec.metric
        val = evaluate(self, data.val, loss_fn, data.spec.task, trainer.eval_batch_size)
        train_loss = evaluate(self, data.train, loss_fn, data.spec.task, trainer.eval_batch_size)["loss"]
        yield epoch_record(1, train_loss, val, metric, time.perf_counter() - start,
                           len(data.train) / max(seconds, 1e-9)), True

    @torch.no_grad()
    def fit_closed_form(self, x: torch.Tensor, y: torch.Tensor, l2: float = 0.0) -> None:
        """Minimise mean((Xw + b − y)²) + l2·‖w‖² exactly, in float64 (the bias is not penalised).

        l2 = 0: least squares via torch.linalg.lstsq; l2 > 0: the ridge normal equations
        (XcᵀXc/N + l2·I) w = Xcᵀyc/N on centred data, b = ȳ − x̄·w.
        """
        x = self.flatten(x).double()
        y = y.double().reshape(len(y), -1)                      # (N, targets)
        x_mean, y_mean = x.mean(0), y.mean(0)
        xc, yc = x - x_mean, y - y_mean
        if l2 > 0:
            n, d = xc.shape
            w = torch.linalg.solve(xc.T @ xc / n + l2 * torch.eye(d, dtype=x.dtype, device=x.device), xc.T @ yc / n)
        else:
            # gelsd (SVD) is only on CPU; gels on other devices needs full column rank
            driver = "gelsd" if x.device.type == "cpu" else None
            w = torch.linalg.lstsq(xc, yc, driver=driver).solution   # (D, targets)
        self.linear.weight.copy_(w.T)
        self.linear.bias.copy_(y_mean - x_mean @ w)
