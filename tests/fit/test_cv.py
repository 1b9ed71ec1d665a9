"""trainer.cv_folds=K: one run per fold under fold_<k>/, test parts partitioning the ratings, mean ± std."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mlrun.errors import UserError
from mlrun.fit.run import train
from tests.helpers import make_cfg

SMALL = ["model=mf", "optimizer=als", "dataset=synthetic_ratings", "dataset.n_users=120", "dataset.n_items=60",
         "model.k=3", "model.reg=2.0"]


def test_three_folds_write_per_fold_metrics_and_mean_std(tmp_path):
    mean = train(make_cfg(*SMALL, "trainer.cv_folds=3"), tmp_path)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["cv_folds"] == 3 and [r["fold"] for r in summary["folds"]] == [0, 1, 2]
    rmses = [r["test_rmse"] for r in summary["folds"]]
    assert summary["test_rmse_mean"] == pytest.approx(np.mean(rmses)) == pytest.approx(mean)
    assert summary["test_rmse_std"] == pytest.approx(np.std(rmses))
    for k in range(3):
        fold = json.loads((tmp_path / f"fold_{k}" / "summary.json").read_text())
        assert fold["test_rmse"] == rmses[k] and (tmp_path / f"fold_{k}" / "checkpoints" / "best.pt").is_file()
    assert (tmp_path / "cv.csv").read_text().count("\n") == 4


def test_fold_test_parts_partition_the_ratings():
    from mlrun.datasets import synthetic_ratings

    parts = [synthetic_ratings(n_users=80, n_items=50, folds=4, fold=k, seed=0) for k in range(4)]
    everything = synthetic_ratings(n_users=80, n_items=50, split={"train": 1.0, "val": 0.0, "test": 0.0}, seed=0)
    raw = lambda d, s: {(d.user_ids[u] if u >= 0 else None, d.item_ids[i] if i >= 0 else None, r)  # noqa: E731
                        for (u, i), r in zip(s.x.tolist(), s.y.tolist())}
    tests = [raw(d, d.test) for d in parts]
    assert sum(len(t) for t in tests) == len(everything.train)
    # the test parts are disjoint (compared by raw ids, None when unseen in that fold, and the continuous rating)
    assert all(not (a & b) for i, a in enumerate(tests) for b in tests[i + 1:])


def test_cv_needs_a_dataset_that_partitions_itself(tmp_path):
    with pytest.raises(UserError, match="trainer.cv_folds=3: dataset=digits has no `folds` key"):
        train(make_cfg("trainer.cv_folds=3"), tmp_path)
    with pytest.raises(UserError, match="trainer.cv_folds"):
        train(make_cfg(*SMALL, "trainer.cv_folds=0"), tmp_path)
