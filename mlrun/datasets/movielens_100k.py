"""MovieLens 100k (GroupLens): 100,000 ratings 1–5 of 1,682 movies by 943 users, from `u.data`
(tab-separated user, item, rating, timestamp); titles from `u.item` when present (for `mlrun recommend`).

    mlrun train model=mf optimizer=als dataset=movielens_100k
    mlrun train model=mf optimizer=als dataset=movielens_100k trainer.cv_folds=5
"""

from __future__ import annotations

from mlrun.datasets.ratings.data import RatingsData
from mlrun.datasets.ratings.grouplens import grouplens

URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
MD5 = "0e33842e24a9c977be4e0107933c0723"


def movielens_100k(root: str, split: dict, leave_out: int = 0, folds: int = 1, fold: int = 0, seed: int = 0,
                   download: bool = False, split_by: str = "random", metric: str = "rmse",
                   ranking: dict | None = None, cut=None) -> RatingsData:
    """Read `root/u.data` (downloaded from GroupLens with an MD5 check when missing and `download`); split and
    remap as described in mlrun.datasets.ratings (data.py, split.py)."""
    return grouplens(root, name="movielens_100k", folder="ml-100k",
                     ratings_file="u.data", sep="\t", titles_file="u.item",
                     titles_sep="|", url=URL, md5=MD5, split=split, leave_out=leave_out, folds=folds, fold=fold,
                     seed=seed, download=download, split_by=split_by, metric=metric, ranking=ranking,
                     cut=cut)
