"""Multi-layer perceptron: [Linear → (BatchNorm) → activation → (Dropout)] per hidden layer, then a linear head."""

from __future__ import annotations

import torch
from torch import nn

from mlrun.models.base import Model
from mlrun.datasets.spec import DataSpec
from mlrun.errors import check, choose
from mlrun.models.activations import ACTIVATIONS, Maxout


class MLP(Model):
    tasks = ("regression", "binary", "multiclass")   # dataset tasks it learns (checked once by mlrun.fit.build.model)
    def __init__(self, spec: DataSpec, hidden: list[int] = (128,), activation: str = "relu",
                 batch_norm: bool = False, dropout: float = 0.0, maxout_pieces: int = 2):
        """Input size from `spec.n_features` (images are flattened), output size from `spec.n_outputs`."""
        super().__init__()
        hidden = list(hidden) if isinstance(hidden, (list, tuple)) else hidden
        check(isinstance(hidden, list) and len(hidden) > 0 and all(isinstance(h, int) and h > 0 for h in hidden),
              "model.hidden", hidden, "must be a non-empty list of positive integers, e.g. [128,64]")
        choose(ACTIVATIONS, "model.activation", activation)
        check(0.0 <= float(dropout) < 1.0, "model.dropout", dropout, "must be a probability in [0, 1)")
        check(isinstance(maxout_pieces, int) and maxout_pieces >= 2, "model.maxout_pieces", maxout_pieces,
              "must be an integer ≥ 2")
        layers: list[nn.Module] = [nn.Flatten()]
        n_in = spec.n_features
        for n_out in hidden:
            if activation == "maxout":   # the max over pieces is the nonlinearity
                layers.append(Maxout(n_in, n_out, maxout_pieces))
                if batch_norm:
                    layers.append(nn.BatchNorm1d(n_out))
            else:
                layers.append(nn.Linear(n_in, n_out))
                if batch_norm:
                    layers.append(nn.BatchNorm1d(n_out))
                layers.append(ACTIVATIONS[activation]())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            n_in = n_out
        layers.append(nn.Linear(n_in, spec.n_outputs))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)     # (N, n_outputs) logits or predictions
