"""RatingsData and ratings_data: from raw (user, item, rating) columns to train/val/test tensors and the id maps.

Repeated pairs: a (user, item) pair rated more than once keeps its LAST rating in file order (with
dataset.test_path the test file comes after the main file), and one warning gives the count. So a pair is never in
both train and test (nor val), and the model is never scored on a rating it was trained on.
Ids are remapped to contiguous indices from the TRAIN split only (index order = sorted raw ids; one hash pass,
pandas.factorize): a user or item whose ratings all fell into val/test gets index −1, and mlrun.models.MF predicts
for it from the biases and the global mean (cold start).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field

import numpy as np
import torch

from mlrun.datasets.ratings.split import SPLITS_BY, check_held_out, split_by_time, split_ratings
from mlrun.datasets.ratings.times import parse_cut
from mlrun.datasets.spec import Data, DataSpec, Split
from mlrun.errors import UserError, check, choose, number

log = logging.getLogger("mlrun")

# the top-k metrics a ratings run can monitor as dataset.metric=<name>@<k> (mlrun.metrics.tasks.RANKING without
# coverage; datasets sit below metrics, so the names are repeated here and a test checks that they agree)
RANKED = ("precision", "recall", "ndcg", "map", "hit_rate")
RANKING_DEFAULTS = {"k": [10], "threshold": 4.0, "per_epoch": False}


@dataclass
class RatingsData(Data):
    user_ids: list[str] = field(default_factory=list)   # raw id of each train user index
    item_ids: list[str] = field(default_factory=list)   # raw id of each train item index
    titles: dict[str, str] = field(default_factory=dict)  # raw item id → title ({} when the dataset has none)
    codes: tuple = ()              # (users, items): int32 position of every rating's raw id in `labels`, file order
    labels: tuple = ()             # (users, items): the sorted distinct raw ids of the file
    # top-k evaluation (mlrun.metrics.ranking): k (cut-offs), threshold (a held-out value ≥ it is relevant),
    # per_epoch (val ranking metrics in every record of a solver, also when the monitored metric is not one)
    ranking: dict = field(default_factory=lambda: dict(RANKING_DEFAULTS))

    @property
    def rated(self) -> tuple[np.ndarray, np.ndarray]:
        """(users, items): raw ids (str) of every rating in the file, for `mlrun recommend`; built on demand."""
        if not self.codes:
            return np.array([], dtype=str), np.array([], dtype=str)
        return tuple(np.asarray(labels)[codes].astype(str) for codes, labels in zip(self.codes, self.labels))

    def to(self, device) -> RatingsData:
        return dataclasses.replace(self, train=self.train.to(device), val=self.val.to(device),
                                   test=self.test.to(device))


def ratings_data(users: np.ndarray, items: np.ndarray, ratings: np.ndarray, *, name: str, split: dict,
                 leave_out: int = 0, folds: int = 1, fold: int = 0, seed: int = 0,
                 titles: dict | None = None, fixed_test: np.ndarray | None = None, split_by: str = "random",
                 times: np.ndarray | None = None, metric: str = "rmse", ranking: dict | None = None,
                 cut=None) -> RatingsData:
    """Keep the last rating of each (user, item) pair, split, remap raw ids to train indices (−1 = unseen in
    train), return tensors + spec. `fixed_test`: indices of the test ratings (a separate test file); the others are
    split into train/val. split_by=time splits by `times` (one per rating; None: the dataset has no timestamp
    column); `cut`: a global cut time (a number, or a date/time as text), test at or after it. `metric`: the
    monitored val metric (rmse | mae | <name>@<k>, k in ranking.k); `ranking`: the top-k evaluation's settings
    (RANKING_DEFAULTS for the keys left out)."""
    ranking = check_ranking(ranking or {}, metric)
    choose({s: s for s in SPLITS_BY}, "dataset.split_by", split_by)
    check(cut is None or split_by == "time", "dataset.cut", cut, "needs dataset.split_by=time")
    if split_by == "time":
        check(times is not None, "dataset.split_by", split_by, f"dataset={name} has no timestamp column "
              f"(ratings_csv: set dataset.timestamp_col); use dataset.split_by=random")
        check(folds == 1 and fixed_test is None, "dataset.split_by", split_by,
              "splits by time alone: needs dataset.folds=1 (trainer.cv_folds=1) and no dataset.test_path")
    user_codes, user_labels = _factorize(users)                 # int32 codes when they fit (half the memory)
    item_codes, item_labels = _factorize(items)
    keep = last_of_each_pair(user_codes, item_codes, (user_labels, item_labels), name)
    if keep is not None:                                        # every label keeps one rating: labels stay valid
        if fixed_test is not None:
            held = np.zeros(len(user_codes), dtype=bool)
            held[fixed_test] = True
            fixed_test = np.flatnonzero(held[keep])
        user_codes, item_codes, ratings = user_codes[keep], item_codes[keep], ratings[keep]
        times = times[keep] if times is not None else None
    if split_by == "time":
        at = None if cut is None else parse_cut(cut)
        check(at is None or times.min() < at <= times.max(), "dataset.cut", cut, f"must fall after the first "
              f"timestamp and not after the last ({_date(times.min())} … {_date(times.max())})")
        tr, va, te = split_by_time(user_codes, times, split, leave_out, at)
    else:
        tr, va, te = _split(user_codes, split, leave_out, folds, fold, seed, fixed_test)
    check(len(tr) > 0, "dataset.split", split, "leaves no train ratings")
    pool = user_codes if fixed_test is None else user_codes[np.concatenate([tr, va])]    # the ratings split
    check_held_out(pool, va, te, split, leave_out, fixed_test is not None, cut)
    user_index, user_ids = _train_index(user_codes[tr], user_labels)
    item_index, item_ids = _train_index(item_codes[tr], item_labels)
    ratings32 = ratings.astype(np.float32)                      # the splits' y (float32 like every Split)

    def part(idx: np.ndarray) -> Split:
        x = np.empty((len(idx), 2), dtype=np.int64)                                          # (N, 2)
        x[:, 0], x[:, 1] = user_index[user_codes[idx]], item_index[item_codes[idx]]
        return Split(torch.from_numpy(x), torch.from_numpy(ratings32[idx]))

    spec = DataSpec(input_shape=(2,), n_outputs=1, task="ratings", name=name, n_users=len(user_ids),
                    n_items=len(item_ids), n_train=len(tr), rating_range=[float(ratings.min()), float(ratings.max())],
                    metric=metric)
    # a k larger than the catalogue is one line, unless it is the default [10] and ranking is only a summary extra
    # (then a tiny catalogue leaves it out, said in the log)
    asked = "@" in metric or ranking["per_epoch"] or ranking["k"] != RANKING_DEFAULTS["k"]
    if asked and max(ranking["k"]) > len(item_ids):
        raise UserError(f"dataset.ranking.k={ranking['k']}: k={max(ranking['k'])} is larger than the catalogue "
                        f"({len(item_ids)} items with a train rating); set each k ≤ {len(item_ids)}")
    train, val, test = part(tr), part(va), part(te)
    if "@" in metric:
        _check_rankable(val, metric, ranking["threshold"])
    return RatingsData(train, val, test, spec, user_ids=user_ids, item_ids=item_ids, titles=titles or {},
                       codes=(user_codes, item_codes), labels=(user_labels, item_labels), ranking=ranking)


def _check_rankable(val: Split, metric: str, threshold: float) -> None:
    """A monitored top-k metric needs a val user with a relevant item (known user and item, value ≥ threshold):
    without one it is undefined (NaN) in every epoch, which the loop reported as a diverged training."""
    known = (val.x >= 0).all(1)
    if not bool((known & (val.y >= threshold)).any()):
        seen = f" (its values run {float(val.y.min()):g}–{float(val.y.max()):g})" if len(val.y) else " (it is empty)"
        raise UserError(f"dataset.metric={metric}: no val rating of a known user and item reaches "
                        f"dataset.ranking.threshold={threshold:g}{seen}, so {metric} is undefined in every epoch; "
                        f"lower dataset.ranking.threshold or give the val split more rows")


def check_ranking(ranking, metric: str) -> dict:
    """dataset.ranking with its defaults filled in and checked, and dataset.metric checked against its k."""
    for key in sorted(set(ranking) - set(RANKING_DEFAULTS)):
        raise UserError(f"dataset.ranking.{key}={ranking[key]!r}: not a key; valid keys: "
                        f"{', '.join(RANKING_DEFAULTS)}")
    out = dict(RANKING_DEFAULTS) | dict(ranking)
    ks = out["k"]
    ks = list(ks) if not isinstance(ks, (int, str)) and hasattr(ks, "__iter__") else [ks]
    check(len(ks) > 0 and all(isinstance(k, int) and not isinstance(k, bool) and k >= 1 for k in ks),
          "dataset.ranking.k", out["k"], "must be a list of integers ≥ 1, e.g. [10] or [5, 10, 20]")
    number("dataset.ranking.threshold", out["threshold"])
    check(isinstance(out["per_epoch"], bool), "dataset.ranking.per_epoch", out["per_epoch"], "must be true or false")
    out["k"], out["threshold"] = sorted(set(ks)), float(out["threshold"])
    valid = ["rmse", "mae"] + [f"{m}@{k}" for m in RANKED for k in out["k"]]
    check(metric in valid, "dataset.metric", metric, f"valid choices: rmse, mae, or <{'|'.join(RANKED)}>@<k> for "
          f"k in dataset.ranking.k={out['k']} (e.g. ndcg@{out['k'][0]})")
    return out


def _date(seconds: float) -> str:
    """Seconds since 1970 as a UTC date/time, for messages."""
    import datetime

    return datetime.datetime.fromtimestamp(float(seconds), datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _split(user_codes: np.ndarray, split: dict, leave_out: int, folds: int, fold: int, seed: int,
           fixed_test: np.ndarray | None):
    """(train, val, test) indices; with `fixed_test` the other ratings are split into train and val."""
    if fixed_test is None:
        return split_ratings(user_codes, split, leave_out, folds, fold, seed)
    held = np.zeros(len(user_codes), dtype=bool)
    held[fixed_test] = True
    main = np.flatnonzero(~held)
    tr, va, _ = split_ratings(user_codes[main], split, leave_out, folds, fold, seed)
    return main[tr], main[va], np.asarray(fixed_test)


def last_of_each_pair(user_codes: np.ndarray, item_codes: np.ndarray, labels: tuple, name: str) -> np.ndarray | None:
    """Indices of the ratings to keep, in file order — the last rating of each (user, item) pair — or None when
    no pair repeats. A sort of the int64 pair keys finds repeats; then one hash pass picks them; one warning
    counts them."""
    import pandas as pd

    key = user_codes.astype(np.int64) * max(len(labels[1]), 1) + item_codes
    ordered = np.sort(key)                         # the common case, no repeat: one sort (≈ 2× a hash pass)
    if not (ordered[1:] == ordered[:-1]).any():
        return None
    del ordered
    repeated = pd.Series(key).duplicated(keep="last").to_numpy()
    n = int(repeated.sum())
    first = int(np.argmax(repeated))
    times = int((key == key[first]).sum())
    pairs = len(pd.unique(key[repeated]))
    log.warning("dataset=%s: %s rating(s) repeat a (user, item) pair (%s pair(s) rated more than once, e.g. user "
                "%s item %s %d times); the last rating of each pair in file order is kept, the other %s dropped",
                name, f"{n:,}", f"{pairs:,}", labels[0][user_codes[first]], labels[1][item_codes[first]], times,
                f"{n:,}")
    return np.flatnonzero(~repeated)


def _factorize(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(codes, labels): labels = the sorted distinct ids, ids == labels[codes]; one hash pass, no Python loop."""
    import pandas as pd

    codes, labels = pd.factorize(np.asarray(ids), sort=True)
    return (codes.astype(np.int32) if len(labels) < 2 ** 31 else codes), np.asarray(labels)


def _train_index(train_codes: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """(code → train index or −1, raw ids of the train indices in sorted order)."""
    seen = np.zeros(len(labels), dtype=bool)
    seen[train_codes] = True
    index = np.where(seen, np.cumsum(seen) - 1, -1).astype(np.int64)
    return index, labels[seen].astype(str).tolist()
