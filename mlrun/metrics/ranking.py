"""Top-k ranking metrics of a recommender: per user, every item not in the user's train set is scored, the k best
are compared with the user's relevant held-out items.

    top = ranking(scores, train, held, n_users, n_items, ks=[10])    # {"precision@10": ..., "ndcg@10": ..., ...}

`scores(users)` gives the (B, n_items) scores of a block of user indices (an MF's μ + b_u + c + P_u Qᵀ, item
popularity, random numbers). Users are scored in blocks of BLOCK_CELLS user × item cells: one matrix product,
the user's train items set to −∞, one `torch.topk` per block — no Python loop over users.

Per user u with relevant held-out items T_u (|T_u| = n_u ≥ 1), the top-k list L (rank 1..k) and the hits
h_r = [L_r ∈ T_u]:

    precision@k = Σ h / k                 recall@k = Σ h / n_u              hit_rate@k = [Σ h > 0]
    NDCG@k      = Σ_r h_r / log2(r + 1)  /  Σ_{r ≤ min(k, n_u)} 1 / log2(r + 1)
    MAP@k       = Σ_r h_r · (Σ_{s ≤ r} h_s) / r  /  min(k, n_u)
    coverage@k  = distinct items in any evaluated user's top k / n_items   (catalogue coverage)

each averaged over the users with n_u ≥ 1 (the others are counted in `users_without_relevant` and left out).
NDCG@k and MAP@k are the definitions of the `implicit` library's `ranking_metrics_at_k` (tests/metrics/
test_ranking.py checks them to 1e-6 on the same scores). Its "precision" differs: Σ_u hits / Σ_u min(k, n_u)
over all users at once (a micro average with a truncated denominator); ours is the usual per-user hits / k,
averaged. Held-out items that are not in the train catalogue (index −1) cannot be ranked and are left out of T_u;
so are held-out rows of users without train rows.
"""

from __future__ import annotations

import logging
from typing import Callable

import numpy as np
import torch

from mlrun.errors import UserError, check
from mlrun.metrics.tasks import RANKING

log = logging.getLogger("mlrun")

BLOCK_CELLS = 1 << 24          # user × item scores per block (64 MiB of float32)
Scores = Callable[[torch.Tensor], torch.Tensor]     # user indices (B,) → scores (B, n_items)


