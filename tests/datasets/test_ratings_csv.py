"""ratings_csv: header names or column indices, separators, a separate test file, bad rows."""

from __future__ import annotations

import pytest

from mlrun.datasets import ratings_csv
from mlrun.errors import UserError

ALL_TRAIN = {"train": 1.0, "val": 0.0, "test": 0.0}


def test_header_names_and_string_ids(tmp_path):
    f = tmp_path / "r.csv"
    f.write_text("rating,who,what\n4.5,alice,x\n2,bob,y\n3,alice,y\n")
    data = ratings_csv(str(f), ALL_TRAIN, user_col="who", item_col="what", rating_col="rating")
    assert data.user_ids == ["alice", "bob"] and data.item_ids == ["x", "y"]
    assert sorted(data.train.y.tolist()) == [2.0, 3.0, 4.5] and data.spec.rating_range == [2.0, 4.5]


def test_indices_without_header_and_a_tab_typed_as_backslash_t(tmp_path):
    f = tmp_path / "r.tsv"
    f.write_text("7\t1\t4\n8\t1\t2\n")
    data = ratings_csv(str(f), ALL_TRAIN, sep="\\t", header=False, user_col=0, item_col=1, rating_col=2)
    assert data.spec.n_users == 2 and data.spec.n_items == 1


def test_separate_test_file_is_the_test_split_and_unseen_ids_are_minus_one(tmp_path):
    (tmp_path / "r.csv").write_text("userId,movieId,rating\n1,10,4\n1,11,3\n2,10,5\n2,11,1\n")
    (tmp_path / "t.csv").write_text("userId,movieId,rating\n1,12,2\n3,10,4\n")
    data = ratings_csv(str(tmp_path / "r.csv"), {"train": 0.8, "val": 0.0, "test": 0.2},
                       test_path=str(tmp_path / "t.csv"))
    assert len(data.train) == 4 and len(data.test) == 2
    assert data.test.x.tolist() == [[0, -1], [-1, 0]]         # item 12 and user 3 never appear in train
    assert data.test.y.tolist() == [2.0, 4.0]


def test_bad_rows_and_columns(tmp_path):
    f = tmp_path / "r.csv"
    f.write_text("userId,movieId,rating\n1,10,4\n1,11,abc\n")
    with pytest.raises(UserError, match=r"r\.csv.*line 3: rating 'abc' is not a number"):
        ratings_csv(str(f), ALL_TRAIN)
    f.write_text("userId,movieId,rating\n1,10,4\n1,11\n")
    with pytest.raises(UserError, match=r"line 3: missing user, item or rating column"):
        ratings_csv(str(f), ALL_TRAIN)
    with pytest.raises(UserError, match=r"dataset.user_col='uid': not a column of r.csv; columns are userId"):
        ratings_csv(str(f), ALL_TRAIN, user_col="uid")
    with pytest.raises(UserError, match="file not found"):
        ratings_csv(str(tmp_path / "none.csv"), ALL_TRAIN)
