"""Splits by time (mlrun.datasets.ratings.split.split_by_time, dataset.split_by=time) and the timestamp column
(mlrun.datasets.ratings.times), through ratings_csv."""

from __future__ import annotations

import numpy as np
import pytest

from mlrun.datasets import ratings_csv
from mlrun.datasets.ratings.data import RANKED
from mlrun.datasets.ratings.split import split_by_time
from mlrun.errors import UserError
from mlrun.metrics.tasks import RANKING

SPLIT = {"train": 0.8, "val": 0.1, "test": 0.1}


def test_each_users_last_k_go_to_test_and_the_k_before_to_val():
    rng = np.random.default_rng(0)
    users = rng.integers(0, 20, 400)
    times = rng.permutation(400).astype(float)
    train, val, test = split_by_time(users, times, SPLIT, leave_out=2)
    assert len(train) + len(val) + len(test) == 400
    for u in range(20):
        mine = np.flatnonzero(users == u)
        if len(mine) <= 4:
            assert set(mine) <= set(train)
            continue
        latest = mine[np.argsort(-times[mine])]
        assert set(latest[:2]) == set(test) & set(mine)
        assert set(latest[2:4]) == set(val) & set(mine)
        assert times[list(set(train) & set(mine))].max() < times[latest[3]]


def test_a_global_cut_puts_the_latest_interactions_in_test():
    times = np.random.default_rng(1).permutation(1000).astype(float)
    train, val, test = split_by_time(np.zeros(1000, dtype=int), times, SPLIT, leave_out=0)
    assert (len(train), len(val), len(test)) == (800, 100, 100)
    assert times[train].max() < times[val].min() and times[val].max() < times[test].min()


def test_ratings_csv_split_by_time_with_dates(tmp_path):
    file = tmp_path / "r.csv"
    rows = [f"{u},{i},{1 + (u + i) % 5},2024-01-{1 + (u * 7 + i) % 28:02d} 10:00:00" for u in range(30)
            for i in range(12)]
    file.write_text("userId,movieId,rating,when\n" + "\n".join(rows) + "\n")
    data = ratings_csv(str(file), SPLIT, timestamp_col="when", split_by="time", leave_out=1)
    assert len(data.test) == 30 and len(data.val) == 30 and len(data.train) == 300
    with pytest.raises(UserError, match="dataset.split_by='time': dataset=ratings_csv has no timestamp column"):
        ratings_csv(str(file), SPLIT, split_by="time")
    with pytest.raises(UserError, match="dataset.timestamp_col='stamp': not a column"):
        ratings_csv(str(file), SPLIT, timestamp_col="stamp", split_by="time")
    file.write_text("userId,movieId,rating,when\n1,2,3,yesterday\n")
    with pytest.raises(UserError, match="line 2: timestamp 'yesterday' is neither a number nor a date"):
        ratings_csv(str(file), SPLIT, timestamp_col="when", split_by="time")


def test_ranked_names_agree_with_the_metrics_layer():
    assert set(RANKED) == set(RANKING) - {"coverage"}


def test_a_cut_date_puts_everything_after_it_in_test(tmp_path):
    file = tmp_path / "r.csv"
    rows = [f"{u},{i},4,2024-01-{1 + (u + i) % 28:02d}" for u in range(20) for i in range(10)]
    file.write_text("u,i,r,t\n" + "\n".join(rows) + "\n")
    cols = {"user_col": "u", "item_col": "i", "rating_col": "r", "timestamp_col": "t", "split_by": "time"}
    data = ratings_csv(str(file), {"train": 0.9, "val": 0.1, "test": 0.0}, cut="2024-01-20", **cols)
    want = sum((u + i) % 28 + 1 >= 20 for u in range(20) for i in range(10))
    assert len(data.test) == want and len(data.val) == 20 and len(data.train) == 200 - want - 20
    with pytest.raises(UserError, match=r"dataset.cut='2030-01-01': must fall after the first timestamp and not "
                                        r"after the last \(2024-01-01 00:00:00 … 2024-01-28"):
        ratings_csv(str(file), SPLIT, cut="2030-01-01", **cols)
    with pytest.raises(UserError, match="dataset.cut='soon': neither a number nor a date"):
        ratings_csv(str(file), SPLIT, cut="soon", **cols)
