"""model=mf: J and the gradient path's penalty, cold start, clipping, the task check, checkpoint widths.
The ALS solver's tests are in tests/solvers/test_als.py."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from mlrun.datasets import synthetic_ratings
from mlrun.errors import UserError
from mlrun.models import MF
from mlrun.models.mf import objective
from mlrun.fit.run import train
from tests.helpers import make_cfg


def test_objective_is_the_written_out_sum():
    data = synthetic_ratings(n_users=30, n_items=20, rank=2, density=0.5, seed=4)
    torch.manual_seed(0)
    model = MF(data.spec, k=3, reg=1.5).double()
    mu, b, c, p, q = (t.detach().numpy() for t in model.params(torch.float64))
    x, y = data.train.x.numpy(), data.train.y.double().numpy()
    sse = sum((r - mu - b[u] - c[i] - p[u] @ q[i]) ** 2 for (u, i), r in zip(x, y))
    j = sse + 1.5 * sum(np.sum(t ** 2) for t in (p, q, b, c))
    assert model.objective(data.train.x[:, 0], data.train.x[:, 1], data.train.y) == pytest.approx(j, rel=1e-12)
    assert objective(model.params(torch.float64), data.train.x[:, 0], data.train.x[:, 1],
                     data.train.y.double(), 1.5) == pytest.approx(j, rel=1e-12)


def test_penalty_scaling_makes_the_gradient_objective_J_over_N():
    data = synthetic_ratings(n_users=50, n_items=40, rank=2, density=0.5, noise=0.3, seed=1)
    model = MF(data.spec, k=2, reg=3.0).double()
    x, y = data.train.x, data.train.y.double()
    model.train()
    batch_objective = torch.nn.functional.mse_loss(model(x), y) + model.penalty()    # the full-batch step
    j = model.objective(x[:, 0], x[:, 1], y)
    assert abs(float(batch_objective.detach()) * data.spec.n_train - j) < 1e-8 * j


def test_cold_start_falls_back_to_biases_and_the_global_mean():
    data = synthetic_ratings(n_users=20, n_items=10, rank=2, density=0.5, seed=0)
    model = MF(data.spec, k=2, clip=False).eval()
    with torch.no_grad():
        model.user_bias.fill_(0.25)
        model.item_bias[3] = -0.5
        out = model(torch.tensor([[-1, 3], [2, -1], [-1, -1]]))
    mu = float(model.mu.detach())
    assert out.tolist() == pytest.approx([mu - 0.5, mu + 0.25, mu])


def test_predictions_are_clipped_to_the_rating_range_in_eval_only():
    data = synthetic_ratings(n_users=20, n_items=10, rank=2, density=0.5, seed=0)
    model = MF(data.spec, k=2)
    with torch.no_grad():
        model.mu.fill_(100.0)
    x = data.train.x[:5]
    assert torch.all(model.train()(x) > 50)
    assert torch.all(model.eval()(x) == data.spec.rating_range[1])


def test_wider_factors_load_from_a_checkpoint():
    """A posterior average has S·K factors: set_params and load_state_dict take the width that comes."""
    spec = synthetic_ratings(n_users=12, n_items=8, density=0.5, seed=0).spec
    wide = MF(spec, k=6)
    model = MF(spec, k=2)
    model.load_state_dict(wide.state_dict())
    assert model.user_factors.shape == (spec.n_users, 6)
    x = torch.tensor([[0, 1], [3, 2]])
    assert torch.equal(model.eval()(x), wide.eval()(x))


def test_bad_options_and_the_task_check_are_one_line_errors():
    spec = synthetic_ratings(n_users=20, n_items=10, density=0.5).spec
    assert MF.tasks == ("ratings",)
    with pytest.raises(UserError, match="model.k"):
        MF(spec, k=-1)
    with pytest.raises(UserError, match="model.reg"):
        MF(spec, reg=-1)
    with pytest.raises(UserError, match=r"model=mf: learns ratings datasets; dataset=diabetes is regression"):
        train(make_cfg("model=mf", "dataset=diabetes"), "/nonexistent/never-written")


def read_rows(run_dir):
    with open(run_dir / "metrics.csv") as f:
        return list(csv.DictReader(f))


def test_gradient_path_lowers_rmse(tmp_path):
    cfg = make_cfg("model=mf", "optimizer=adam", "optimizer.lr=0.02", "dataset=synthetic_ratings",
                   "dataset.n_users=200", "dataset.n_items=100", "dataset.density=0.3", "trainer.batch_size=256",
                   "trainer.epochs=6", "model.k=5", "model.reg=1.0")
    train(cfg, tmp_path)
    val = [float(r["val_rmse"]) for r in read_rows(tmp_path)]
    assert val[-1] < 0.8 * val[0]


# ---- model.k=0: the biases-only baseline μ + b_u + c_i

def surprise_baseline_als(users, items, ratings, n_users, n_items, mu, reg_u, reg_i, n_epochs):
    """Surprise's BaselineOnly ALS (surprise/prediction_algorithms/optimize_baselines.pyx, baseline_als), written
    out: μ fixed, then per epoch every item b_i = Σ (r − μ − b_u) / (reg_i + |R_i|), then every user
    b_u = Σ (r − μ − b_i) / (reg_u + |R_u|)."""
    bu, bi = np.zeros(n_users), np.zeros(n_items)
    by_item = [[(u, r) for u, i, r in zip(users, items, ratings) if i == j] for j in range(n_items)]
    by_user = [[(i, r) for u, i, r in zip(users, items, ratings) if u == v] for v in range(n_users)]
    for _ in range(n_epochs):
        for i, rows in enumerate(by_item):
            bi[i] = sum(r - mu - bu[u] for u, r in rows) / (reg_i + len(rows))
        for u, rows in enumerate(by_user):
            bu[u] = sum(r - mu - bi[i] for i, r in rows) / (reg_u + len(rows))
    return bu, bi


def test_biases_only_half_sweeps_are_surprise_baseline_formula():
    """mlrun's ALS half-sweeps with k=0, μ held at the mean rating, items first: Surprise's numbers."""
    from mlrun.solvers.als import Ratings, solve_side

    data = synthetic_ratings(n_users=25, n_items=15, rank=2, density=0.4, seed=3)
    users, items, ratings = data.train.x[:, 0], data.train.x[:, 1], data.train.y.double()
    reg, mu = 7.0, float(ratings.mean())
    bu, bi = surprise_baseline_als(users.tolist(), items.tolist(), ratings.tolist(), data.spec.n_users,
                                   data.spec.n_items, mu, reg, reg, n_epochs=10)
    train = Ratings(users, items, ratings, data.spec.n_users, data.spec.n_items, torch.float64)
    b, c = torch.zeros(data.spec.n_users, dtype=torch.float64), torch.zeros(data.spec.n_items, dtype=torch.float64)
    none_u, none_i = b.new_zeros(len(b), 0), c.new_zeros(len(c), 0)
    mu_t = torch.tensor(mu, dtype=torch.float64)
    for _ in range(10):
        _, c, *_ = solve_side(train.by_item, train.targets("item", mu_t, b), none_u, c, reg, "seed")
        _, b, *_ = solve_side(train.by_user, train.targets("user", mu_t, c), none_i, b, reg, "seed")
    np.testing.assert_allclose(b.numpy(), bu, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(c.numpy(), bi, rtol=1e-12, atol=1e-12)


def exact_biases(users, items, ratings, n_users, n_items, reg):
    """argmin over (μ, b, c) of Σ (r − μ − b_u − c_i)² + λ(‖b‖² + ‖c‖²): one ridge least-squares problem with the
    design [1, onehot(u), onehot(i)], solved densely (λ rows appended; μ not penalised)."""
    n = len(ratings)
    design = np.zeros((n + n_users + n_items, 1 + n_users + n_items))
    design[np.arange(n), 0] = 1
    design[np.arange(n), 1 + users] = 1
    design[np.arange(n), 1 + n_users + items] = 1
    design[n:, 1:] = np.sqrt(reg) * np.eye(n_users + n_items)
    theta = np.linalg.lstsq(design, np.concatenate([ratings, np.zeros(n_users + n_items)]), rcond=None)[0]
    return theta[0], theta[1:1 + n_users], theta[1 + n_users:]


@pytest.mark.parametrize("update", ["seed", "joint"])
def test_biases_only_als_reaches_the_exact_minimiser_of_J(update, one_thread):
    from mlrun.config.settings import TrainerSettings
    from mlrun.solvers import ALS

    data = synthetic_ratings(n_users=40, n_items=30, rank=2, density=0.4, noise=0.5, seed=2)
    model = MF(data.spec, k=0, reg=5.0).double()
    assert model.user_factors.shape == (data.spec.n_users, 0)
    als = ALS(model.parameters(), update=update)
    records = [r for r, _ in als.fit_direct(model, data, TrainerSettings(epochs=40, patience=0),
                                            torch.nn.functional.mse_loss)]
    objectives = [r["objective"] for r in records]
    assert all(b <= a * (1 + 1e-12) for a, b in zip(objectives, objectives[1:]))       # J never rises
    x = data.train.x.numpy()
    mu, b, c = exact_biases(x[:, 0], x[:, 1], data.train.y.double().numpy(), data.spec.n_users, data.spec.n_items, 5.0)
    exact = (torch.tensor(mu), torch.tensor(b), torch.tensor(c), torch.zeros(len(b), 0, dtype=torch.float64),
             torch.zeros(len(c), 0, dtype=torch.float64))
    j_min = objective(exact, data.train.x[:, 0], data.train.x[:, 1], data.train.y.double(), 5.0)
    assert objectives[-1] == pytest.approx(j_min, rel=1e-12)         # J is quadratic: params agree to ~√1e-12
    assert float(model.mu.detach()) == pytest.approx(mu, abs=1e-5)
    np.testing.assert_allclose(model.user_bias.detach().numpy(), b, atol=1e-5)
    np.testing.assert_allclose(model.item_bias.detach().numpy(), c, atol=1e-5)
    out = model.eval()(data.train.x[:3])
    expected = [mu + b[u] + c[i] for u, i in x[:3]]
    lo, hi = data.spec.rating_range
    assert out.tolist() == pytest.approx(np.clip(expected, lo, hi).tolist(), abs=1e-5)


def test_biases_only_trains_by_gradient_and_by_als_from_the_command(tmp_path):
    for optimizer in ("adam", "als"):
        run = tmp_path / optimizer
        train(make_cfg("model=mf", "model.k=0", f"optimizer={optimizer}", "dataset=synthetic_ratings",
                       "dataset.n_users=60", "dataset.n_items=40", "trainer.epochs=3"), run)
        rows = read_rows(run)
        assert len(rows) == 3 and all(np.isfinite(float(r["val_rmse"])) for r in rows)
