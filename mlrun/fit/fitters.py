"""How a run trains its model: one protocol, one object chosen once in the build order (mlrun.fit.build.fitter).

    GradientFit   the gradient loop (mlrun.fit.loop.fit): one record per epoch, checkpoints inside epochs, exact resume
    DirectFit     a model or a solver that trains the model by itself: Model.fit_direct (model=pca), the exact
                  solve of a convex model (mlrun.fit.exact: model=linear / logistic, model.solver=exact) or
                  Solver.fit_direct (optimizer=als, optimizer=spark_als); a resumed run starts its fit over

    for record, improved in fitter.records(progress, position, boundary, reduce):   # the model's epoch_metrics added
        ...

Every fitter has `unit` and `expected` (the console's `epoch 3/30`, `sweep 4/15`, `component 2`), `resumes`
(last.pt's position continues the fit), `steps_left(position)` (the progress bar's length in optimiser steps) and
`summary_metrics()` (numbers for summary.json: the exact optimum, the solver).
"""

from __future__ import annotations

from typing import Callable

from mlrun.fit.loop import Plan, Position, fit
from mlrun.models.base import Model, Records


class GradientFit:
    """The gradient loop over `plan`; with trainer.nan_policy=skip_batch each record counts the skipped batches.
    gap: for a convex model, () → {"gap": train objective − exact optimum} added to each record (mlrun.fit.exact.Gap)."""
    resumes = True

    def __init__(self, plan: Plan, model: Model, count_skipped: bool, gap=None):
        self.plan, self.model, self.count_skipped, self.gap = plan, model, count_skipped, gap
        self.unit, self.expected = "epoch", plan.epochs

    def steps_left(self, position: Position) -> int:
        return self.plan.epochs * self.plan.batches - position.step

    def records(self, progress: Callable = iter, position: Position | None = None, boundary=None,
                reduce: Callable | None = None) -> Records:
        for record, improved in fit(self.plan, progress=progress, position=position, boundary=boundary,
                                    reduce=reduce):
            record |= self.model.epoch_metrics()
            if self.gap is not None:
                record |= self.gap()
            if self.count_skipped:
                record["skipped_batches"] = int(self.plan.step.skipped)
            yield record, improved

    def summary_metrics(self) -> dict:
        if self.gap is None:
            return {}
        return self.gap.summary()


class DirectFit:
    """`fit()` → (record, improved) per epoch of a model or solver that trains the model itself. `expected`: how
    many records (a solver's trainer.epochs sweeps), None when the fit decides (PCA's iterations). summary: () →
    numbers for summary.json once the fit has run (mlrun.fit.exact.ExactFit's solver and optimum)."""
    resumes = False

    def __init__(self, fit: Callable[[], Records], model: Model, unit: str, expected: int | None,
                 summary: Callable[[], dict] | None = None):
        self.fit, self.model, self.unit, self.expected = fit, model, unit, expected
        self.summary = summary

    def steps_left(self, position: Position) -> int:
        return 0                                   # no gradient steps: no progress bar

    def records(self, progress: Callable = iter, position: Position | None = None, boundary=None,
                reduce: Callable | None = None) -> Records:
        """The arguments are the loop's (see GradientFit): a direct fit has no steps to count, stop or sum."""
        for record, improved in self.fit():
            record |= self.model.epoch_metrics()
            yield record, improved

    def summary_metrics(self) -> dict:
        return self.summary() if self.summary is not None else {}
