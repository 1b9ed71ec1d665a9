"""The convex models (model=linear, model=logistic) solved exactly, and a gradient run's gap to that optimum.

    ExactFit(model, data, trainer, net, loss_fn)()   → Records: one record (unit "solve"); DirectFit's fit
    Gap(model, data, trainer.l2)()                   → {"gap": f(W, b) − f*} for each epoch of a gradient run

f is the objective the gradient loop minimises (mlrun.fit.loop.make_step): the mean loss over the train rows (mse,
or cross-entropy) + trainer.l2·‖W‖² with the bias unpenalised; f* its minimum over (W, b) on the train split.
mlrun.solvers.exact_linear / exact_logistic give the formulas and their scikit-learn equivalents (Ridge's alpha,
LogisticRegression's C). Both read the train rows as the model sees them: through the dataset's preprocessing (eval
mode: no augmentation), flattened.
"""

from __future__ import annotations

import logging
import math
import time

import torch

from mlrun.datasets.spec import Data
from mlrun.errors import UserError
from mlrun.metrics.records import epoch_record
from mlrun.metrics.scoring import evaluate
from mlrun.models.base import Model, Records
from mlrun.solvers import exact_linear, exact_logistic

log = logging.getLogger("mlrun")

ROWS = 8192                 # rows per block when preprocessing the train split or summing the objective
NAMED_MAX = 10              # dependent columns named in the warning (then "… and N more")


@torch.no_grad()
def train_inputs(data: Data) -> tuple[torch.Tensor, torch.Tensor]:
    """(x (N, D) float32, y) of the train split as the model sees it, on the split's device."""
    x, pre = data.train.x, data.preprocess
    if pre is not None:
        was = pre.training
        pre.eval()
        x = torch.cat([pre(x[i:i + ROWS]).float() for i in range(0, len(x), ROWS)]) if len(x) else x.float()
        pre.train(was)
    return x.reshape(len(x), -1).float(), data.train.y


def solve(model: Model, x: torch.Tensor, y: torch.Tensor, l2: float):
    """The exact minimiser of `model`'s objective on (x, y): mlrun.solvers' LinearSolution or LogisticSolution."""
    if model.convex == "logistic":
        return exact_logistic.fit(x, y, model.linear.out_features, l2)
    return exact_linear.fit(x, y, l2)


def objective(model: Model, x: torch.Tensor, y: torch.Tensor, l2: float) -> float:
    """f at the model's current weights, in float64, summed over blocks of ROWS rows (x (N, D) as `train_inputs`)."""
    w, b = model.linear.weight.detach(), model.linear.bias.detach()
    module = exact_logistic if model.convex == "logistic" else exact_linear
    total = sum(module.objective(w, b, x[i:i + ROWS], y[i:i + ROWS], 0.0) * len(x[i:i + ROWS])
                for i in range(0, len(x), ROWS))
    return total / max(len(x), 1) + l2 * float(w.double().pow(2).sum())


def sklearn_c(l2: float, n: int) -> str:
    """scikit-learn's LogisticRegression C for trainer.l2 on n train rows (C = 1/(2·N·l2)), as text."""
    return f"C = {1 / (2 * n * l2):.4g}" if l2 > 0 else "penalty=None"


class NoSteps:
    """The optimizer of an exact fit: it takes no optimiser steps, so none is built (torch.optim's constructor
    imports torch._dynamo: ~2 s of a ~4 s default run). Checkpoints store its empty state; records have no lr."""

    def __init__(self):
        self.param_groups = [{"lr": math.nan}]

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


