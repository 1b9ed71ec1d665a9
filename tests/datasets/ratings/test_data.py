"""ratings_data: a (user, item) pair rated more than once keeps its last rating (one warning with the count), so
no pair is ever in two of train / val / test."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from mlrun.datasets import ratings_csv
from mlrun.datasets.ratings.data import ratings_data


def _pairs(data, part) -> set[tuple[str, str]]:
    x = part.x.numpy()
    users, items = np.asarray(data.user_ids + ["?"]), np.asarray(data.item_ids + ["?"])
    return set(zip(users[x[:, 0]], items[x[:, 1]]))


def test_fifty_conflicting_ratings_keep_the_last_with_one_warning(tmp_path, caplog):
    f = tmp_path / "r.csv"
    repeated = "".join(f"1,1,{1 + k % 5}\n" for k in range(49)) + "1,1,2.5\n"          # 50 ratings of (1, 1)
    others = "".join(f"{u},{i},{1 + (u * i) % 5}\n" for u in range(1, 9) for i in range(2, 9))
    f.write_text("userId,movieId,rating\n" + repeated + others)
    with caplog.at_level(logging.WARNING, logger="mlrun"):
        data = ratings_csv(str(f), {"train": 1.0, "val": 0.0, "test": 0.0})
    assert "49 rating(s) repeat a (user, item) pair (1 pair(s) rated more than once, e.g. user 1 item 1 50 " \
           "times)" in caplog.text
    assert data.spec.n_train == 1 + 8 * 7
    x, y = data.train.x.numpy(), data.train.y.numpy()
    at = np.flatnonzero((x[:, 0] == data.user_ids.index("1")) & (x[:, 1] == data.item_ids.index("1")))
    assert y[at].tolist() == [2.5]                                  # the last of the 50, in file order


@pytest.mark.parametrize("scheme", [{}, {"leave_out": 2}, {"folds": 4, "fold": 1}])
def test_a_pair_never_lands_in_two_splits(scheme):
    rng = np.random.default_rng(0)
    users, items = rng.integers(0, 20, 3000), rng.integers(0, 15, 3000)      # ≈ 10 ratings per cell
    data = ratings_data(users, items, rng.normal(3, 1, 3000), name="t", seed=1,
                        split={"train": 0.6, "val": 0.2, "test": 0.2}, **scheme)
    parts = [_pairs(data, p) for p in (data.train, data.val, data.test)]
    assert sum(map(len, parts)) == len(set(zip(users, items))) == len(data.train) + len(data.val) + len(data.test)
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])


def test_a_pair_in_both_files_is_kept_in_the_test_file_only(tmp_path, caplog):
    (tmp_path / "r.csv").write_text("userId,movieId,rating\n1,1,4\n1,2,3\n2,1,5\n")
    (tmp_path / "t.csv").write_text("userId,movieId,rating\n1,1,1\n2,2,2\n")
    with caplog.at_level(logging.WARNING, logger="mlrun"):
        data = ratings_csv(str(tmp_path / "r.csv"), {"train": 1.0, "val": 0.0, "test": 0.0},
                           test_path=str(tmp_path / "t.csv"))
    assert "1 rating(s) repeat a (user, item) pair" in caplog.text
    assert len(data.train) == 2 and data.test.y.tolist() == [1.0, 2.0]
    assert ("1", "1") not in _pairs(data, data.train)
