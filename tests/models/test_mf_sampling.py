"""optimizer=als with optimizer.noise=σ > 0 (Bayesian ALS): the draws, the posterior average, checkpoints, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from mlrun.datasets import synthetic_ratings
from mlrun.errors import UserError
from mlrun.saved import evaluate_checkpoint
from mlrun.models import MF
from mlrun.models.mf import PosteriorMean, _Layout, solve_side
from mlrun.run import train
from tests.conftest import data_dir, make_cfg
from tests.models.test_mf import fit_als, problem, rmse


def test_draws_follow_the_gaussian_conditional_of_the_joint_update():
    """[p_u, b_u] ~ N(x̂_u, σ²(G_u + λI)⁻¹) with x̂_u the joint ALS update (numpy, per user)."""
    users, items, ratings, (mu, b, c, p, q) = problem(seed=3, k=2)
    reg, sigma, n = 0.8, 0.5, 4000
    layout = _Layout(users, items, len(b), len(c))
    target = layout.sort(ratings - mu - c[items])
    torch.manual_seed(0)
    draws = torch.stack([torch.cat([f, bb[:, None]], 1) for f, bb, *_ in
                         (solve_side(layout, target, q, b, reg, "seed", sigma) for _ in range(n))])   # (n, U, K+1)
    *_, mean_f, mean_b = solve_side(layout, target, q, b, reg, "seed", sigma)
    for u in (0, 11, 30):
        js = items[users == u].numpy()
        o = np.hstack([q.numpy()[js], np.ones((len(js), 1))])
        precision = o.T @ o + reg * np.eye(3)
        x_hat = np.linalg.solve(precision, o.T @ (ratings[users == u] - mu - c[items[users == u]]).numpy())
        np.testing.assert_allclose(torch.cat([mean_f[u], mean_b[u:u + 1]]).numpy(), x_hat, atol=1e-6)
        cov = sigma ** 2 * np.linalg.inv(precision)
        x = draws[:, u].numpy()
        se = np.sqrt(np.diag(cov) / n)
        assert np.all(np.abs(x.mean(0) - x_hat) < 5 * se)                           # mean within 5 standard errors
        np.testing.assert_allclose(np.cov(x.T), cov, rtol=0.12, atol=0.12 * np.abs(cov).max())


def test_posterior_mean_predicts_the_average_of_the_predictors():
    spec = synthetic_ratings(n_users=30, n_items=20, rank=2, seed=0).spec
    x = torch.tensor([[u, i] for u in range(-1, spec.n_users, 3) for i in range(-1, spec.n_items, 2)])   # −1: cold
    average, predictions = PosteriorMean(), []
    for s in range(5):
        torch.manual_seed(s)
        model = MF(spec, k=3, clip=False).double()
        with torch.no_grad():
            for t in (model.mu, model.user_bias, model.item_bias):
                t.add_(torch.randn_like(t))
        average.add(*model.params(torch.float64))
        predictions.append(model(x).detach())
    mean_model = MF(spec, k=3, clip=False).double()
    mean_model.set_params(*average.params())
    assert mean_model.user_factors.shape == (spec.n_users, 15)                    # S·K stacked factors
    np.testing.assert_allclose(mean_model(x).detach().numpy(), torch.stack(predictions).mean(0).numpy(), atol=1e-9)


def test_sampling_beats_the_point_estimate_on_held_out_ratings():
    """Noisy low-rank truth, 40 % observed: the posterior average predicts held-out ratings better than the
    minimiser of the same J (averaging over the draws shrinks the overfit factor terms)."""
    data = synthetic_ratings(n_users=300, n_items=200, rank=4, noise=0.8, density=0.08, seed=1,
                             split={"train": 0.8, "val": 0.0, "test": 0.2})
    torch.manual_seed(0)
    point, _ = fit_als(data, k=4, reg=2.0, sweeps=30)
    torch.manual_seed(0)
    sampled, records = fit_als(data, k=4, reg=2.0, sweeps=30, noise=0.8, burn_in=5)
    assert [r["samples"] for r in records] == [0] * 5 + list(range(1, 26))
    assert rmse(sampled, data.test) < rmse(point, data.test) - 0.01


def test_a_sampled_run_checkpoints_and_evaluates_with_its_width(tmp_path):
    cfg = make_cfg("model=mf", "optimizer=als", "dataset=synthetic_ratings", "trainer.epochs=6", "model.k=3",
                   "optimizer.noise=0.7", "optimizer.burn_in=2", "dataset.n_users=120", "dataset.n_items=80")
    train(cfg, tmp_path)
    summary = json.loads((tmp_path / "summary.json").read_text())
    state = torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=True)["model"]
    assert state["user_factors"].shape == (120, 3 * 2 * 4)       # K=3, 2 predictors per sampled sweep, 4 sweeps
    assert evaluate_checkpoint(str(tmp_path / "checkpoints" / "best.pt"))["test_rmse"] == summary["test_rmse"]


def test_noise_options_are_one_line_errors(tmp_path):
    spec = synthetic_ratings(n_users=10, n_items=10, seed=0).spec
    from mlrun.models import ALS

    with pytest.raises(UserError, match=r"optimizer.noise=-1.0: must be a number ≥ 0"):
        ALS(MF(spec).parameters(), noise=-1.0)
    with pytest.raises(UserError, match=r"optimizer.burn_in=1.5: must be an integer"):
        ALS(MF(spec).parameters(), burn_in=1.5)
    cfg = make_cfg("model=mf", "optimizer=als", "dataset=synthetic_ratings", "trainer.epochs=3",
                   "optimizer.noise=1.0", "optimizer.burn_in=3")
    with pytest.raises(UserError, match=r"optimizer.burn_in=3: must be < trainer.epochs=3"):
        train(cfg, tmp_path)


@pytest.mark.slow        # ≈ 3 s
def test_movielens_100k_80_20_sampling_reaches_the_target():
    root = data_dir()
    if root is None or not (root / "ml-100k" / "u.data").is_file():
        pytest.skip("MovieLens 100k not under the data root")
    from mlrun.datasets import movielens_100k

    data = movielens_100k(root / "ml-100k", split={"train": 0.8, "val": 0.0, "test": 0.2}, seed=0)
    torch.manual_seed(0)
    model, _ = fit_als(data, k=5, reg=3.0, sweeps=45, dtype="float32", noise=1.0, burn_in=5)
    assert rmse(model, data.test) <= 0.905                   # plain ALS on this split: 0.914
