"""Linear regression ŷ = W x + b: solved exactly (least squares / ridge, mlrun.solvers.exact_linear) or trained by
the gradient loop (`model.solver`, resolved in mlrun.fit.solver_choice)."""

from __future__ import annotations

import torch
from torch import nn

from mlrun.datasets.spec import DataSpec
from mlrun.errors import choose
from mlrun.models.base import Model

# model.solver values: auto (exact unless the command names the optimizer: mlrun.fit.solver_choice), exact, gradient;
# lstsq is the name older commands and checkpoints use for exact
SOLVERS = {"auto": "auto", "exact": "exact", "lstsq": "exact", "gradient": "gradient"}


class Affine(Model):
    """One affine map `self.linear` from the flattened input to `spec.n_outputs`: the convex models (Linear,
    Logistic), whose objective mlrun.solvers.exact_* minimise exactly."""
    epoch_unit = "solve"      # solver=exact: one record, the exact solve

    def __init__(self, spec: DataSpec, solver: str = "gradient"):
        super().__init__()
        self.solver = choose(SOLVERS, "model.solver", solver)
        self.flatten = nn.Flatten()
        self.linear = nn.Linear(spec.n_features, spec.n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.flatten(x))


class Linear(Affine):
    tasks = ("regression",)   # dataset tasks it learns (checked once by mlrun.fit.build.model)
    convex = "least_squares"  # mean squared error + l2·‖W‖²: mlrun.solvers.exact_linear

    def __init__(self, spec: DataSpec, solver: str = "gradient"):
        """A single affine layer from `spec.n_features` inputs to `spec.n_outputs` targets (regression only).
        solver: gradient when not given (a checkpoint from before model.solver existed trained by gradient)."""
        super().__init__(spec, solver)
