"""Logistic regression: one affine layer; sigmoid (binary, 1 logit) or softmax (multiclass, C logits) in the loss.
Solved exactly (mlrun.solvers.exact_logistic) or trained by the gradient loop (`model.solver`)."""

from __future__ import annotations

from mlrun.datasets.spec import DataSpec
from mlrun.errors import number
from mlrun.models.linear import Affine


class Logistic(Affine):
    tasks = ("binary", "multiclass")   # dataset tasks it learns (checked once by mlrun.fit.build.model)
    convex = "logistic"                # mean cross-entropy + l2·‖W‖²: mlrun.solvers.exact_logistic

    def __init__(self, spec: DataSpec, solver: str = "gradient", default_l2: float = 0.0):
        """Logits for `spec.n_outputs` classes (1 for binary) from the flattened input.

        solver: auto | exact | gradient (gradient when not given: a checkpoint from before model.solver existed).
        default_l2: trainer.l2's default for this model (conf/trainer/default.yaml reads it): an L2 penalty keeps
        the optimum finite when the train classes are separable (breast_cancer, digits)."""
        super().__init__(spec, solver)
        number("model.default_l2", default_l2, 0)
        self.default_l2 = default_l2
