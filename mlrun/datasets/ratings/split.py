"""split_ratings: index arrays (train, val, test) into the ratings, chosen by the dataset keys, all seeded:

  - folds > 1 (set by trainer.cv_folds): k-fold cross validation; the ratings are partitioned into `folds` parts,
    part `fold` is test, a fraction split.val of all ratings (from the other parts) is val, the rest train;
  - leave_out = k > 0: per-user leave-k-out; k random ratings of every user with more than k (2k when val) go to
    test, k more to val when split.val > 0, the rest to train;
  - else a random holdout by the fractions split.train / split.val / split.test.
Each rating lands in exactly one split; data.py first keeps one rating per (user, item) pair, so a pair is never
in two splits either. check_held_out refuses, in one line naming the key to change, a val or test split that the
settings ask for but that came out empty (no user with more than leave_out ratings, a tiny file).
"""

from __future__ import annotations

import logging

import numpy as np

from mlrun.datasets.splits import check_fractions, split_indices
from mlrun.errors import UserError, check, number

log = logging.getLogger("mlrun")


def split_ratings(users: np.ndarray, split: dict, leave_out: int, folds: int, fold: int, seed: int):
    """(train, val, test) int64 index arrays. `users`: any per-rating key that groups the ratings by user (raw
    ids or their codes)."""
    n = len(users)
    fractions = check_fractions(split)
    number("dataset.leave_out", leave_out, 0, integer=True)
    number("dataset.folds", folds, 1, integer=True)
    number("dataset.fold", fold, 0, folds - 1, integer=True)
    rng = np.random.default_rng(seed)
    if folds > 1:
        check(folds <= n, "dataset.folds", folds, f"must be ≤ the number of ratings ({n})")
        part = np.empty(n, dtype=np.int64)
        part[rng.permutation(n)] = np.arange(n) % folds           # fold sizes differ by at most one
        test = np.flatnonzero(part == fold)
        rest = rng.permutation(np.flatnonzero(part != fold))
        n_val = min(int(round(fractions[1] * n)), len(rest) - 1)
        return np.sort(rest[n_val:]), np.sort(rest[:n_val]), test
    if leave_out > 0:
        return _leave_out(users, leave_out, fractions[1] > 0, rng)
    return split_indices(np.zeros(n), fractions, seed, stratify=False)


def _leave_out(users: np.ndarray, k: int, with_val: bool, rng: np.random.Generator):
    """Per-user leave-k-out: k random ratings of every user with more than k (2k with val) to test, k more to val."""
    n = len(users)
    n_out = 2 * k if with_val else k
    order = np.lexsort((rng.random(n), users))                 # by user, random within a user
    sorted_users = users[order]
    starts = np.flatnonzero(np.r_[True, sorted_users[1:] != sorted_users[:-1]])
    counts = np.diff(np.r_[starts, n])
    rank = np.arange(n) - np.repeat(starts, counts)            # position within the user's ratings
    eligible = np.repeat(counts > n_out, counts)               # users keep at least one train rating
    test = order[eligible & (rank < k)]
    val = order[eligible & (rank >= k) & (rank < n_out)] if with_val else order[:0]
    held = np.zeros(n, dtype=bool)
    held[test], held[val] = True, True
    return np.flatnonzero(~held), np.sort(val), np.sort(test)


SPLITS_BY = ("random", "time")


