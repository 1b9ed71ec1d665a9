import csv
import json

import pytest
import torch

pytest.importorskip("torchdiffeq")

from tests.helpers import make_cfg
from mlrun.datasets import spiral
from mlrun.datasets.spiral import A, true_trajectory
from mlrun.errors import UserError
from mlrun.fit.losses import make_loss
from mlrun.models import MLP, NeuralODE
from mlrun.config.registry import make as build
from mlrun.fit.run import train

SPLIT = {"train": 0.7, "val": 0.15, "test": 0.15}


pytestmark = pytest.mark.usefixtures("one_thread")   # see tests/conftest.py


def test_spec_shapes_and_segments():
    data = spiral(SPLIT, n_points=200, t_max=5.0, segment=6, seed=0)
    spec = data.spec
    assert (spec.task, spec.input_shape, spec.n_outputs, spec.loss, spec.metric) == \
        ("trajectory", (2,), 2, "mse", "traj_mse")
    assert spec.times == pytest.approx([k * 5.0 / 199 for k in range(6)])
    starts = torch.cat([s.x for s in (data.train, data.val, data.test)])
    assert len(starts) >= 200 - 6 and len(starts.unique(dim=0)) == len(starts)      # one example per start (±1: rounding)
    for s in (data.train, data.val, data.test):
        assert s.x.shape == (len(s), 2) and s.y.shape == (len(s), 6, 2)
        assert torch.equal(s.y[:, 0], s.x)                                            # y(τ0 = 0) is y0


def test_true_trajectory_solves_the_cubic_spiral():
    from torchdiffeq import odeint                        # an independent solver: torchdiffeq's dopri5

    t, y = true_trajectory(300, 10.0)
    a = torch.tensor(A, dtype=torch.float64)
    ref = odeint(lambda _, v: v.pow(3) @ a, y[:1], t, rtol=1e-10, atol=1e-12)[:, 0]
    assert (y - ref).abs().max() < 1e-6
    assert y[-1].norm() < y[0].norm()                                                 # it spirals inwards


def test_same_seed_same_split():
    a, b = spiral(SPLIT, n_points=100, seed=3), spiral(SPLIT, n_points=100, seed=3)
    assert torch.equal(a.test.x, b.test.x) and torch.equal(a.test.y, b.test.y)


@pytest.mark.parametrize("kwargs, match", [
    ({"segment": 1}, r"dataset.segment=1: must be an integer ≥ 2"),
    ({"n_points": 50, "segment": 60}, r"dataset.segment=60: must be ≤ dataset.n_points \(50\)"),
    ({"t_max": 0.0}, r"dataset.t_max=0.0: must be a number > 0"),
])
def test_bad_options(kwargs, match):
    with pytest.raises(UserError, match=match):
        spiral(SPLIT, **kwargs)


def test_node_outputs_trajectories_on_the_spec_times():
    data = spiral(SPLIT, n_points=100, segment=5)
    model = NeuralODE(data.spec, width=8)
    out = model(data.val.x)
    assert out.shape == data.val.y.shape
    assert torch.allclose(out[:, 0], data.val.x)                                      # the state starts at y0


def test_a_classifier_on_trajectories_is_one_line():
    data = spiral(SPLIT, n_points=100, segment=5)
    loss = make_loss(None, data.spec)
    with pytest.raises(UserError, match=r"task=trajectory: the model outputs \(2,\) per example, .*use model=node"):
        loss(MLP(data.spec, hidden=[4])(data.val.x), data.val.y)


def test_spiral_run_writes_the_plot(tmp_path):
    train(make_cfg("experiment=spiral_node", "dataset.n_points=120", "model.width=16"), tmp_path)
    assert (tmp_path / "trajectories.png").stat().st_size > 10_000
    rows = list(csv.DictReader(open(tmp_path / "metrics.csv")))
    assert len(rows) == 2 and {"val_traj_mse", "nfe_forward", "nfe_backward"} <= set(rows[0])
    assert json.loads((tmp_path / "summary.json").read_text())["test_traj_mse"] > 0


@pytest.mark.slow
def test_spiral_loss_falls_tenfold(tmp_path):
    """The preset, shortened to 32 epochs (~350 steps): test MSE ≤ 1/10 of the untrained model's."""
    cfg = make_cfg("experiment=spiral_node", "trainer.epochs=32")
    torch.manual_seed(cfg.seed)                                                       # as train() does
    data = build(cfg.dataset, "dataset", seed=cfg.seed)
    untrained = build(cfg.model, "model", data.spec).eval()
    with torch.no_grad():
        before = make_loss(None, data.spec)(untrained(data.test.x), data.test.y).item()
    train(cfg, tmp_path)
    after = json.loads((tmp_path / "summary.json").read_text())["test_loss"]
    assert after <= before / 10, (before, after)
