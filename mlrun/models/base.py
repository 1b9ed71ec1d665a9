"""The model protocol: what a run asks of a model, with the defaults every model inherits.

    class MLP(Model):
        tasks = ("regression", "binary", "multiclass")
        def __init__(self, spec: DataSpec, hidden=(64,), ...): ...

A model is built as `Model(spec, **options)` from its conf/model/<name>.yaml. The run (mlrun.fit.build, mlrun.fit.run)
reads only the members below; a model overrides the ones it needs. A model is trained by the gradient loop unless
`fit_direct` gives its own fit, the optimizer is a solver (mlrun.solvers.base.Solver), or a convex model's
`solver` is exact (mlrun.fit.exact): mlrun.fit.fitters.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import torch
from torch import nn

from mlrun.datasets.spec import DataSpec

Records = Iterator[tuple[dict, bool]]      # (epoch record, improved) per epoch, as mlrun.fit.loop.fit yields


class Model(nn.Module):
    tasks: tuple[str, ...] = ()            # dataset tasks it learns (DataSpec.task); checked once in mlrun.fit.build
    epoch_unit: str = "epoch"              # what one record of its fit_direct is: solve, component, iteration
    # a convex model (mlrun.models.linear.Affine: one nn.Linear `linear`) names its objective here, so that the fit
    # layer can solve it exactly (mlrun.solvers.exact_*: least_squares | logistic) or measure a gradient run's gap
    # to that optimum; its `solver` (exact | gradient) says which trains it (mlrun.fit.solver_choice)
    convex: str | None = None
    solver: str = "gradient"
    penalty: Callable[[], torch.Tensor] | None = None   # a method: added to each gradient step's objective
    # third-party modules its constructor imports that create tensors when imported (torchdiffeq's Butcher
    # tableaus): imported for real before the model is counted on the meta device (mlrun.fit.memory_check)
    import_first: tuple[str, ...] = ()

    @classmethod
    def adapt_spec(cls, spec: DataSpec) -> DataSpec:
        """The spec the run monitors for this model (task, loss, metric): a copy, never the dataset's own."""
        return spec

    @property
    def fit_direct(self) -> Callable[..., Records] | None:
        """A model that trains itself (closed forms, PCA) returns `fit(data, trainer, loss_fn) -> Records`
        (data: the placed mlrun.datasets.spec.Data, trainer: TrainerSettings); None = the gradient loop (or a
        solver) trains it."""
        return None

    def epoch_metrics(self) -> dict:
        """Extra numbers for each epoch's record (e.g. ODE function evaluations)."""
        return {}

    def summary_metrics(self) -> dict:
        """Extra numbers for summary.json after the test (e.g. PCA eigenvalues)."""
        return {}

    def split_metrics(self, data, split: str) -> dict:
        """Extra numbers for a split that need the whole dataset, named <split>_<name> (MF: top-k ranking against
        each user's train items); added to the test scores of summary.json and to `mlrun eval`."""
        return {}

    def write_artifacts(self, run_dir: Path, data) -> None:
        """Files written into the run folder after the test (e.g. a trajectory plot)."""
