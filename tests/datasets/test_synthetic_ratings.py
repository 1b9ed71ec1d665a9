"""synthetic_ratings and the shared ratings splits: holdout, per-user leave-k-out, k folds, id remapping."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mlrun.datasets import synthetic_ratings
from mlrun.datasets.ratings.split import split_ratings
from mlrun.datasets.synthetic_ratings import observed_cells
from mlrun.errors import UserError

SPLIT = {"train": 0.8, "val": 0.1, "test": 0.1}


def test_seeded_and_shaped():
    a, b = synthetic_ratings(n_users=50, n_items=40, seed=3), synthetic_ratings(n_users=50, n_items=40, seed=3)
    assert torch.equal(a.train.x, b.train.x) and torch.equal(a.train.y, b.train.y)
    assert a.train.x.dtype == torch.int64 and a.train.x.shape[1] == 2 and a.train.y.dtype == torch.float32
    total = len(a.train) + len(a.val) + len(a.test)
    assert abs(total - 50 * 40 * 0.1) < 4 * np.sqrt(50 * 40 * 0.1)     # density 0.1, binomial
    assert a.spec.n_users <= 50 and int(a.train.x[:, 0].max()) == a.spec.n_users - 1


@pytest.mark.parametrize("density", [0.02, 0.3, 0.8])
def test_the_pattern_is_independent_cells_drawn_without_a_dense_array(density):
    """Per-user counts ~ Binomial(n_items, density), no repeated (user, item), items spread uniformly; for
    density > 0.5 the unobserved cells are drawn instead."""
    n_users, n_items = 4000, 300
    users, items = observed_cells(np.random.default_rng(1), n_users, n_items, density)
    keys = users * n_items + items
    assert np.all(np.diff(keys) > 0)                                   # sorted, no duplicate pair
    assert users.min() >= 0 and users.max() < n_users and items.min() >= 0 and items.max() < n_items
    counts = np.bincount(users, minlength=n_users)
    mean, var = n_items * density, n_items * density * (1 - density)
    assert abs(counts.mean() - mean) < 5 * np.sqrt(var / n_users)      # binomial mean per user
    assert abs(counts.var() - var) < 0.15 * var                        # and its variance (not a fixed count)
    per_item = np.bincount(items, minlength=n_items)                   # each item ~ Binomial(n_users, density)
    chi2 = ((per_item - n_users * density) ** 2 / (n_users * density * (1 - density))).sum()
    assert chi2 < n_items + 5 * np.sqrt(2 * n_items)                    # uniform over items


def test_full_density_observes_every_cell():
    users, items = observed_cells(np.random.default_rng(0), 7, 5, 1.0)
    assert len(users) == 35 and len(set(zip(users.tolist(), items.tolist()))) == 35


def test_holdout_fractions():
    tr, va, te = split_ratings(np.zeros(1000, dtype=np.int64), SPLIT, 0, 1, 0, seed=0)
    assert (len(tr), len(va), len(te)) == (800, 100, 100)
    assert len(np.unique(np.concatenate([tr, va, te]))) == 1000


def test_leave_k_out_takes_k_per_user():
    users = np.repeat(np.arange(5), [1, 3, 5, 8, 2])              # user 0 has one rating, user 4 two
    tr, va, te = split_ratings(users, SPLIT, 2, 1, 0, seed=0)
    assert np.bincount(users[te], minlength=5).tolist() == [0, 0, 2, 2, 0]   # needs > 2k = 4 ratings
    assert np.bincount(users[va], minlength=5).tolist() == [0, 0, 2, 2, 0]
    assert sorted(np.concatenate([tr, va, te]).tolist()) == list(range(len(users)))
    _, va0, te0 = split_ratings(users, {"train": 1.0, "val": 0.0, "test": 0.0}, 1, 1, 0, seed=0)
    assert len(va0) == 0 and np.bincount(users[te0], minlength=5).tolist() == [0, 1, 1, 1, 1]


def test_k_folds_partition_the_ratings():
    users = np.arange(103) % 7
    tests = [split_ratings(users, {"train": 0.8, "val": 0.0, "test": 0.2}, 0, 5, k, seed=1)[2] for k in range(5)]
    assert sorted(np.concatenate(tests).tolist()) == list(range(103))
    assert {len(t) for t in tests} == {20, 21}
    tr, va, te = split_ratings(users, {"train": 0.7, "val": 0.1, "test": 0.2}, 0, 5, 2, seed=1)
    assert len(va) == 10 and len(set(tr) | set(va) | set(te)) == 103 and not set(va) & set(te)


def test_users_only_in_test_map_to_minus_one():
    data = synthetic_ratings(n_users=300, n_items=20, density=0.05, seed=0, leave_out=0)
    train_users = set(data.train.x[:, 0].tolist())
    assert -1 not in train_users
    cold = data.test.x[:, 0] == -1
    assert cold.any()                                          # a few users have all their ratings in test


def test_bad_options_are_one_line_errors():
    with pytest.raises(UserError, match="dataset.density"):
        synthetic_ratings(density=0.0)
    with pytest.raises(UserError, match="dataset.fold=5"):
        synthetic_ratings(n_users=20, n_items=10, folds=5, fold=5)
    with pytest.raises(UserError, match="dataset.split"):
        synthetic_ratings(n_users=20, n_items=10, split={"train": 0.9, "val": 0.2, "test": 0.1})
