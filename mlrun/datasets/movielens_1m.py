"""MovieLens 1M (GroupLens): 1,000,209 ratings 1–5 of 3,706 movies by 6,040 users, from `ratings.dat`
(`UserID::MovieID::Rating::Timestamp`); titles from `movies.dat` when present.

    mlrun train model=mf optimizer=als dataset=movielens_1m trainer.cv_folds=5
"""

from __future__ import annotations

from mlrun.datasets.ratings.data import RatingsData
from mlrun.datasets.ratings.grouplens import grouplens

URL = "https://files.grouplens.org/datasets/movielens/ml-1m.zip"
MD5 = "c4d9eecfca2ab87c1945afe126590906"


def movielens_1m(root: str, split: dict, leave_out: int = 0, folds: int = 1, fold: int = 0, seed: int = 0,
                 download: bool = False, split_by: str = "random", metric: str = "rmse",
                 ranking: dict | None = None, cut=None) -> RatingsData:
    """Read `root/ratings.dat` (downloaded from GroupLens with an MD5 check when missing and `download`); split and
    remap as described in mlrun.datasets.ratings (data.py, split.py)."""
    return grouplens(root, name="movielens_1m", folder="ml-1m",
                     ratings_file="ratings.dat", sep="::", titles_file="movies.dat",
                     titles_sep="::", url=URL, md5=MD5, split=split, leave_out=leave_out, folds=folds, fold=fold,
                     seed=seed, download=download, split_by=split_by, metric=metric, ranking=ranking,
                     cut=cut)
