"""Ranking metrics (mlrun.metrics.ranking) against a direct per-user Python computation and against the
`implicit` library's own `ranking_metrics_at_k` on the same scores."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mlrun.errors import UserError
from mlrun.metrics.ranking import ByUser, popularity, random_scores, ranking
from mlrun.metrics.tasks import HIGHER_IS_BETTER


def interactions(seed: int, n_users: int = 40, n_items: int = 30):
    """Disjoint random train and held-out (user, item) pairs; a few users have nothing held out."""
    rng = np.random.default_rng(seed)
    cells = rng.random((n_users, n_items))
    train, held = cells < 0.25, (cells >= 0.25) & (cells < 0.4)
    held[:3] = False                                   # users without a held-out item: left out
    tu, ti = np.nonzero(train)
    hu, hi = np.nonzero(held)
    return (torch.from_numpy(tu), torch.from_numpy(ti)), (torch.from_numpy(hu), torch.from_numpy(hi))


def direct(score: np.ndarray, train, held, k: int) -> dict:
    """Each metric for each user by plain Python, averaged over users with a held-out item."""
    rows = {m: [] for m in ("precision", "recall", "ndcg", "map", "hit_rate")}
    shown = set()
    for u in range(score.shape[0]):
        seen = {int(i) for uu, i in zip(*train) if uu == u}
        truth = {int(i) for uu, i in zip(*held) if uu == u}
        if not truth:
            continue
        ranked = [i for i in np.argsort(-score[u], kind="stable") if i not in seen][:k]
        shown.update(ranked)
        hits = [1.0 if i in truth else 0.0 for i in ranked]
        rows["precision"].append(sum(hits) / k)
        rows["recall"].append(sum(hits) / len(truth))
        rows["hit_rate"].append(float(sum(hits) > 0))
        idcg = sum(1 / math.log2(r + 2) for r in range(min(k, len(truth))))
        rows["ndcg"].append(sum(h / math.log2(r + 2) for r, h in enumerate(hits)) / idcg)
        ap = sum(h * sum(hits[:r + 1]) / (r + 1) for r, h in enumerate(hits))
        rows["map"].append(ap / min(k, len(truth)))
    out = {f"{m}@{k}": float(np.mean(v)) for m, v in rows.items()}
    return out | {f"coverage@{k}": len(shown) / score.shape[1], "users": len(rows["ndcg"])}


@pytest.mark.parametrize("k", [1, 5, 10])
def test_matches_direct_per_user_computation(k):
    train, held = interactions(0)
    score = np.random.default_rng(1).random((40, 30))
    got = ranking(lambda users: torch.from_numpy(score)[users], ByUser(*train, 40), ByUser(*held, 40), 30, [k])
    want = direct(score, train, held, k)
    assert got.keys() == want.keys()
    for key in want:
        assert got[key] == pytest.approx(want[key], abs=1e-12), key
    assert got["users"] == 37


def test_matches_implicit_ranking_metrics_at_k():
    implicit = pytest.importorskip("implicit")
    from implicit.cpu.als import AlternatingLeastSquares
    from implicit.evaluation import ranking_metrics_at_k
    from scipy.sparse import csr_matrix

    n_users, n_items, k = 40, 30, 10
    train, held = interactions(2, n_users, n_items)
    rng = np.random.default_rng(3)
    user_f, item_f = rng.normal(size=(n_users, 8)).astype(np.float32), rng.normal(size=(n_items, 8)).astype(np.float32)
    model = AlternatingLeastSquares(factors=8, random_state=0)
    model.user_factors, model.item_factors = user_f, item_f
    train_m = csr_matrix((np.ones(len(train[0])), (train[0].numpy(), train[1].numpy())), shape=(n_users, n_items))
    held_m = csr_matrix((np.ones(len(held[0])), (held[0].numpy(), held[1].numpy())), shape=(n_users, n_items))
    theirs = ranking_metrics_at_k(model, train_m, held_m, K=k, show_progress=False)
    scores = torch.from_numpy(user_f) @ torch.from_numpy(item_f).T
    by_train, by_held = ByUser(*train, n_users), ByUser(*held, n_users)
    ours = ranking(lambda users: scores[users], by_train, by_held, n_items, [k])
    assert ours[f"ndcg@{k}"] == pytest.approx(theirs["ndcg"], abs=1e-6)
    assert ours[f"map@{k}"] == pytest.approx(theirs["map"], abs=1e-6)
    # implicit's precision: Σ hits / Σ min(k, n_u) (documented in mlrun/metrics/ranking.py), from our hits
    n_u = by_held.count[by_held.count > 0].double()
    micro = ours[f"precision@{k}"] * k * len(n_u) / float(n_u.clamp(max=k).sum())      # Σ hits / Σ min(k, n_u)
    assert micro == pytest.approx(theirs["precision"], abs=1e-6) and implicit.__version__


def test_baselines_and_errors():
    train, held = interactions(4)
    by_train, by_held = ByUser(*train, 40), ByUser(*held, 40)
    counts = np.bincount(train[1].numpy(), minlength=30).astype(float)
    assert popularity(by_train, 30)(torch.arange(2)).numpy() == pytest.approx(np.tile(counts, (2, 1)))
    pop = ranking(popularity(by_train, 30), by_train, by_held, 30, [5])
    assert pop["users"] == 37 and 0 < pop["coverage@5"] < 1
    rand = ranking(random_scores(30, seed=0), by_train, by_held, 30, [5, 10])
    assert 0 <= rand["ndcg@5"] <= 1 and "ndcg@10" in rand
    with pytest.raises(UserError, match=r"k=31 is larger than the catalogue \(30 items"):
        ranking(popularity(by_train, 30), by_train, by_held, 30, [31])
    with pytest.raises(UserError, match="dataset.ranking.k"):
        ranking(popularity(by_train, 30), by_train, by_held, 30, [0])
    assert HIGHER_IS_BETTER["ndcg@10"] is True and HIGHER_IS_BETTER.get("rmse") is False
    assert HIGHER_IS_BETTER.get("nonsense@x") is None
