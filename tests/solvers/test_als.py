"""optimizer=als (mlrun.solvers.ALS): the seed's per-user formulas, J monotone and computed from the sweep,
recovery, the records, Bayesian ALS (draws, posterior average, checkpoints), errors."""

from __future__ import annotations

import csv
import itertools
import json

import numpy as np
import pytest
import torch

from mlrun.datasets import synthetic_ratings
from mlrun.errors import UserError
from mlrun.infer.saved import evaluate_checkpoint
from mlrun.models import MF
from mlrun.models.mf import objective
from mlrun.solvers import ALS
from mlrun.solvers.als import (
    PosteriorMean,
    Ratings,
    _Layout,
    _triangle,
    als_sweep,
    penalty,
    solve_side,
)
from mlrun.fit.run import train
from tests.helpers import data_dir, make_cfg


def problem(seed=0, n_users=40, n_items=30, k=3, density=0.4):
    """Random ratings (float64 tensors) and parameters (μ, b, c, P, Q)."""
    g = torch.Generator().manual_seed(seed)
    mask = torch.rand(n_users, n_items, generator=g) < density
    users, items = mask.nonzero(as_tuple=True)
    ratings = torch.randint(1, 6, (len(users),), generator=g).double()
    params = (torch.tensor(3.5, dtype=torch.float64), torch.randn(n_users, generator=g, dtype=torch.float64),
              torch.randn(n_items, generator=g, dtype=torch.float64),
              torch.randn(n_users, k, generator=g, dtype=torch.float64),
              torch.randn(n_items, k, generator=g, dtype=torch.float64))
    return users, items, ratings, params


def fit_als(data, k, reg, sweeps, update="seed", dtype="float64", **options):
    model = MF(data.spec, k=k, reg=reg)
    model = model.double() if dtype == "float64" else model
    als = ALS(model.parameters(), update=update, dtype=dtype, **options)
    trainer = make_trainer(epochs=sweeps)
    records = [r for r, _ in als.fit_direct(model, data, trainer, torch.nn.functional.mse_loss)]
    return model, records


def make_trainer(**options):
    from mlrun.config.settings import TrainerSettings as Trainer

    return Trainer(**{"patience": 0, **options})


def rmse(model, split):
    model.eval()
    with torch.no_grad():
        return float((model(split.x) - split.y.double()).pow(2).mean().sqrt())


def read_rows(run_dir):
    with open(run_dir / "metrics.csv") as f:
        return list(csv.DictReader(f))


def naive_user_update(u, users, items, ratings, params, reg, update):
    """The seed's closed forms for one user, written out in numpy from its ratings Ψ_u."""
    mu, b, c, _p, q = (t.numpy() for t in params)
    js = items.numpy()[users.numpy() == u]
    r = ratings.numpy()[users.numpy() == u]
    qs, k = q[js], q.shape[1]
    if update == "joint":                                    # [p_u, b_u] = (Σ o oᵀ + λI)⁻¹ Σ (r − μ − c_j) o_j
        o = np.hstack([qs, np.ones((len(js), 1))])
        x = np.linalg.solve(o.T @ o + reg * np.eye(k + 1), o.T @ (r - mu - c[js]))
        return x[:k], x[k]
    # p_u = (Σ q qᵀ + λI)⁻¹ Σ (r − b_u − c_j − μ) q_j;  b_u = Σ (r − p_u·q_j − c_j − μ) / (|Ψ_u| + λ)
    pu = np.linalg.solve(qs.T @ qs + reg * np.eye(k), qs.T @ (r - b[u] - c[js] - mu))
    bu = np.sum(r - qs @ pu - c[js] - mu) / (len(js) + reg)
    return pu, bu


@pytest.mark.parametrize("update", ["seed", "joint"])
def test_vectorized_user_update_equals_the_seed_formula(update):
    users, items, ratings, params = problem()
    mu, b, c, _p, q = params
    reg = 0.7
    layout = _Layout(users, items, len(b), len(c))
    factors, biases, *_ = solve_side(layout, layout.sort(ratings - mu - c[items]), q, b, reg, update)
    for u in (0, 5, 17, 39):
        pu, bu = naive_user_update(u, users, items, ratings, params, reg, update)
        np.testing.assert_allclose(factors[u].numpy(), pu, rtol=0, atol=1e-6)
        assert abs(float(biases[u]) - bu) < 1e-6


