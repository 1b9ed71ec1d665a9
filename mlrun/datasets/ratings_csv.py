"""Any user/item/rating file: delimited text (separator, header, encoding) or Parquet (by extension .parquet/.pq),
the three columns by name or 0-based index; an optional separate test file (then the main file is split into
train/val only). Compressed text (gzip, bz2, xz, zip) is recognised by its first bytes, whatever the file's name.
Ids are text (mlrun/datasets/ratings/cells.py); a (user, item) pair rated more than once keeps its last rating,
with one warning (mlrun/datasets/ratings/data.py). File formats, the id rule and encodings: docs/scale.md.

    mlrun train model=mf dataset=ratings_csv dataset.path=r.csv dataset.test_path=t.csv "dataset.sep=','"
    mlrun train model=mf dataset=ratings_csv dataset.path=u.data dataset.sep='\t' dataset.header=false \\
        dataset.user_col=0 dataset.item_col=1 dataset.rating_col=2
    mlrun train model=mf optimizer=als dataset=ratings_csv dataset.path=ratings.parquet
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mlrun.datasets.ratings.cells import as_text
from mlrun.datasets.ratings.data import RatingsData, ratings_data
from mlrun.datasets.ratings.read import read_ratings
from mlrun.datasets.ratings.times import read_times
from mlrun.errors import UserError


def ratings_csv(path: str, split: dict, test_path: str | None = None, sep: str = ",", header: bool = True,
                user_col: str | int = "userId", item_col: str | int = "movieId", rating_col: str | int = "rating",
                encoding: str = "utf-8", leave_out: int = 0, folds: int = 1, fold: int = 0,
                seed: int = 0, timestamp_col: str | int | None = None, split_by: str = "random",
                metric: str = "rmse", ranking: dict | None = None, cut=None) -> RatingsData:
    """Read `path`; with `test_path` its rows are the test split and `path` is divided into val (split.val of it)
    and train (the rest). split_by=time reads `timestamp_col` too."""
    sep = {"\\t": "\t", "tab": "\t"}.get(sep, sep)        # a typed backslash-t on the command line means a tab
    columns = [user_col, item_col, rating_col]
    users, items, ratings = read_ratings(_file(path, "dataset.path"), sep, columns, header, "dataset.path", encoding)
    options = {"split_by": split_by, "metric": metric, "ranking": ranking, "cut": cut}
    if not test_path:
        times = None
        if split_by == "time" and timestamp_col is not None:
            times = read_times(_file(path, "dataset.path"), sep, timestamp_col, header, "dataset.path", encoding,
                               len(ratings))
        return ratings_data(users, items, ratings, name="ratings_csv", split=split, leave_out=leave_out,
                            folds=folds, fold=fold, seed=seed, times=times, **options)
    if folds > 1 or leave_out > 0:
        raise UserError(f"dataset.test_path={test_path!r}: a separate test file fixes the test split; "
                        f"leave_out and folds (trainer.cv_folds) need dataset.test_path=null")
    t_users, t_items, t_ratings = read_ratings(_file(test_path, "dataset.test_path"), sep, columns, header,
                                               "dataset.test_path", encoding)
    if users.dtype != t_users.dtype:           # integers in one file, text in the other: both text
        users, t_users = as_text(users), as_text(t_users)
    if items.dtype != t_items.dtype:
        items, t_items = as_text(items), as_text(t_items)
    n, val = len(ratings), float(split.get("val", 0.0))
    return ratings_data(np.concatenate([users, t_users]), np.concatenate([items, t_items]),
                        np.concatenate([ratings, t_ratings]), name="ratings_csv",
                        split={"train": 1.0 - val, "val": val, "test": 0.0}, seed=seed,
                        fixed_test=np.arange(n, n + len(t_ratings)), **options)


def _file(path: str, key: str) -> Path:
    file = Path(str(path)).expanduser()
    if not file.is_file():
        raise UserError(f"{key}={str(path)!r}: file not found")
    return file
