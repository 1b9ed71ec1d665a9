"""torchdiffeq's demo problem: a spiral from dy/dt = y³A, A = [[-0.1, 2.0], [-2.0, -0.1]] (y a row, cubed
elementwise), y(0) = (2, 0), sampled at `n_points` evenly spaced times on [0, t_max].

Examples are the demo's batches: x = y(t_s) (2,), target = y(t_s + τ_k) for the `segment` times τ_k = k·Δt
(k = 0 … segment−1), shape (segment, 2), for every start s; the τ grid is `spec.times`. Starts are split at
random, so val/test segments interleave with train ones: they measure the fit of the dynamics along the spiral.

    mlrun train experiment=spiral_node
"""

from __future__ import annotations

import numpy as np
import torch

from mlrun.runtime import memory
from mlrun.datasets.spec import Data, DataSpec, Split
from mlrun.datasets.splits import check_fractions, split_indices
from mlrun.errors import check, number

A = [[-0.1, 2.0], [-2.0, -0.1]]                  # the demo's true_A
BYTES_PER_STEP = 24                              # its window index (int64), y (2 × float32), the split's copy of y


def true_trajectory(n_points: int, t_max: float, y0=(2.0, 0.0)) -> tuple[torch.Tensor, torch.Tensor]:
    """(t, y): n_points times on [0, t_max] and the true solution there, (n_points, 2), float64, by scipy's
    DOP853 at rtol 1e-10, atol 1e-12 (scipy comes with scikit-learn; a second, independent solver)."""
    from scipy.integrate import solve_ivp

    a = np.array(A)
    t = np.linspace(0.0, t_max, n_points)
    sol = solve_ivp(lambda _, y: y**3 @ a, (0.0, t_max), list(y0), method="DOP853", t_eval=t, rtol=1e-10, atol=1e-12)
    return torch.from_numpy(t), torch.from_numpy(sol.y.T.copy())      # (n_points,), (2, n_points) → (n_points, 2)


def spiral(split: dict, n_points: int = 1000, t_max: float = 25.0, segment: int = 10, seed: int = 0) -> Data:
    """Seeded train/val/test splits of the spiral's segments (see the module docstring)."""
    number("dataset.n_points", n_points, 2, integer=True)
    number("dataset.t_max", t_max, 0, low_open=True)
    number("dataset.segment", segment, 2, integer=True)
    check(segment <= n_points, "dataset.segment", segment, f"must be ≤ dataset.n_points ({n_points})")
    steps = (n_points - segment + 1) * segment                  # (start, time) pairs the examples hold
    memory.require(steps * BYTES_PER_STEP + n_points * 24, f"dataset.n_points={n_points}, dataset.segment={segment}",
                   f"{steps:,} example steps × {BYTES_PER_STEP} bytes, and the trajectory",
                   "lower dataset.n_points or dataset.segment")
    fractions = check_fractions(split)
    t, y = true_trajectory(n_points, t_max)
    starts = np.arange(n_points - segment + 1)
    windows = torch.as_tensor(starts[:, None] + np.arange(segment)[None, :])      # (S, segment) indices
    ys = y[windows].float()                                                     # (S, segment, 2)
    spec = DataSpec(input_shape=(2,), n_outputs=2, task="trajectory", name="spiral",
                    times=[float(v) for v in (t[:segment] - t[0])])
    parts = split_indices(np.zeros(len(starts)), fractions, seed, stratify=False)
    return Data(*(Split(ys[idx, 0].clone(), ys[idx].clone()) for idx in map(torch.as_tensor, parts)), spec=spec)
