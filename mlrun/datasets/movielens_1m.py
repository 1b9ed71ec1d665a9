"""MovieLens 1M (GroupLens): 1,000,209 ratings 1–5 of 3,706 movies by 6,040 users, from `ratings.dat`
(`UserID::MovieID::Rating::Timestamp`); titles from `movies.dat` when present.

    mlrun train model=mf optimizer=als dataset=movielens_1m trainer.cv_folds=5
"""

from __future__ import annotations

from pathlib import Path

from mlrun.datasets._ratings import RatingsData, locate, ratings_data, read_ratings, read_titles

URL = "https://files.grouplens.org/datasets/movielens/ml-1m.zip"
MD5 = "c4d9eecfca2ab87c1945afe126590906"


def movielens_1m(root: str, split: dict, leave_out: int = 0, folds: int = 1, fold: int = 0, seed: int = 0,
                 download: bool = False) -> RatingsData:
    """Read `root/ratings.dat` (downloaded from GroupLens with an MD5 check when missing and `download`); split and
    remap as described in mlrun.datasets._ratings."""
    file = locate(root, "ratings.dat", URL, MD5, "ml-1m", download)
    users, items, ratings = read_ratings(file, sep="::", columns=[0, 1, 2], header=False, key="dataset.root")
    movie_file = Path(file).with_name("movies.dat")
    titles = read_titles(movie_file, "::") if movie_file.is_file() else {}
    return ratings_data(users, items, ratings, name="movielens_1m", split=split, leave_out=leave_out,
                        folds=folds, fold=fold, seed=seed, titles=titles)