def test_item_side_is_the_same_formula_with_roles_swapped():
    users, items, ratings, (mu, b, c, p, q) = problem(seed=1)
    layout = _Layout(items, users, len(c), len(b))
    factors, biases, *_ = solve_side(layout, layout.sort(ratings - mu - b[users]), p, c, 1.3, "seed")
    swapped = (mu, c, b, q, p)                               # items play the users' part
    for i in (0, 7, 29):
        qi, ci = naive_user_update(i, items, users, ratings, swapped, 1.3, "seed")
        np.testing.assert_allclose(factors[i].numpy(), qi, atol=1e-6)
        assert abs(float(biases[i]) - ci) < 1e-6


def test_a_user_without_ratings_gets_zero_factors_and_bias():
    users, items, ratings, (mu, b, c, _p, q) = problem()
    keep = users != 3
    layout = _Layout(users[keep], items[keep], len(b), len(c))
    factors, biases, *_ = solve_side(layout, layout.sort((ratings - mu - c[items])[keep]), q, b, 0.5, "seed")
    assert torch.all(factors[3] == 0) and biases[3] == 0


@pytest.mark.parametrize("update", ["seed", "joint"])
def test_objective_decreases_monotonically_over_sweeps(update):
    users, items, ratings, params = problem(seed=2, n_users=60, n_items=50, k=4)
    train = Ratings(users, items, ratings, 60, 50)
    values = [objective(params, users, items, ratings, 2.0)]
    for _ in range(12):
        params, _ = als_sweep(params, train, 2.0, update)
        values.append(objective(params, users, items, ratings, 2.0))
    assert all(b <= a * (1 + 1e-12) for a, b in itertools.pairwise(values)), values
    assert values[-1] < 0.5 * values[0]


def test_als_recovers_a_synthetic_low_rank_matrix_to_near_the_noise_level():
    noise = 0.1
    data = synthetic_ratings(n_users=300, n_items=200, rank=3, density=0.3, noise=noise, seed=0)
    model, records = fit_als(data, k=3, reg=1.0, sweeps=15)
    assert rmse(model, data.test) < 1.25 * noise              # the truth itself scores ≈ noise
    objectives = [r["objective"] for r in records]
    assert all(b <= a * (1 + 1e-9) for a, b in itertools.pairwise(objectives))


def test_als_needs_reg_and_mf(tmp_path):
    with pytest.raises(UserError, match="model.reg=0.0: must be > 0"):
        train(make_cfg("model=mf", "optimizer=als", "dataset=synthetic_ratings", "model.reg=0.0"), tmp_path / "a")
    with pytest.raises(UserError, match="solves model=mf only"):
        train(make_cfg("model=linear", "optimizer=als", "dataset=diabetes"), tmp_path / "b")


def test_train_with_als_writes_J_per_sweep(tmp_path):
    cfg = make_cfg("model=mf", "optimizer=als", "dataset=synthetic_ratings", "trainer.epochs=4",
                   "dataset.n_users=200", "dataset.n_items=100")
    train(cfg, tmp_path)
    rows = read_rows(tmp_path)
    j = [float(r["objective"]) for r in rows]
    assert len(rows) == 4 and all(b <= a for a, b in itertools.pairwise(j))
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert {"test_rmse", "test_mae", "best_val_rmse"} <= set(summary) and summary["mode"] == "min"
    assert (tmp_path / "checkpoints" / "best.pt").is_file()


def test_both_paths_minimise_the_same_objective():
    """Adam on the penalised mini-batch objective ends near the ALS minimum of J (same data, same λ)."""
    data = synthetic_ratings(n_users=60, n_items=40, rank=2, density=0.5, noise=0.3, seed=3)
    als_model, _records = fit_als(data, k=2, reg=2.0, sweeps=40)
    x, y = data.train.x, data.train.y.double()
    j_als = als_model.objective(x[:, 0], x[:, 1], y)
    torch.manual_seed(0)
    model = MF(data.spec, k=2, reg=2.0).double().train()
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for step in range(1200):
        opt.zero_grad()
        (torch.nn.functional.mse_loss(model(x), y) + model.penalty()).backward()
        opt.step()
    j_gd = model.objective(x[:, 0], x[:, 1], y)
    assert abs(j_gd - j_als) < 0.01 * j_als


@pytest.mark.slow        # ≈ 3 s with one torch thread, 31 s with two on the shared 2-core machine (contention)
def test_movielens_100k_80_20_rmse():
    root = data_dir()
    if root is None or not (root / "ml-100k" / "u.data").is_file():
        pytest.skip("MovieLens 100k not under the data root")
    from mlrun.datasets import movielens_100k

    data = movielens_100k(root / "ml-100k", split={"train": 0.8, "val": 0.0, "test": 0.2}, seed=0)
    model, _ = fit_als(data, k=5, reg=10.0, sweeps=10, dtype="float32")
    assert rmse(model, data.test) <= 0.93                      # measured 0.914 (issue: ≤ 0.93)


