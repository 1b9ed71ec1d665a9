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
        MF(spec, k=0)
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
