"""Residual network as Euler steps: h_{k+1} = h_k + Δt·f(h_k, t_k), Δt = t1/steps, t_k = k·Δt, with one f shared
by all `steps` blocks — the discrete counterpart of `model=node` (same stem, f and head; same state_dict keys).

    mlrun train model=resnet_euler model.steps=4
    # same outputs for the same weights as: model=node model.solver=euler model.step_size=0.25
"""

from __future__ import annotations

import torch

from mlrun.datasets.spec import DataSpec
from mlrun.errors import number
from mlrun.models.odefunc import ODENet


class ResNetEuler(ODENet):
    tasks = ("regression", "binary", "multiclass")   # dataset tasks it learns (checked once by mlrun.fit.build.model)
    def __init__(self, spec: DataSpec, steps: int = 4, t1: float = 1.0, width: int = 64):
        """`steps` residual updates with the shared dynamics f between the stem and head of mlrun.models.odefunc."""
        number("model.steps", steps, 1, integer=True)
        super().__init__(spec, width, t1)
        self.dt = float(t1) / steps
        # the same grid as torchdiffeq's fixed-grid solvers with step_size=dt: t_k = k·dt
        self.register_buffer("grid", torch.arange(steps, dtype=torch.float32) * self.dt, persistent=False)

    def solve(self, h0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(h0, h_steps): the states at t = 0 and t = t1."""
        h = h0
        for t in self.grid:
            h = h + self.dt * self.f(t, h)
        return h0, h
