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

from mlrun.datasets.ratings.split import split_ratings
from mlrun.datasets.spec import Data, DataSpec, Split
from mlrun.errors import check

log = logging.getLogger("mlrun")


@dataclass
class RatingsData(Data):
    user_ids: list[str] = field(default_factory=list)   # raw id of each train user index
    item_ids: list[str] = field(default_factory=list)   # raw id of each train item index
    titles: dict[str, str] = field(default_factory=dict)  # raw item id → title ({} when the dataset has none)
    codes: tuple = ()              # (users, items): int32 position of every rating's raw id in `labels`, file order
    labels: tuple = ()             # (users, items): the sorted distinct raw ids of the file

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
                 titles: dict | None = None, fixed_test: np.ndarray | None = None) -> RatingsData:
    """Keep the last rating of each (user, item) pair, split, remap raw ids to train indices (−1 = unseen in
    train), return tensors + spec. `fixed_test`: indices of the test ratings (a separate test file); the others are
    split into train/val."""
    user_codes, user_labels = _factorize(users)                 # int32 codes when they fit (half the memory)
    item_codes, item_labels = _factorize(items)
    keep = last_of_each_pair(user_codes, item_codes, (user_labels, item_labels), name)
    if keep is not None:                                        # every label keeps one rating: labels stay valid
        if fixed_test is not None:
            held = np.zeros(len(user_codes), dtype=bool)
            held[fixed_test] = True
            fixed_test = np.flatnonzero(held[keep])
        user_codes, item_codes, ratings = user_codes[keep], item_codes[keep], ratings[keep]
    tr, va, te = _split(user_codes, split, leave_out, folds, fold, seed, fixed_test)
    check(len(tr) > 0, "dataset.split", split, "leaves no train ratings")
    user_index, user_ids = _train_index(user_codes[tr], user_labels)
    item_index, item_ids = _train_index(item_codes[tr], item_labels)
    ratings32 = ratings.astype(np.float32)                      # the splits' y (float32 like every Split)

    def part(idx: np.ndarray) -> Split:
        x = np.empty((len(idx), 2), dtype=np.int64)                                          # (N, 2)
        x[:, 0], x[:, 1] = user_index[user_codes[idx]], item_index[item_codes[idx]]
        return Split(torch.from_numpy(x), torch.from_numpy(ratings32[idx]))

    spec = DataSpec(input_shape=(2,), n_outputs=1, task="ratings", name=name, n_users=len(user_ids),
                    n_items=len(item_ids), n_train=len(tr), rating_range=[float(ratings.min()), float(ratings.max())])
    return RatingsData(part(tr), part(va), part(te), spec, user_ids=user_ids, item_ids=item_ids, titles=titles or {},
                       codes=(user_codes, item_codes), labels=(user_labels, item_labels))


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
