"""Write a MovieLens-shaped ratings CSV of N rows (userId,movieId,rating,timestamp) for the scale benchmark.

    python experiments/scale/make_ratings.py /tmp/r10m.csv 10000000

Users N/150 and items N/500 (MovieLens 25M: 162k users, 59k items for 25M ratings), both drawn with Zipf-like
popularity (weight ∝ 1/rank^0.8), no duplicate (user, item) pair; ratings 0.5..5 in half stars from a rank-8
truth 3.5 + b_u + c_i + p_u·q_i plus N(0, 0.8²) noise, so that RMSE numbers mean something.
"""

from __future__ import annotations

import sys

import numpy as np


def ratings(n_rows: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    n_users, n_items, rank = max(n_rows // 150, 10), max(n_rows // 500, 10), 8

    def popular(n: int, size: int) -> np.ndarray:           # ids 1..n, P(rank r) ∝ r^-0.8, shuffled labels
        w = np.arange(1, n + 1, dtype=np.float64) ** -0.8
        labels = rng.permutation(n) + 1
        return labels[np.searchsorted(np.cumsum(w / w.sum()), rng.random(size), side="right").clip(0, n - 1)]

    pairs = np.empty(0, dtype=np.int64)
    while len(pairs) < n_rows:                              # top up until N distinct (user, item) pairs
        need = int((n_rows - len(pairs)) * 1.1) + 1000
        new = popular(n_users, need).astype(np.int64) * (n_items + 1) + popular(n_items, need)
        pairs = np.unique(np.concatenate([pairs, new]))
    pairs = rng.permutation(pairs)[:n_rows]
    users, items = pairs // (n_items + 1), pairs % (n_items + 1)
    b, c = rng.normal(0, 0.3, n_users + 1), rng.normal(0, 0.5, n_items + 1)
    p, q = rng.normal(0, rank ** -0.25, (n_users + 1, rank)), rng.normal(0, rank ** -0.25, (n_items + 1, rank))
    truth = 3.5 + b[users] + c[items]
    for start in range(0, n_rows, 1 << 22):                 # p·q in chunks: no N × rank temporary
        s = slice(start, start + (1 << 22))
        truth[s] += np.einsum("ij,ij->i", p[users[s]], q[items[s]])
    stars = np.clip(np.round(2 * (truth + rng.normal(0, 0.8, n_rows))) / 2, 0.5, 5.0)
    stamps = 789652009 + rng.integers(0, 10 ** 9, n_rows)
    return {"userId": users, "movieId": items, "rating": stars, "timestamp": stamps}


def write_csv(path: str, n_rows: int, seed: int = 0) -> None:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    table = pa.table(ratings(n_rows, seed))
    with open(path, "wb") as f:                             # a plain header line, then the rows unquoted
        f.write(",".join(table.column_names).encode() + b"\n")
        pacsv.write_csv(table, f, pacsv.WriteOptions(include_header=False, quoting_style="none"))


if __name__ == "__main__":
    write_csv(sys.argv[1], int(sys.argv[2]))