def split_by_time(users: np.ndarray, times: np.ndarray, split: dict, leave_out: int, cut: float | None = None):
    """(train, val, test) int64 index arrays by time (the honest protocol when the data has timestamps):
    leave_out = k > 0: every user's LAST k interactions (of users with more than k, 2k with val) go to test, the k
    before them to val when split.val > 0; leave_out = 0: one global cut — the latest split.test fraction of all
    interactions goes to test, the split.val fraction before it to val, the split.train fraction before that to
    train (the oldest beyond it are left out when the fractions sum to less than 1); `cut` (a time, in the units
    of `times`): everything at or after it goes to test, the latest split.val fraction of all before it to val, the
    rest to train. Ties in time keep file order."""
    fractions = check_fractions(split)
    number("dataset.leave_out", leave_out, 0, integer=True)
    n = len(users)
    if leave_out > 0:
        k, with_val = leave_out, fractions[1] > 0
        n_out = 2 * k if with_val else k
        order = np.lexsort((-np.arange(n), -times, users))     # by user, latest first (file order breaks ties)
        sorted_users = users[order]
        starts = np.flatnonzero(np.r_[True, sorted_users[1:] != sorted_users[:-1]])
        counts = np.diff(np.r_[starts, n])
        rank = np.arange(n) - np.repeat(starts, counts)        # 0 = the user's latest interaction
        eligible = np.repeat(counts > n_out, counts)
        test = order[eligible & (rank < k)]
        val = order[eligible & (rank >= k) & (rank < n_out)] if with_val else order[:0]
        held = np.zeros(n, dtype=bool)
        held[test], held[val] = True, True
        return np.flatnonzero(~held), np.sort(val), np.sort(test)
    order = np.argsort(times, kind="stable")                    # oldest first
    if cut is not None:
        check(leave_out == 0, "dataset.cut", cut, "takes no dataset.leave_out (one date for everyone)")
        n_test = int((times >= cut).sum())
        check(0 < n_test < n, "dataset.cut", cut, f"must fall after the first timestamp ({times.min():.0f} s since "
              f"1970) and not after the last ({times.max():.0f})")
        n_val = min(int(round(fractions[1] * n)), n - n_test - 1)
        cut_at = n - n_test - n_val
        return np.sort(order[:cut_at]), np.sort(order[cut_at:n - n_test]), np.sort(order[n - n_test:])
    n_test, n_val = int(round(fractions[2] * n)), int(round(fractions[1] * n))
    n_train = min(int(round(fractions[0] * n)), n - n_test - n_val)
    cut = n - n_test - n_val
    return (np.sort(order[cut - n_train:cut]), np.sort(order[cut:cut + n_val]), np.sort(order[cut + n_val:]))


def check_held_out(users: np.ndarray, val: np.ndarray, test: np.ndarray, split: dict, leave_out: int,
                   fixed_test: bool, cut=None) -> None:
    """One UserError line naming the key to change when leave_out or a cut leaves a held-out split the settings ask
    for empty (a run scored on nothing reports NaN metrics); a warning when a fraction rounds to 0 on a tiny file.
    `users`: the user of every rating that was split (not those of a separate test file, `fixed_test`). A split set to 0 (split.val=0, split.test=0) is the user's choice."""
    fractions = check_fractions(split)
    if leave_out > 0:
        with_val = fractions[1] > 0
        if (fixed_test or len(test)) and (not with_val or len(val)):
            return
        n_out = 2 * leave_out if with_val else leave_out
        most = int(np.unique(users, return_counts=True)[1].max()) if len(users) else 0
        best = (most - 1) // 2 if with_val else most - 1          # the largest k that leaves someone eligible
        fix = f"set dataset.leave_out ≤ {best}" if best > 0 else "set dataset.leave_out=0 (a random split)"
        why = " (2 × leave_out: k to test and k to val with split.val > 0)" if with_val else ""
        raise UserError(f"dataset.leave_out={leave_out}: no user has more than {n_out} ratings{why}, so the held-out "
                        f"splits are empty; the most any user has is {most}: {fix}")
    for name, part, fraction in (("test", test, fractions[2]), ("val", val, fractions[1])):
        if len(part) or fraction == 0 or (name == "test" and fixed_test):
            continue
        if cut is not None:                                     # test is non-empty (the cut is checked first)
            raise UserError(f"dataset.cut={cut!r}: leaves {len(users) - len(test)} rating(s) before it, none for "
                            f"the val split (split.val={fraction:g}); move dataset.cut later or set "
                            f"dataset.split.val=0")
        # a tiny file (a docs example, a smoke test): warned as every dataset's empty split is (datasets/splits.py);
        # its metrics are NaN and say so, where leave_out or a cut that empties a split is refused above
        log.warning("dataset.split.%s=%g: the %s split is empty (%s ratings × %g rounds to 0); raise "
                    "dataset.split.%s or use a larger file", name, fraction, name, f"{len(users):,}", fraction, name)
