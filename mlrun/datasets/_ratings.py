"""Shared by the ratings datasets (task=ratings): read (user, item, rating) files, split, remap ids, download.

Splits (chosen by the dataset keys, all seeded):
  - folds > 1 (set by trainer.cv_folds): k-fold cross validation; the ratings are partitioned into `folds` parts,
    part `fold` is test, a fraction split.val of all ratings (from the other parts) is val, the rest train;
  - leave_out = k > 0: per-user leave-k-out; k random ratings of every user with more than k (2k when val) go to
    test, k more to val when split.val > 0, the rest to train;
  - else a random holdout by the fractions split.train / split.val / split.test.
Ids are remapped to contiguous indices from the TRAIN split only (index order = sorted raw ids): a user or item
whose ratings all fell into val/test gets index −1, and mlrun.models.MF predicts for it from the biases and the
global mean (cold start).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from mlrun.datasets.spec import Data, DataSpec, Split
from mlrun.datasets.splits import check_fractions, split_indices
from mlrun.errors import UserError, check, number


@dataclass
class RatingsData(Data):
    user_ids: list[str] = field(default_factory=list)   # raw id of each train user index
    item_ids: list[str] = field(default_factory=list)   # raw id of each train item index
    titles: dict[str, str] = field(default_factory=dict)  # raw item id → title ({} when the dataset has none)
    rated: tuple = ()              # (users, items): raw ids of every rating in the file, for `mlrun recommend`

    def to(self, device) -> "RatingsData":
        return dataclasses.replace(self, train=self.train.to(device), val=self.val.to(device),
                                   test=self.test.to(device))


def read_ratings(file: Path, sep: str, columns: list, header: bool, key: str = "dataset.path"):
    """(users, items, ratings) from a delimited text file: raw ids (int64 when all numeric, else str) and float64
    ratings. `columns`: the user, item and rating columns, as 0-based indices or header names. Blank lines are
    skipped; a bad row ends in one UserError naming the file and line."""
    import pandas as pd

    file = Path(file)
    data = file.read_bytes()
    text = data.replace(sep.encode(), b"\x1f") if len(sep) > 1 else data   # "::" → one byte for pandas' C parser
    try:
        df = pd.read_csv(io.BytesIO(text), sep="\x1f" if len(sep) > 1 else sep, header=0 if header else None,
                         dtype=str, keep_default_na=False, skip_blank_lines=False, encoding="latin-1")
    except pd.errors.ParserError as e:
        m = re.search(r"line (\d+)", str(e))
        where = f"line {m.group(1)}: " if m else ""
        raise UserError(f"{key}={str(file)!r}: {where}cannot parse ({str(e).strip().splitlines()[-1]}); "
                        f"check dataset.sep={sep!r}") from None
    except Exception as e:  # noqa: BLE001 - empty file, encoding errors: the file's fault
        raise UserError(f"{key}={str(file)!r}: not a readable ratings file ({type(e).__name__}: {e})") from None
    names = []
    for role, col in zip(("user", "item", "rating"), columns):
        if isinstance(col, int) and not isinstance(col, bool):
            number(f"dataset.{role}_col", col, 0, integer=True)
            names.append(df.columns[col] if col < df.shape[1] else None)     # None: every row misses it
        else:
            check(header and col in df.columns, f"dataset.{role}_col", col,
                  f"not a column of {file.name}; columns are {', '.join(map(str, df.columns))}" if header else
                  "a column name needs dataset.header=true; use a 0-based index")
            names.append(col)
    first = 2 if header else 1                                    # file line of row 0
    cells = [df[n].fillna("").astype(str).str.strip() if n is not None else pd.Series([""] * len(df))
             for n in names]
    blank = df.fillna("").astype(str).apply(lambda c: c.str.strip() == "").all(axis=1).to_numpy()
    rating = pd.to_numeric(cells[2], errors="coerce").to_numpy(np.float64)
    missing = ((cells[0] == "") | (cells[1] == "") | (cells[2] == "")).to_numpy() & ~blank
    bad = missing | (~np.isfinite(rating) & ~blank & ~missing)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        lines = data.decode("latin-1").splitlines()
        line = lines[row + first - 1] if row + first - 1 < len(lines) else ""
        why = (f"missing user, item or rating column (needs columns {columns} separated by {sep!r})" if missing[row]
               else f"rating {cells[2].iloc[row]!r} is not a number")
        raise UserError(f"{key}={str(file)!r}: line {row + first}: {why}: {line[:80]!r}")
    keep = ~blank
    if not keep.any():
        raise UserError(f"{key}={str(file)!r}: no ratings in the file")
    return _ids(cells[0].to_numpy()[keep]), _ids(cells[1].to_numpy()[keep]), rating[keep]


def _ids(values: np.ndarray) -> np.ndarray:
    try:
        return values.astype(np.int64)
    except ValueError:
        return values.astype(str)


def read_titles(file: Path, sep: str) -> dict[str, str]:
    """{raw item id: title} from u.item (`|`) or movies.dat (`::`): id and title are the first two fields."""
    titles = {}
    for line in Path(file).read_text(encoding="latin-1").splitlines():
        parts = line.split(sep)
        if len(parts) >= 2:
            titles[parts[0].strip()] = parts[1].strip()
    return titles


def split_ratings(users: np.ndarray, split: dict, leave_out: int, folds: int, fold: int, seed: int):
    """Index arrays (train, val, test) into the ratings; see the module docstring for the three schemes."""
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
        k = leave_out
        n_out = 2 * k if fractions[1] > 0 else k
        order = np.lexsort((rng.random(n), users))                 # by user, random within a user
        sorted_users = users[order]
        starts = np.flatnonzero(np.r_[True, sorted_users[1:] != sorted_users[:-1]])
        counts = np.diff(np.r_[starts, n])
        rank = np.arange(n) - np.repeat(starts, counts)            # position within the user's ratings
        eligible = np.repeat(counts > n_out, counts)               # users keep at least one train rating
        test = order[eligible & (rank < k)]
        val = order[eligible & (rank >= k) & (rank < n_out)] if fractions[1] > 0 else order[:0]
        train = np.setdiff1d(np.arange(n), np.concatenate([test, val]))
        return train, np.sort(val), np.sort(test)
    return split_indices(np.zeros(n), fractions, seed, stratify=False)


def grouplens(root: str, *, name: str, folder: str, ratings_file: str, sep: str, titles_file: str, titles_sep: str,
              url: str, md5: str, split: dict, leave_out: int, folds: int, fold: int, seed: int,
              download: bool) -> RatingsData:
    """A GroupLens MovieLens release: `root/ratings_file` (user, item, rating, timestamp; downloaded from `url`
    with an MD5 check when missing and `download`), titles from `root/titles_file` when present; split and
    remapped by `ratings_data`."""
    file = locate(root, ratings_file, url, md5, folder, download)
    users, items, ratings = read_ratings(file, sep=sep, columns=[0, 1, 2], header=False, key="dataset.root")
    title_path = Path(file).with_name(titles_file)
    titles = read_titles(title_path, titles_sep) if title_path.is_file() else {}
    return ratings_data(users, items, ratings, name=name, split=split, leave_out=leave_out, folds=folds, fold=fold,
                        seed=seed, titles=titles)


def ratings_data(users: np.ndarray, items: np.ndarray, ratings: np.ndarray, *, name: str, split: dict,
                 leave_out: int = 0, folds: int = 1, fold: int = 0, seed: int = 0,
                 titles: dict | None = None, fixed_test: np.ndarray | None = None) -> RatingsData:
    """Split the ratings, remap raw ids to train indices (−1 = unseen in train), return tensors + spec.
    `fixed_test`: indices of the test ratings (a separate test file); the others are split into train/val."""
    if fixed_test is None:
        tr, va, te = split_ratings(users, split, leave_out, folds, fold, seed)
    else:
        main = np.setdiff1d(np.arange(len(users)), fixed_test)
        tr, va, _ = split_ratings(users[main], split, leave_out, folds, fold, seed)
        tr, va, te = main[tr], main[va], np.asarray(fixed_test)
    check(len(tr) > 0, "dataset.split", split, "leaves no train ratings")
    user_ids, item_ids = np.unique(users[tr]), np.unique(items[tr])

    def part(idx: np.ndarray) -> Split:
        x = np.stack([_index(user_ids, users[idx]), _index(item_ids, items[idx])], axis=1)   # (N, 2)
        return Split(torch.as_tensor(x, dtype=torch.int64), torch.as_tensor(ratings[idx], dtype=torch.float32))

    spec = DataSpec(input_shape=(2,), n_outputs=1, task="ratings", name=name, n_users=len(user_ids),
                    n_items=len(item_ids), n_train=len(tr), rating_range=[float(ratings.min()), float(ratings.max())])
    return RatingsData(part(tr), part(va), part(te), spec, user_ids=[str(u) for u in user_ids],
                       item_ids=[str(i) for i in item_ids], titles=titles or {},
                       rated=(users.astype(str), items.astype(str)))


def _index(sorted_ids: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Position of each id in `sorted_ids`, −1 where absent."""
    pos = np.searchsorted(sorted_ids, ids).clip(0, max(len(sorted_ids) - 1, 0))
    return np.where(sorted_ids[pos] == ids, pos, -1).astype(np.int64)


