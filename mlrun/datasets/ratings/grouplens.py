"""A GroupLens MovieLens release (movielens_100k, movielens_1m): the ratings file, titles, split and id maps."""

from __future__ import annotations

from pathlib import Path

from mlrun.datasets.ratings.data import RatingsData, ratings_data
from mlrun.datasets.ratings.fetch import locate
from mlrun.datasets.ratings.read import read_ratings
from mlrun.datasets.ratings.times import read_times


def grouplens(root: str, *, name: str, folder: str, ratings_file: str, sep: str, titles_file: str, titles_sep: str,
              url: str, md5: str, split: dict, leave_out: int, folds: int, fold: int, seed: int,
              download: bool, split_by: str = "random", metric: str = "rmse",
              ranking: dict | None = None, cut=None) -> RatingsData:
    """`root/ratings_file` (user, item, rating, timestamp; downloaded from `url` with an MD5 check when missing and
    `download`), titles from `root/titles_file` when present (latin-1, as GroupLens writes them); split and
    remapped by `ratings_data` (split_by=time reads the timestamp column too)."""
    file = locate(root, ratings_file, url, md5, folder, download)
    users, items, ratings = read_ratings(file, sep=sep, columns=[0, 1, 2], header=False, key="dataset.root",
                                         encoding="latin-1")
    times = read_times(file, sep, 3, False, "dataset.root", "latin-1", len(ratings)) if split_by == "time" else None
    title_path = Path(file).with_name(titles_file)
    titles = read_titles(title_path, titles_sep) if title_path.is_file() else {}
    return ratings_data(users, items, ratings, name=name, split=split, leave_out=leave_out, folds=folds, fold=fold,
                        seed=seed, titles=titles, split_by=split_by, times=times, metric=metric, ranking=ranking,
                        cut=cut)


def read_titles(file: Path, sep: str) -> dict[str, str]:
    """{raw item id: title} from u.item (`|`) or movies.dat (`::`): id and title are the first two fields."""
    titles = {}
    for line in Path(file).read_text(encoding="latin-1").splitlines():
        parts = line.split(sep)
        if len(parts) >= 2:
            titles[parts[0].strip()] = parts[1].strip()
    return titles
