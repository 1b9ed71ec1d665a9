"""MovieLens 100k (GroupLens): 100,000 ratings 1–5 of 1,682 movies by 943 users, from `u.data`
(tab-separated user, item, rating, timestamp); titles from `u.item` when present (for `mlrun recommend`).

    mlrun train model=mf optimizer=als dataset=movielens_100k
    mlrun train model=mf optimizer=als dataset=movielens_100k trainer.cv_folds=5
"""

from __future__ import annotations

from pathlib import Path

from mlrun.datasets._ratings import RatingsData, locate, ratings_data, read_ratings, read_titles

URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
MD5 = "0e33842e24a9c977be4e0107933c0723"


def movielens_100k(root: str, split: dict, leave_out: int = 0, folds: int = 1, fold: int = 0, seed: int = 0,
                   download: bool = False) -> RatingsData:
    """Read `root/u.data` (downloaded from GroupLens with an MD5 check when missing and `download`); split and
    remap as described in mlrun.datasets._ratings."""
    file = locate(root, "u.data", URL, MD5, "ml-100k", download)
    users, items, ratings = read_ratings(file, sep="\t", columns=[0, 1, 2], header=False, key="dataset.root")
    item_file = Path(file).with_name("u.item")
    titles = read_titles(item_file, "|") if item_file.is_file() else {}
    return ratings_data(users, items, ratings, name="movielens_100k", split=split, leave_out=leave_out,
                        folds=folds, fold=fold, seed=seed, titles=titles)
