"""The guarded byte reader (mlrun.datasets._source): a line over the line bound is refused while it streams (plain
and compressed, ratings and tables), values quoted from a file are shortened; and the ratings checks found by the
same probe: empty held-out splits and a k larger than the catalogue are one line."""

from __future__ import annotations

import gzip
import io
import subprocess
import sys

import numpy as np
import pytest

from mlrun.datasets import _table_read, ratings_csv
from mlrun.datasets._source import Bounded, shown
from mlrun.datasets.ratings.data import ratings_data
from mlrun.errors import UserError

ALL_TRAIN = {"train": 1.0, "val": 0.0, "test": 0.0}
HEAD = b"userId,movieId,rating\n1,1,"


def test_shown_keeps_short_values_and_cuts_long_ones():
    assert shown("abc") == "'abc'" and shown(float("inf")) == "inf" and shown("abc", quote=False) == "abc"
    assert shown("1" * 2000) == f"'{'1' * 40}'… (2,000 characters)"


def test_bounded_finds_a_long_line_across_reads():
    def read(data: bytes, limit: int):
        stream = io.BufferedReader(Bounded(io.BytesIO(data), 1 << 30, "f", limit), buffer_size=8)
        return stream.read()

    assert read(b"abcd\nefgh\nij", 4) == b"abcd\nefgh\nij"          # exactly the bound is fine
    with pytest.raises(UserError, match=r"^f: line 2 is longer than 4 bytes"):
        read(b"ab\ncdefgh\nij", 4)
    with pytest.raises(UserError, match=r"^f: line 3 is longer than 4 bytes"):
        read(b"a\nb\n" + b"x" * 20, 4)                                # the last line, without a newline


@pytest.mark.parametrize("pack", [gzip.compress, lambda b: b], ids=["gzip", "plain"])
def test_a_long_ratings_line_is_one_short_line(tmp_path, pack):
    f = tmp_path / "r.csv"
    f.write_bytes(pack(HEAD + b"1" * (3 << 20) + b"\n2,2,3\n"))
    with pytest.raises(UserError) as e:
        ratings_csv(str(f), ALL_TRAIN)
    message = str(e.value)
    assert "line 2 is longer than 1 MiB" in message and len(message) < 300 and "\n" not in message


def test_a_long_table_line_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(_table_read, "LINE_LIMIT", 1 << 10)       # tables allow 16 MiB; the same code at 1 KiB
    f = tmp_path / "t.csv"
    f.write_bytes(gzip.compress(b"a,b,y\n1,1," + b"1" * 5000 + b"\n2,2,3\n"))
    with pytest.raises(UserError, match=r"t\.csv'?: line 2 is longer than 1,024 bytes \(decompressed\)"):
        _table_read.read_table(f)


def test_a_long_cell_under_the_bound_is_quoted_short(tmp_path):
    f = tmp_path / "r.csv"
    f.write_bytes(HEAD + b"1" * 5000 + b"\n")
    with pytest.raises(UserError, match=r"line 2: rating '1{40}'… \(5,000 characters\) is not a number") as e:
        ratings_csv(str(f), ALL_TRAIN)
    assert len(str(e.value)) < 400


def test_peak_memory_stays_bounded_on_a_huge_compressed_field(tmp_path):
    """64 MB of one field in a 64 KB gzip: the read stops at the first MiB of the line (before the bound it was
    ~25× the field in RSS)."""
    f = tmp_path / "r.csv"
    with gzip.open(f, "wb", 1) as g:
        g.write(HEAD)
        for _ in range(64):
            g.write(b"1" * (1 << 20))
        g.write(b"\n2,2,3\n")
    code = ("import resource; from mlrun.datasets import ratings_csv; from mlrun.errors import UserError\n"
            "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
            f"try: ratings_csv({str(f)!r}, {ALL_TRAIN!r})\n"
            "except UserError as e: print(len(str(e)))\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    length, grown_kb = map(int, out.stdout.split())
    assert length < 300 and grown_kb < 48 << 10, out.stdout          # < 48 MB above the imports


def _grid(n_users: int, n_items: int):
    users = np.repeat(np.arange(n_users), n_items).astype(str)
    items = np.tile(np.arange(n_items), n_users).astype(str)
    return users, items, np.arange(n_users * n_items) % 5 + 1.0


@pytest.mark.parametrize("split_by", ["random", "time"])
def test_leave_out_larger_than_every_user_is_one_line(split_by):
    users, items, ratings = _grid(20, 8)
    times = np.arange(len(users), dtype=float) if split_by == "time" else None
    with pytest.raises(UserError, match=r"^dataset\.leave_out=50: no user has more than 100 ratings .* the most "
                                        r"any user has is 8: set dataset\.leave_out ≤ 3$"):
        ratings_data(users, items, ratings, name="t", split={"train": 0.8, "val": 0.1, "test": 0.1}, leave_out=50,
                     split_by=split_by, times=times)
    with pytest.raises(UserError, match=r"no user has more than 8 ratings, .* set dataset\.leave_out ≤ 7$"):
        ratings_data(users, items, ratings, name="t", split={"train": 0.9, "val": 0.0, "test": 0.1}, leave_out=8,
                     split_by=split_by, times=times)
    data = ratings_data(users, items, ratings, name="t", split={"train": 0.8, "val": 0.1, "test": 0.1},
                        leave_out=3, split_by=split_by, times=times)
    assert len(data.test) == 60 and len(data.val) == 60


def test_an_empty_held_out_split_names_its_key(caplog):
    users, items, ratings = _grid(4, 4)
    with caplog.at_level("WARNING", logger="mlrun"):             # a tiny file: warned, as other datasets are
        ratings_data(users, items, ratings, name="t", split={"train": 0.8, "val": 0.1, "test": 0.01})
    assert "dataset.split.test=0.01: the test split is empty (16 ratings" in caplog.text
    with pytest.raises(UserError, match=r"^dataset\.cut=1: leaves 1 rating\(s\) before it, none for the val split"):
        ratings_data(users, items, ratings, name="t", split={"train": 0.8, "val": 0.1, "test": 0.1},
                     split_by="time", times=np.arange(16, dtype=float), cut=1)
    data = ratings_data(users, items, ratings, name="t", split=ALL_TRAIN)      # a split set to 0: the user's choice
    assert len(data.train) == 16 and len(data.val) == len(data.test) == 0


def test_k_larger_than_the_catalogue_is_one_line_unless_the_default():
    users, items, ratings = _grid(10, 8)
    with pytest.raises(UserError, match=r"^dataset\.ranking\.k=\[100\]: k=100 is larger than the catalogue "
                                        r"\(8 items with a train rating\); set each k ≤ 8$"):
        ratings_data(users, items, ratings, name="t", split=ALL_TRAIN, ranking={"k": [100]})
    assert ratings_data(users, items, ratings, name="t", split=ALL_TRAIN).ranking["k"] == [10]   # default: logged
