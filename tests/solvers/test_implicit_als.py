"""Implicit-feedback ALS (mlrun.solvers.implicit_als, model.implicit=true): CG against the normal equations formed
densely, the objective against a dense computation, one sweep against the `implicit` library's own CG sweep,
a run end to end with ranking metrics, and the one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from mlrun.errors import UserError
from mlrun.fit.run import train
from mlrun.infer.saved import evaluate_checkpoint
from mlrun.solvers import implicit_als
from mlrun.solvers.als import _Layout
from tests.helpers import make_cfg


def problem(seed=0, n_users=25, n_items=20, k=4, density=0.3, alpha=2.0):
    g = torch.Generator().manual_seed(seed)
    mask = torch.rand(n_users, n_items, generator=g) < density
    users, items = mask.nonzero(as_tuple=True)
    counts = torch.randint(1, 6, (len(users),), generator=g).float()
    layouts = _Layout(users, items, n_users, n_items), _Layout(items, users, n_items, n_users)
    data = implicit_als.Interactions(layouts, counts, alpha)
    x, y = 0.1 * torch.randn(n_users, k, generator=g), 0.1 * torch.randn(n_items, k, generator=g)
    dense = torch.zeros(n_users, n_items)
    dense[users, items] = counts
    return data, x, y, dense


def exact_users(dense, y, reg, alpha):
    """Each user's minimiser of J with Y fixed, from A_u = Yᵀ C_u Y + λI formed densely (float64)."""
    y = y.double()
    out = []
    for r in dense.double():
        c, p = 1 + alpha * r, (r > 0).double()
        a = y.T @ (c[:, None] * y) + reg * torch.eye(y.shape[1], dtype=torch.float64)
        out.append(torch.linalg.solve(a, y.T @ (c * p)))
    return torch.stack(out)


def test_cg_converges_to_the_normal_equations():
    data, x, y, dense = problem()
    got = implicit_als.solve_side(data.by_user, data.user_weight, x, y, 0.1, steps=4)   # K = 4: exact in 4 steps
    assert got.double().numpy() == pytest.approx(exact_users(dense, y, 0.1, 2.0).numpy(), abs=1e-4)


def test_objective_matches_a_dense_sum():
    data, x, y, dense = problem(1)
    loss, pen = implicit_als.objective(data, x, y, 0.3)
    c, p, s = 1 + 2.0 * dense.double(), (dense > 0).double(), x.double() @ y.double().T
    assert loss == pytest.approx(float((c * (p - s) ** 2).sum()), rel=1e-5)
    assert pen == pytest.approx(0.3 * float(x.double().pow(2).sum() + y.double().pow(2).sum()), rel=1e-6)


def test_sweeps_lower_the_objective():
    data, x, y, _ = problem(2)
    before = sum(implicit_als.objective(data, x, y, 0.1))
    for _ in range(3):
        x, y = implicit_als.sweep(data, x, y, 0.1, 3)
        after = sum(implicit_als.objective(data, x, y, 0.1))
        assert after < before
        before = after


def test_one_sweep_matches_the_implicit_library():
    pytest.importorskip("implicit")
    from implicit.cpu.als import AlternatingLeastSquares
    from scipy.sparse import csr_matrix

    data, x, y, dense = problem(3, n_users=60, n_items=40, k=8)
    cui = csr_matrix(np.where(dense.numpy() > 0, 1 + 2.0 * dense.numpy(), 0).astype(np.float32))  # c = 1 + α r
    peer = AlternatingLeastSquares(factors=8, regularization=0.1, alpha=1.0, iterations=1, use_cg=True,
                                   calculate_training_loss=False, random_state=0, num_threads=1)
    peer.user_factors, peer.item_factors = x.numpy().copy(), y.numpy().copy()
    peer.fit(cui, show_progress=False)
    ours = implicit_als.sweep(data, x, y, 0.1, 3)
    assert ours[0].numpy() == pytest.approx(peer.user_factors, abs=2e-4)
    assert ours[1].numpy() == pytest.approx(peer.item_factors, abs=2e-4)


def test_run_end_to_end_with_ranking(tmp_path):
    cfg = make_cfg("model=mf", "optimizer=als", "dataset=synthetic_ratings", "dataset.n_users=120",
                   "dataset.n_items=60", "model.implicit=true", "model.threshold=4", "model.k=4", "model.reg=0.1",
                   "dataset.metric=ndcg@5", "dataset.ranking.k=[5,10]", "trainer.epochs=3")
    train(cfg, tmp_path)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["monitor"] == "val_ndcg@5" and summary["mode"] == "max"
    assert summary["test_ndcg@10"] > summary["test_random_ndcg@10"]
    assert 0 < summary["test_coverage@5"] <= 1 and summary["test_users"] > 0
    header = (tmp_path / "metrics.csv").read_text().splitlines()[0]
    assert "val_ndcg@5" in header and "val_map@10" in header and "objective" in header
    scores = evaluate_checkpoint(str(tmp_path / "checkpoints" / "best.pt"), "test")      # `mlrun eval`
    for key in ("test_ndcg@10", "test_precision@5", "test_popularity_map@10", "test_users"):
        assert scores[key] == pytest.approx(summary[key], abs=1e-12), key


@pytest.mark.parametrize("overrides, message", [
    (["model.implicit=true"], "dataset.metric='rmse': model.implicit=true scores preferences"),
    (["dataset.metric=ndcg@20"], "dataset.metric='ndcg@20': valid choices"),
    (["dataset.ranking.k=[1000]", "dataset.metric=ndcg@1000"], "k=1000 is larger than the catalogue"),
    (["optimizer=adam", "dataset.metric=ndcg@10"], "measured every sweep by optimizer=als only"),
    (["optimizer=adam", "dataset.ranking.per_epoch=true"], "per-sweep ranking needs optimizer=als"),
    (["model.threshold=4"], "model.threshold=4: applies to model.implicit=true only"),
    (["model.alpha=7"], "model.alpha=7: applies to model.implicit=true only"),
    (["model.implicit=true", "dataset.metric=ndcg@10", "dataset.ranking.threshold=100"],   # was "training diverged"
     "dataset.metric=ndcg@10: no val rating of a known user and item reaches dataset.ranking.threshold=100"),
])
def test_one_line_errors(tmp_path, overrides, message):
    cfg = make_cfg("model=mf", "optimizer=als", "dataset=synthetic_ratings", "dataset.n_users=50",
                   "dataset.n_items=30", *overrides)
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace("[", r"\[")):
        train(cfg, tmp_path)


def test_negative_counts_refused():
    with pytest.raises(UserError, match="train value -1 is negative"):
        implicit_als.interactions(torch.tensor([0, 1]), torch.tensor([0, 1]), torch.tensor([2.0, -1.0]), None)
    users, _, values = implicit_als.interactions(torch.tensor([0, 1]), torch.tensor([0, 1]),
                                                 torch.tensor([5.0, 3.0]), 4.0)
    assert users.tolist() == [0] and values.tolist() == [5.0]