@pytest.mark.parametrize("update, noise, dtype, tol", [("seed", 0.0, torch.float64, 1e-10),
                                                       ("joint", 0.0, torch.float64, 1e-10),
                                                       ("seed", 0.7, torch.float64, 1e-10),
                                                       ("seed", 0.0, torch.float32, 1e-5)])
def test_sweep_residuals_give_the_objective_of_the_written_out_formula(update, noise, dtype, tol):
    """J from the normal equations (Σt² − 2xᵀh + xᵀGx) = J from every rating's residual, up to rounding."""
    users, items, ratings, params = problem(seed=5, n_users=50, n_items=40, k=3)
    params = tuple(t.to(dtype) for t in params)
    train = Ratings(users, items, ratings.to(dtype), 50, 40)
    torch.manual_seed(0)
    for _ in range(3):
        params, sse = als_sweep(params, train, 1.5, update, noise)
        j = objective(tuple(t.double() for t in params), users, items, ratings, 1.5)
        assert sse + penalty(params, 1.5) == pytest.approx(j, rel=tol)


def test_the_triangle_gram_is_the_full_product_bit_for_bit():
    users, items, _ratings, (_mu, b, c, _p, q) = problem(seed=6, k=4)
    layout = _Layout(users, items, len(b), len(c))
    o = torch.cat([q, q.new_ones(len(q), 1)], 1)
    upper, full = _triangle(4, o.device)
    ones = layout.ones(o.dtype, 0, len(b))
    assert torch.equal((ones @ (o[:, upper[0]] * o[:, upper[1]]))[:, full],
                       ones @ (o[:, :, None] * o[:, None, :]).reshape(len(o), -1))


@pytest.mark.parametrize("update, noise", [("seed", 0.0), ("joint", 0.0)])
def test_blocks_of_rows_give_the_same_numbers_as_one_block(update, noise, monkeypatch):
    """Large problems are solved in blocks of rows (MAX_BLOCK): the same parameters bit for bit, J to rounding."""
    from mlrun.solvers import als

    users, items, ratings, params = problem(seed=7, n_users=90, n_items=70, k=3)
    train = Ratings(users, items, ratings, 90, 70)
    whole, sse = als_sweep(params, train, 1.0, update, noise)
    monkeypatch.setattr(als, "MAX_BLOCK", 7 * 16)                   # 7 rows of 4×4 systems per block
    blocked, sse_blocked = als_sweep(params, train, 1.0, update, noise)
    assert all(torch.equal(a, b) for a, b in zip(whole, blocked))
    assert sse_blocked == pytest.approx(sse, rel=1e-12)


def test_records_time_the_sweep_and_the_evaluation_and_have_no_lr():
    data = synthetic_ratings(n_users=80, n_items=60, rank=2, density=0.3, seed=2)
    model, records = fit_als(data, k=2, reg=1.0, sweeps=3)
    for r in records:
        assert "lr" not in r and r["sweep_seconds"] > 0 and r["eval_seconds"] > 0
        assert r["epoch_seconds"] >= r["sweep_seconds"] + r["eval_seconds"] - 1e-6
    # noise = 0: train_loss is the unclipped squared error of the model on train (the data term of J / N)
    model.train()
    with torch.no_grad():
        mse = float((model(data.train.x) - data.train.y.double()).pow(2).mean())
    assert records[-1]["train_loss"] == pytest.approx(mse, rel=1e-9)
    assert records[-1]["objective"] == pytest.approx(
        model.objective(data.train.x[:, 0], data.train.x[:, 1], data.train.y), rel=1e-9)


# ---- Bayesian ALS (optimizer.noise > 0)

def test_draws_follow_the_gaussian_conditional_of_the_joint_update():
    """[p_u, b_u] ~ N(x̂_u, σ²(G_u + λI)⁻¹) with x̂_u the joint ALS update (numpy, per user)."""
    users, items, ratings, (mu, b, c, _p, q) = problem(seed=3, k=2)
    reg, sigma, n = 0.8, 0.5, 4000
    layout = _Layout(users, items, len(b), len(c))
    target = layout.sort(ratings - mu - c[items])
    torch.manual_seed(0)
    draws = torch.stack([torch.cat([f, bb[:, None]], 1) for f, bb, *_ in
                         (solve_side(layout, target, q, b, reg, "seed", sigma) for _ in range(n))])   # (n, U, K+1)
    _, _, mean_f, mean_b, _ = solve_side(layout, target, q, b, reg, "seed", sigma)
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
