"""The solver protocol: an `optimizer=` option that trains a model by itself instead of by gradient steps.

    _target_: mlrun.solvers.ALS          # conf/optimizer/als.yaml

Built like a torch optimizer (`Solver(model.parameters(), **options)`, so checkpoints keep its `state_dict`);
the run (mlrun.fit.fitters.DirectFit, chosen in mlrun.fit.build.fitter) calls `fit_direct(model, data, trainer,
loss_fn)`, which yields (record, improved) per epoch (mlrun.metrics.records.epoch_record / Monitor), and never
calls `step()`.
"""

from __future__ import annotations

import torch

from mlrun.errors import UserError
from mlrun.models.base import Model, Records


class Solver(torch.optim.Optimizer):
    name = "solver"                        # the conf/optimizer option, for messages
    epoch_unit = "sweep"                   # one record per pass of the solver

    def step(self, closure=None):
        raise UserError(f"optimizer={self.name} has no gradient step: it trains the model by itself")

    def fit_direct(self, model: Model, data, trainer, loss_fn) -> Records:
        raise NotImplementedError
