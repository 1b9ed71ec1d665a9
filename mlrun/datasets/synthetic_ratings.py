"""Seeded synthetic ratings: a low-rank truth μ + b_u + c_i + p_u·q_i, Gaussian noise, and a missing pattern
(each user × item cell observed with probability `density`, independently). The offline default for MF.

    mlrun train model=mf dataset=synthetic_ratings
    mlrun train model=mf optimizer=als dataset=synthetic_ratings model.k=5
    mlrun train model=mf optimizer=als dataset=synthetic_ratings dataset.n_users=100000 dataset.n_items=20000 \\
        dataset.density=0.005 model.k=10 trainer.epochs=5                   # 10M ratings, O(ratings) memory

The pattern is drawn in O(observed cells), never as a users × items array: per user a Binomial(n_items,
density) count, then that many distinct items uniformly (draw with replacement, drop repeats, draw again
for the users still short; for density > 0.5 the same for the unobserved cells). Same distribution as
independent cells.
"""

from __future__ import annotations

import numpy as np

from mlrun.runtime import memory
from mlrun.datasets.ratings.data import RatingsData, ratings_data
from mlrun.errors import number

BYTES_PER_RATING = 32                  # user and item ids (int64), the rating (float64), the cell key while drawing
CHUNK = 1 << 20                        # ratings per chunk when computing p_u·q_i (bounds the (chunk, rank) gathers)


def synthetic_ratings(n_users: int = 1000, n_items: int = 500, rank: int = 5, density: float = 0.1,
                      noise: float = 0.5, split: dict | None = None, leave_out: int = 0, folds: int = 1,
                      fold: int = 0, seed: int = 0, metric: str = "rmse", ranking: dict | None = None) -> RatingsData:
    """Truth: μ = 3.5, b ~ N(0, 0.3²), c ~ N(0, 0.5²), p·q with entries N(0, 1/√rank) (so Var p·q = 1);
    ratings = truth + N(0, noise²) on the observed cells. Raw ids are 0..n_users−1 and 0..n_items−1."""
    number("dataset.n_users", n_users, 2, integer=True)
    number("dataset.n_items", n_items, 2, integer=True)
    number("dataset.rank", rank, 1, integer=True)
    number("dataset.density", density, 0, 1, low_open=True)
    number("dataset.noise", noise, 0)
    cells = n_users * n_items * density                        # expected ratings
    memory.require(cells * BYTES_PER_RATING + (n_users + n_items) * (rank + 1) * 8,
                   f"dataset.n_users={n_users}, dataset.n_items={n_items}, dataset.density={density}, "
                   f"dataset.rank={rank}", f"~{cells:,.0f} ratings × {BYTES_PER_RATING} bytes, and the true factors",
                   "lower dataset.n_users, dataset.n_items, dataset.density or dataset.rank")
    rng = np.random.default_rng(seed)
    scale = rank ** -0.25                                      # entries N(0, rank^-1/2): Var(p·q) = 1
    p, q = rng.normal(0, scale, (n_users, rank)), rng.normal(0, scale, (n_items, rank))
    b, c = rng.normal(0, 0.3, n_users), rng.normal(0, 0.5, n_items)
    users, items = observed_cells(rng, n_users, n_items, density)
    ratings = 3.5 + b[users] + c[items]
    for start in range(0, len(ratings), CHUNK):
        s = slice(start, start + CHUNK)
        ratings[s] += np.einsum("ij,ij->i", p[users[s]], q[items[s]])
    ratings += rng.normal(0, noise, len(ratings))
    return ratings_data(users, items, ratings, name="synthetic_ratings",
                        split=split or {"train": 0.8, "val": 0.1, "test": 0.1}, leave_out=leave_out,
                        folds=folds, fold=fold, seed=seed, metric=metric, ranking=ranking)


def observed_cells(rng: np.random.Generator, n_users: int, n_items: int, density: float):
    """(users, items) int64 of the observed cells, sorted by user then item: each cell independently with
    probability `density`, drawn in O(cells drawn) memory and time."""
    if density > 0.5:                              # draw the unobserved cells instead (≤ as many as observed)
        u, i = observed_cells(rng, n_users, n_items, 1.0 - density)
        observed = np.ones(n_users * n_items, dtype=bool)
        observed[u * n_items + i] = False
        keys = np.flatnonzero(observed)
        return keys // n_items, keys % n_items
    counts = rng.binomial(n_items, density, n_users)           # cells per user
    keys, need = np.empty(0, dtype=np.int64), counts
    while need.any():                              # with replacement, repeats dropped, again for the short users
        short = np.repeat(np.arange(n_users, dtype=np.int64), need)
        keys = np.concatenate([keys, short * n_items + rng.integers(0, n_items, len(short))])
        keys.sort()                                # (np.unique hashes: far slower on millions of keys)
        keys = keys[np.r_[True, keys[1:] != keys[:-1]]]
        need = counts - np.bincount(keys // n_items, minlength=n_users)
    return keys // n_items, keys % n_items