class ByUser:
    """(user, item) index pairs grouped by user, CSR-style: the items of user u are col[crow[u]:crow[u+1]]."""

    def __init__(self, users: torch.Tensor, items: torch.Tensor, n_users: int):
        users, items = users.long().cpu(), items.long().cpu()
        order = torch.from_numpy(np.argsort(users.numpy(), kind="stable"))   # (numpy's: ~50× torch's on CPU)
        self.col = items[order].to(torch.int32 if len(order) and int(items.max()) < 2 ** 31 else torch.int64)
        del order
        self.count = torch.bincount(users, minlength=n_users)
        self.crow = torch.cat([self.count.new_zeros(1), self.count.cumsum(0)])

    def rows(self, users: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(position of the user in `users`, item) for every item of the given users."""
        counts = self.count[users]
        row = torch.repeat_interleave(torch.arange(len(users)), counts)
        starts = torch.repeat_interleave(self.crow[users] - torch.cumsum(counts, 0) + counts, counts)
        return row, self.col[starts + torch.arange(len(row))]


def per_user(scores: Scores, train: ByUser, held: ByUser, n_items: int, k: int) -> tuple[torch.Tensor, ...]:
    """(users, hits, n_relevant, top): the evaluated users (≥ 1 relevant held-out item), hits (E, k) float64
    (1 where the item at that rank is relevant), their relevant counts (E,), and their top-k items (E, k) best
    first among the items outside each user's train set. One block of users at a time (≤ BLOCK_CELLS scores)."""
    users = torch.nonzero(held.count > 0)[:, 0]
    block = max(1, BLOCK_CELLS // max(n_items, 1))
    tops, hits = [], []
    for start in range(0, len(users), block):                  # blocks of users, not users
        chunk = users[start:start + block]
        s = scores(chunk).float().cpu().clone()                  # (B, n_items)
        row, col = train.rows(chunk)
        s[row, col] = -torch.inf
        top = torch.topk(s, k, dim=1).indices                    # (B, k)
        relevant = torch.zeros_like(s, dtype=torch.bool)         # (B, n_items)
        relevant[held.rows(chunk)] = True
        tops.append(top)
        hits.append(relevant.gather(1, top).double())
    if not tops:
        return users, torch.empty(0, k, dtype=torch.float64), torch.empty(0, dtype=torch.float64), \
            torch.empty(0, k, dtype=torch.long)
    return users, torch.cat(hits), held.count[users].double(), torch.cat(tops)


def summarize(hits: torch.Tensor, n_relevant: torch.Tensor, top: torch.Tensor, k: int, n_items: int) -> dict:
    """The metrics at cut-off k (≤ hits.shape[1]) from the per-user hits: means over the users."""
    h = hits[:, :k]
    if len(h) == 0:
        return {f"{name}@{k}": float("nan") for name in RANKING}
    ranks = torch.arange(1, k + 1, dtype=torch.float64)
    discount = 1.0 / torch.log2(ranks + 1)
    found = h.sum(1)
    ideal = torch.cumsum(discount, 0)[(n_relevant.clamp(max=k) - 1).long()]
    precision_at = torch.cumsum(h, 1) / ranks                          # precision at each rank
    return {f"precision@{k}": float((found / k).mean()),
            f"recall@{k}": float((found / n_relevant).mean()),
            f"ndcg@{k}": float(((h * discount).sum(1) / ideal).mean()),
            f"map@{k}": float(((h * precision_at).sum(1) / n_relevant.clamp(max=k)).mean()),
            f"hit_rate@{k}": float((found > 0).double().mean()),
            f"coverage@{k}": len(torch.unique(top[:, :k])) / n_items}


def check_ks(ks, n_items: int, key: str = "dataset.ranking.k") -> list[int]:
    """The cut-offs as a sorted list of distinct integers in [1, n_items]."""
    values = list(ks) if isinstance(ks, (list, tuple)) or hasattr(ks, "__iter__") and not isinstance(ks, str) \
        else [ks]
    check(len(values) > 0 and all(isinstance(k, int) and not isinstance(k, bool) and k >= 1 for k in values), key,
          ks, "must be a list of integers ≥ 1, e.g. [10] or [5, 10, 20]")
    if max(values) > n_items:
        raise UserError(f"{key}={values}: k={max(values)} is larger than the catalogue ({n_items} items with a "
                        f"train interaction)")
    return sorted(set(values))


def ranking(scores: Scores, train: ByUser, held: ByUser, n_items: int, ks) -> dict:
    """{name@k: value for every name and k} plus users (evaluated) and users_without_relevant (held-out users
    with rows but no relevant item, left out), over the users that have held-out rows."""
    ks = check_ks(ks, n_items)
    users, hits, n_relevant, top = per_user(scores, train, held, n_items, max(ks))
    out = {}
    for k in ks:
        out |= summarize(hits, n_relevant, top, k, n_items)
    return out | {"users": len(users)}


def popularity(train: ByUser, n_items: int) -> Scores:
    """Scores of the popularity baseline: each item's number of train users, the same for every user."""
    counts = torch.bincount(train.col, minlength=n_items).double()
    return lambda users: counts.expand(len(users), n_items)


def random_scores(n_items: int, seed: int = 0) -> Scores:
    """Scores of the random baseline: uniform draws, seeded."""
    generator = torch.Generator().manual_seed(seed)
    return lambda users: torch.rand(len(users), n_items, generator=generator)


def split_ranking(scores: Scores, data, split: str, baselines: bool = False, say: bool = True) -> dict:
    """The metrics of `scores` on one split of a ratings dataset (mlrun.datasets.ratings.data.RatingsData and its
    `ranking` settings): train = every train row (excluded from the lists), relevant = the split's rows with a
    value ≥ ranking.threshold. Adds users_without_relevant (users with rows in the split but none relevant: left
    out, said in the log) and, with `baselines`, popularity_<metric> and random_<metric> (seed 0). `say`: log
    the users left out."""
    settings, n_users, n_items = data.ranking, data.spec.n_users, data.spec.n_items
    tx = data.train.x.cpu()                        # train indices are all ≥ 0 (the id maps come from train)
    part = getattr(data, split)
    x, y = part.x.cpu(), part.y.cpu()
    known = (x >= 0).all(1)                        # cold users / items outside the catalogue cannot be ranked
    relevant = known & (y >= settings["threshold"])
    train = ByUser(tx[:, 0], tx[:, 1], n_users)
    held = ByUser(x[relevant, 0], x[relevant, 1], n_users)
    ks = [k for k in settings["k"] if k <= n_items]
    if len(ks) < len(settings["k"]):
        log.info("ranking (%s): k=%s left out: larger than the catalogue (%d items)", split,
                 [k for k in settings["k"] if k > n_items], n_items)
    if not ks:
        return {}
    out = ranking(scores, train, held, n_items, ks)
    out["users_without_relevant"] = len(torch.unique(x[known, 0])) - out["users"]
    if out["users_without_relevant"] and say:
        log.info("ranking (%s): %d of %d users have no %s item with a value ≥ %g: left out of the averages", split,
                 out["users_without_relevant"], out["users_without_relevant"] + out["users"], split,
                 settings["threshold"])
    if baselines:
        for name, base in (("popularity", popularity(train, n_items)), ("random", random_scores(n_items))):
            out |= {f"{name}_{key}": value for key, value in ranking(base, train, held, n_items, ks).items()
                    if key != "users"}
    return out
