"""Hidden-layer activations by name. `maxout` is a layer of its own: it widens the affine map before it."""

from __future__ import annotations

import torch
from torch import nn

ACTIVATIONS = {
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,   # negative slope 0.01
    "elu": nn.ELU,                # alpha 1.0
    "maxout": None,               # see Maxout
}


class Maxout(nn.Module):
    """Goodfellow et al. 2013: h = max over k affine pieces. (N, in) → (N, out)."""

    def __init__(self, n_in: int, n_out: int, pieces: int):
        super().__init__()
        self.n_out, self.pieces = n_out, pieces
        self.linear = nn.Linear(n_in, n_out * pieces)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.linear(x).view(-1, self.n_out, self.pieces)    # (N, out, k)
        return z.amax(dim=-1)
