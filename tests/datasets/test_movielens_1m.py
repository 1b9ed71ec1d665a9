"""movielens_1m: the `::`-separated ratings.dat parser and movies.dat titles."""

from __future__ import annotations

import pytest

from mlrun.datasets import movielens_1m
from mlrun.errors import UserError


def test_parses_ratings_dat_with_double_colon(tmp_path):
    root = tmp_path / "ml-1m"
    root.mkdir()
    (root / "ratings.dat").write_text("1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::978298413\n")
    (root / "movies.dat").write_bytes("1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n661::James and the "
                                      "Giant Peach (1996)::Animation|Children's|Musical\n".encode("latin-1"))
    data = movielens_1m(root, split={"train": 1.0, "val": 0.0, "test": 0.0})
    assert data.spec.n_users == 2 and data.spec.n_items == 2 and data.spec.n_train == 3
    assert sorted(data.train.y.tolist()) == [3.0, 4.0, 5.0]
    assert data.titles["661"] == "James and the Giant Peach (1996)"


def test_bad_row_names_the_line(tmp_path):
    root = tmp_path / "ml-1m"
    root.mkdir()
    (root / "ratings.dat").write_text("1::1193::5::978300760\n1::661::3::978302109\n2::1193\n")
    with pytest.raises(UserError, match=r"ratings\.dat.*line 3: missing"):
        movielens_1m(root, split={"train": 0.8, "val": 0.1, "test": 0.1})
