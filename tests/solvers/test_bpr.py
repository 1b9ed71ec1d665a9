"""optimizer=bpr (mlrun.solvers.BPR): on two planted communities (each group of users interacts only with its
group of items) BPR ranks the user's own group first; the pair loss falls; one-line errors."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from mlrun.errors import UserError
from mlrun.fit.run import train
from tests.helpers import make_cfg


def communities(path, seed=0):
    """40 users × 20 items: users 0–19 rate items 0–9, users 20–39 items 10–19 (each pair with p = 0.6)."""
    rng = np.random.default_rng(seed)
    rows = [(u, i, 5) for u in range(40) for i in range(20) if (u < 20) == (i < 10) and rng.random() < 0.6]
    path.write_text("userId,movieId,rating\n" + "".join(f"{u},{i},{r}\n" for u, i, r in rows))
    return rows


def test_bpr_finds_the_planted_communities(tmp_path):
    file = tmp_path / "r.csv"
    communities(file)
    cfg = make_cfg("model=mf", "optimizer=bpr", "dataset=ratings_csv", f"dataset.path={file}", "model.implicit=true",
                   "model.k=4", "model.reg=0.001", "dataset.metric=ndcg@5", "dataset.ranking.k=[5]",
                   "trainer.epochs=40", "trainer.patience=0", "optimizer.batch_size=64", "optimizer.lr=0.05",
                   "dataset.split={train: 0.8, val: 0.1, test: 0.1}")
    train(cfg, tmp_path / "run")
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["test_ndcg@5"] > summary["test_popularity_ndcg@5"] + 0.2
    state = torch.load(tmp_path / "run" / "checkpoints" / "best.pt", weights_only=False)["model"]
    scores = (state["user_factors"] @ state["item_factors"].T).numpy()       # (users, items), raw ids 0..39, 0..19
    own = np.array([[(u < 20) == (i < 10) for i in range(20)] for u in range(40)])
    mean_own, mean_other = (scores * own).sum(1) / 10, (scores * ~own).sum(1) / 10
    assert (mean_own > mean_other + 1).all()              # every user prefers its own group (train indices = ids)
    with open(tmp_path / "run" / "metrics.csv") as f:
        losses = [float(r["train_loss"]) for r in csv.DictReader(f)]
    assert losses[0] == pytest.approx(np.log(2), abs=0.02)          # tiny initial factors: σ(0) for every pair
    assert losses[-1] < 0.5 * losses[0]


def test_bpr_needs_an_implicit_mf(tmp_path):
    cfg = make_cfg("model=mf", "optimizer=bpr", "dataset=synthetic_ratings", "dataset.n_users=50",
                   "dataset.n_items=30")
    with pytest.raises(UserError, match="optimizer='bpr': trains model=mf with model.implicit=true only"):
        train(cfg, tmp_path)
