"""Logistic regression: one affine layer; sigmoid (binary, 1 logit) or softmax (multiclass, C logits) in the loss."""

from __future__ import annotations

import torch
from torch import nn

from mlrun.models.base import Model
from mlrun.datasets.spec import DataSpec


class Logistic(Model):
    tasks = ("binary", "multiclass")   # dataset tasks it learns (checked once by mlrun.fit.build.model)

    def __init__(self, spec: DataSpec):
        """Logits for `spec.n_outputs` classes (1 for binary) from the flattened input."""
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear = nn.Linear(spec.n_features, spec.n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.flatten(x))