class ExactFit:
    """One record: the exact solve on train, then train loss and val scores of the solved model (as any run's)."""

    def __init__(self, model: Model, data: Data, trainer, net: torch.nn.Module, loss_fn):
        self.model, self.data, self.trainer, self.net, self.loss_fn = model, data, trainer, net, loss_fn
        self.summary: dict = {}

    def __call__(self) -> Records:
        start = time.perf_counter()
        x, y = train_inputs(self.data)
        l2 = self.trainer.l2
        solution = solve(self.model, x, y, l2)
        with torch.no_grad():
            self.model.linear.weight.copy_(solution.weight.to(self.model.linear.weight))
            self.model.linear.bias.copy_(solution.bias.to(self.model.linear.bias))
        seconds = time.perf_counter() - start
        extra = self._report(solution, x, l2)
        spec, batch = self.data.spec, self.trainer.eval_batch_size
        val = evaluate(self.net, self.data.val, self.loss_fn, spec.task, batch)
        train_loss = evaluate(self.net, self.data.train, self.loss_fn, spec.task, batch)["loss"]
        self.summary = {"optimum": solution.objective, **extra}
        yield epoch_record(1, train_loss, val, spec.metric, time.perf_counter() - start,
                           len(x) / max(seconds, 1e-9), objective=solution.objective, **extra), True

    def _report(self, solution, x: torch.Tensor, l2: float) -> dict:
        """Log the solve in one line (and a warning for dependent columns); the record's extra numbers."""
        if self.model.convex == "logistic":
            text = (f"exact logistic ({solution.method}, float64): {solution.iterations} iterations to "
                    f"‖∇f‖∞ {solution.grad_norm:.1e}, objective {solution.objective:.10g} (trainer.l2={l2:g}, "
                    f"scikit-learn {sklearn_c(l2, len(x))})")
            if not solution.converged:
                log.warning("%s: not converged; the weights are the last iterate", text)
            else:
                log.info(text)
            return {"iterations": solution.iterations, "grad_norm": solution.grad_norm}
        log.info("exact least squares (float64%s): objective %.10g, rank %d of %d columns",
                 f", ridge trainer.l2={l2:g}" if l2 > 0 else "", solution.objective, solution.rank, x.shape[1])
        if l2 == 0 and solution.rank < x.shape[1]:
            self._warn_dependent(x)
        return {"rank": solution.rank}

    def _warn_dependent(self, x: torch.Tensor) -> None:
        constant, collinear = exact_linear.dependent_columns(x)
        names = self.data.spec.features or [f"column {j}" for j in range(x.shape[1])]

        def named(cols: list[int]) -> str:
            shown = ", ".join(str(names[j]) for j in cols[:NAMED_MAX])
            return shown + (f" … and {len(cols) - NAMED_MAX} more" if len(cols) > NAMED_MAX else "")

        parts = ([f"constant: {named(constant)}"] if constant else []) + (
            [f"linear combinations of earlier columns: {named(collinear)}"] if collinear else [])
        log.warning("model=linear: dependent input columns (%s): their least-squares weights are not unique; the "
                    "minimum-norm answer is used (trainer.l2 > 0 gives ridge; or drop them)",
                    "; ".join(parts) or "numerically")


class Gap:
    """`gap` = f(current weights) − f* per epoch of a gradient run on a convex model; f* solved once, at the first
    epoch's end (a command that never trains, e.g. mlrun bench, never pays for it). No finite optimum (separable
    classes with trainer.l2 = 0) or no memory for the solve: one log line, no gap."""

    def __init__(self, model: Model, data: Data, l2: float, fits_memory: bool):
        self.model, self.data, self.l2, self.fits_memory = model, data, l2, fits_memory
        self.optimum: float | None = None
        self.inputs = None
        self.skip = False

    def __call__(self) -> dict:
        if self.skip:
            return {}
        if self.inputs is None:
            if not self.fits_memory:
                return self._off("the exact solver would not fit in memory")
            self.inputs = train_inputs(self.data)
            try:
                self.optimum = solve(self.model, *self.inputs, self.l2).objective
            except UserError as e:
                return self._off(str(e).split(";")[0])
            log.info("optimum %.10g (the exact solve on the train split, float64): each epoch's gap = its train "
                     "objective − optimum", self.optimum)
        value = objective(self.model, *self.inputs, self.l2)
        return {"gap": value - self.optimum if math.isfinite(value) else math.nan}

    def _off(self, why: str) -> dict:
        self.skip = True
        log.info("gap: not logged: %s", why)
        return {}

    def summary(self) -> dict:
        return {"optimum": self.optimum} if self.optimum is not None else {}
