"""Ratings files: compression is found by magic bytes, whatever the name (gzip, bz2, xz, zip; a plain file named
.gz is plain)."""

from __future__ import annotations

import bz2
import gzip
import lzma
import zipfile

import pytest

from mlrun.datasets import ratings_csv
from mlrun.datasets.ratings.source import compression
from mlrun.errors import UserError

TEXT = b"userId,movieId,rating\n1,10,4\n2,10,3\n2,11,5\n"
ALL_TRAIN = {"train": 1.0, "val": 0.0, "test": 0.0}


@pytest.mark.parametrize("name, pack, kind", [
    ("r.csv", gzip.compress, "gzip"), ("r.csv", bz2.compress, "bz2"), ("r.txt", lzma.compress, "xz"),
    ("r.csv.gz", lambda b: b, None), ("r.bz2", lambda b: b, None)])
def test_any_name_any_compression(tmp_path, name, pack, kind):
    f = tmp_path / name
    f.write_bytes(pack(TEXT))
    assert compression(f) == kind
    data = ratings_csv(str(f), ALL_TRAIN)
    assert data.user_ids == ["1", "2"] and data.item_ids == ["10", "11"] and sorted(data.train.y.tolist()) == [3, 4, 5]


def test_a_zip_of_one_file_and_a_bad_line_inside_a_compressed_file(tmp_path):
    f = tmp_path / "r.dat"
    with zipfile.ZipFile(f, "w") as z:
        z.writestr("ratings.dat", "1::10::4\n2::10::3\n")
    assert ratings_csv(str(f), ALL_TRAIN, sep="::", header=False, user_col=0, item_col=1,
                       rating_col=2).spec.n_train == 2
    g = tmp_path / "g.csv"
    g.write_bytes(gzip.compress(TEXT + b"3,12,lots\n"))
    with pytest.raises(UserError, match=r"g.csv'?: line 5: rating 'lots' is not a number: '3,12,lots'"):
        ratings_csv(str(g), ALL_TRAIN)