def fetch(url: str, md5: str, root: Path, member: str) -> None:
    """Download the archive at `url`, check its MD5, extract its folder `member` (e.g. ml-100k) as `root`."""
    import urllib.request

    root = Path(root)
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "archive.zip"
        try:
            with urllib.request.urlopen(url, timeout=60) as response, open(archive, "wb") as f:
                shutil.copyfileobj(response, f)
        except Exception as e:  # noqa: BLE001 - no network, proxy, HTTP errors end the same way
            raise UserError(f"dataset.download=true: cannot download {url} ({type(e).__name__}: {e}); "
                            f"put the files under {root} instead") from None
        digest = hashlib.md5(archive.read_bytes()).hexdigest()
        if digest != md5:
            raise UserError(f"dataset.download=true: {url} has MD5 {digest}, expected {md5}; not extracted")
        with zipfile.ZipFile(archive) as z:
            z.extractall(tmp)
        root.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(Path(tmp) / member, root, dirs_exist_ok=True)


def locate(root: str, filename: str, url: str, md5: str, member: str, download: bool) -> Path:
    """`root/filename`, downloaded first when missing and `download`, else one line saying what to put where."""
    root_path = Path(str(root)).expanduser()
    if not (root_path / filename).is_file():
        if not download:
            raise UserError(f"dataset.root={str(root_path)!r}: {filename} not found; put the {member} files there "
                            f"(from {url}), set MLRUN_DATA_DIR to a folder holding {member}/, or pass "
                            f"dataset.download=true")
        fetch(url, md5, root_path, member)
    return root_path / filename
