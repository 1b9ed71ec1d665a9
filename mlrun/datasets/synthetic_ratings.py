"""Seeded synthetic ratings: a low-rank truth μ + b_u + c_i + p_u·q_i, Gaussian noise, and a missing pattern
(each user × item cell observed with probability `density`, independently). The offline default for MF.

    mlrun train model=mf dataset=synthetic_ratings
    mlrun train model=mf optimizer=als dataset=synthetic_ratings model.k=5
"""

from __future__ import annotations

import numpy as np

from mlrun.datasets._ratings import RatingsData, ratings_data
from mlrun.errors import number


def synthetic_ratings(n_users: int = 1000, n_items: int = 500, rank: int = 5, density: float = 0.1,
                      noise: float = 0.5, split: dict | None = None, leave_out: int = 0, folds: int = 1,
                      fold: int = 0, seed: int = 0) -> RatingsData:
    """Truth: μ = 3.5, b ~ N(0, 0.3²), c ~ N(0, 0.5²), p·q with entries N(0, 1/√rank) (so Var p·q = 1);
    ratings = truth + N(0, noise²) on the observed cells. Raw ids are 0..n_users−1 and 0..n_items−1."""
    number("dataset.n_users", n_users, 2, integer=True)
    number("dataset.n_items", n_items, 2, integer=True)
    number("dataset.rank", rank, 1, integer=True)
    number("dataset.density", density, 0, 1, low_open=True)
    number("dataset.noise", noise, 0)
    rng = np.random.default_rng(seed)
    scale = rank ** -0.25                                      # entries N(0, rank^-1/2): Var(p·q) = 1
    p, q = rng.normal(0, scale, (n_users, rank)), rng.normal(0, scale, (n_items, rank))
    b, c = rng.normal(0, 0.3, n_users), rng.normal(0, 0.5, n_items)
    users, items = np.nonzero(rng.random((n_users, n_items)) < density)   # the observed cells
    truth = 3.5 + b[users] + c[items] + (p[users] * q[items]).sum(1)
    ratings = truth + rng.normal(0, noise, len(truth))
    return ratings_data(users.astype(np.int64), items.astype(np.int64), ratings, name="synthetic_ratings",
                        split=split or {"train": 0.8, "val": 0.1, "test": 0.1}, leave_out=leave_out,
                        folds=folds, fold=fold, seed=seed)
