"""movielens_100k: the u.data parser, titles, bad rows, missing files, the checksum-checked download."""

from __future__ import annotations

import hashlib
import sys
import zipfile

import numpy as np
import pytest

from mlrun.datasets import movielens_100k
from mlrun.datasets.ratings import read as ratings_read
from mlrun.errors import UserError
from tests.helpers import data_dir

SPLIT = {"train": 0.8, "val": 0.1, "test": 0.1}


def write_ml100k(folder, rows, items=None):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "u.data").write_text("".join(f"{u}\t{i}\t{r}\t881250949\n" for u, i, r in rows))
    if items:
        (folder / "u.item").write_bytes("".join(f"{i}|{t}|01-Jan-1995||http://x|0|1\n" for i, t in items.items())
                                        .encode("latin-1"))
    return folder


def test_parses_u_data_and_titles(tmp_path):
    rows = [(196, 242, 3), (186, 302, 3), (22, 377, 1), (196, 302, 5), (22, 242, 4)]
    root = write_ml100k(tmp_path / "ml-100k", rows, {242: "Kolya (1996)", 302: "L.A. Confidential (1997)",
                                                     377: "José e Pilar (2010)"})     # u.item is latin-1
    data = movielens_100k(root, split={"train": 1.0, "val": 0.0, "test": 0.0})
    assert data.spec.task == "ratings" and data.spec.n_train == 5 and data.spec.rating_range == [1.0, 5.0]
    assert data.user_ids == ["22", "186", "196"] and data.item_ids == ["242", "302", "377"]
    pairs = {(data.user_ids[u], data.item_ids[i], r) for (u, i), r in zip(data.train.x.tolist(),
                                                                         data.train.y.tolist())}
    assert pairs == {(str(u), str(i), float(r)) for u, i, r in rows}
    assert data.titles["242"] == "Kolya (1996)" and data.titles["377"] == "José e Pilar (2010)"
    assert data.spec.to_dict()["n_users"] == 3                 # plain data: fits a weights_only checkpoint


def test_bad_row_names_the_file_and_line(tmp_path):
    root = tmp_path / "ml-100k"
    root.mkdir()
    (root / "u.data").write_text("1\t2\t3\t0\n1\t3\tfive\t0\n")
    with pytest.raises(UserError, match=r"u\.data.*line 2: rating 'five' is not a number"):
        movielens_100k(root, split=SPLIT)
    (root / "u.data").write_text("1\t2\t3\t0\n\n2\t7\n")
    with pytest.raises(UserError, match=r"line 3: missing user, item or rating column"):
        movielens_100k(root, split=SPLIT)


def test_missing_files_say_what_to_put_where(tmp_path):
    with pytest.raises(UserError, match=r"u\.data not found; put the ml-100k files there.*download=true"):
        movielens_100k(tmp_path / "nowhere", split=SPLIT)


def test_download_checks_the_md5_before_extracting(tmp_path, monkeypatch):
    src = write_ml100k(tmp_path / "src" / "ml-100k", [(1, 1, 4), (2, 1, 3)])
    archive = tmp_path / "ml-100k.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for f in src.iterdir():
            z.write(f, f"ml-100k/{f.name}")
    module = sys.modules["mlrun.datasets.movielens_100k"]      # the package attribute is the function
    monkeypatch.setattr(module, "URL", archive.as_uri())
    root = tmp_path / "data" / "ml-100k"
    with pytest.raises(UserError, match="has MD5 .* expected"):
        movielens_100k(root, split=SPLIT, download=True)
    assert not (root / "u.data").exists()
    monkeypatch.setattr(module, "MD5", hashlib.md5(archive.read_bytes()).hexdigest())
    data = movielens_100k(root, split={"train": 1.0, "val": 0.0, "test": 0.0}, download=True)
    assert (root / "u.data").is_file() and data.spec.n_train == 2


def test_real_u_data():
    root = data_dir()
    if root is None or not (root / "ml-100k" / "u.data").is_file():
        pytest.skip("MovieLens 100k not under the data root")
    users, items, ratings = ratings_read.read_ratings(root / "ml-100k" / "u.data", "\t", [0, 1, 2], header=False)
    assert len(ratings) == 100_000 and len(np.unique(users)) == 943 and len(np.unique(items)) == 1682
    data = movielens_100k(root / "ml-100k", split=SPLIT, seed=0)
    assert (len(data.train), len(data.val), len(data.test)) == (80_000, 10_000, 10_000)
    assert data.titles["1"] == "Toy Story (1995)"
