import csv
import json
import math

import pytest
import torch

pytest.importorskip("torchdiffeq")

from tests.helpers import make_cfg
from mlrun.datasets.spec import DataSpec
from mlrun.errors import UserError
from mlrun.models import NeuralODE, ResNetEuler
from mlrun.models.node import solver_table
from mlrun.models.odefunc import Dynamics
from mlrun.fit.run import train

FLAT = DataSpec(input_shape=(10,), n_outputs=3, task="multiclass")
IMAGE = DataSpec(input_shape=(1, 12, 12), n_outputs=4, task="multiclass")


pytestmark = pytest.mark.usefixtures("one_thread")   # see tests/conftest.py


class Power(Dynamics):
    """dh/dt = a·w·h^p with one learnable scale w (= 1): closed forms for p = 1, blow-up for p = 2."""

    def __init__(self, a: float, p: int = 1):
        super().__init__()
        self.a, self.p = a, p
        self.w = torch.nn.Parameter(torch.ones(()))

    def forward(self, t, h):
        return self.counted(self.a * self.w * h.pow(self.p))


@pytest.mark.parametrize("spec, x", [(FLAT, torch.randn(5, 10)), (IMAGE, torch.randn(5, 1, 12, 12))])
@pytest.mark.parametrize("adjoint", [False, True])
def test_output_shapes_and_gradients(spec, x, adjoint):
    model = NeuralODE(spec, width=8, adjoint=adjoint)
    out = model(x)
    assert model.epoch_metrics()["nfe_forward"] > 0
    assert out.shape == (5, spec.n_outputs)
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize("solver, options", [("dopri5", {"rtol": 1e-7, "atol": 1e-9}), ("bosh3", {"rtol": 1e-6, "atol": 1e-8}),
                                             ("rk4", {"step_size": 0.05}), ("midpoint", {"step_size": 0.01})])
def test_linear_ode_matches_exp(solver, options):
    model = NeuralODE(FLAT, solver=solver, t1=1.5, **options)
    model.f = Power(a=-0.7)
    h0 = torch.randn(4, 6)
    hs = model.solve(h0)                                   # states at t = 0 and t1
    assert torch.allclose(hs[-1], h0 * math.exp(-0.7 * 1.5), rtol=1e-3, atol=1e-4)


def test_adjoint_gradients_match_backprop():
    torch.manual_seed(0)
    direct = NeuralODE(FLAT, rtol=1e-7, atol=1e-7, width=8)
    adjoint = NeuralODE(FLAT, rtol=1e-7, atol=1e-7, width=8, adjoint=True)
    adjoint.load_state_dict(direct.state_dict())
    x, y = torch.randn(16, 10), torch.randint(0, 3, (16,))
    grads = []
    for model in (direct, adjoint):
        torch.nn.functional.cross_entropy(model(x), y).backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters()]))
    assert torch.allclose(grads[1], grads[0], rtol=1e-3, atol=1e-6)


@pytest.mark.parametrize("spec, x", [(FLAT, torch.randn(6, 10)), (IMAGE, torch.randn(6, 1, 12, 12))])
@pytest.mark.parametrize("steps", [1, 4, 8])
def test_euler_node_is_resnet_euler(spec, x, steps):
    """The seed's point: h + Δt·f(h, t) repeated is the Euler solution of dh/dt = f(h, t)."""
    node = NeuralODE(spec, solver="euler", step_size=1 / steps, width=8)
    resnet = ResNetEuler(spec, steps=steps, width=8)
    resnet.load_state_dict(node.state_dict())             # same keys: stem, f, head
    assert torch.allclose(node(x), resnet(x), atol=1e-6)
    assert node.epoch_metrics() == resnet.epoch_metrics() == {"nfe_forward": steps, "nfe_backward": 0.0}


def test_nfe_grows_as_tolerance_tightens():
    torch.manual_seed(0)
    model = NeuralODE(FLAT, width=16, t1=4.0)
    x = torch.randn(32, 10)
    nfe = []
    for tol in (1e-1, 1e-3, 1e-5, 1e-7):
        model.rtol = model.atol = tol
        model(x)
        nfe.append(model.epoch_metrics()["nfe_forward"])
    assert nfe == sorted(nfe) and nfe[-1] > nfe[0]


@pytest.mark.parametrize("adjoint", [False, True])
def test_nfe_per_batch_counts_forward_and_backward(adjoint):
    model = NeuralODE(FLAT, solver="rk4", step_size=0.25, width=8, adjoint=adjoint)
    for _ in range(3):                                     # three training batches: 4 steps × 4 stages each
        model(torch.randn(5, 10)).sum().backward()
    model.eval()
    with torch.no_grad():
        model(torch.randn(5, 10))                          # evaluation is not counted
    assert model.epoch_metrics() == {"nfe_forward": 16.0, "nfe_backward": 16.0}
    assert model.epoch_metrics() == {"nfe_forward": 0.0, "nfe_backward": 0.0}   # reset each epoch


def test_underflow_is_one_line_with_epoch_and_hint():
    model = NeuralODE(FLAT, t1=2.0)
    model.epoch_metrics()                                  # one epoch done: the next is epoch 2
    model.f = Power(a=1.0, p=2)                            # dh/dt = h², h(0) = 1: blows up at t = 1
    model.f.underflow = NeuralODE(FLAT).f.underflow
    model.f.epoch = 2
    with pytest.raises(UserError, match=r"model.solver=dopri5: step size underflow in dt .* at epoch 2: .*"
                                        r"loosen model.rtol/model.atol or lower optimizer.lr"):
        model.solve(torch.ones(2, 3))


def test_underflow_in_the_adjoint_backward_solve_is_one_line():
    """dh/dt = −h³ from h(0) = 10 is tame forwards; backwards it blows up just before t = 0."""
    model = NeuralODE(FLAT, adjoint=True)
    model.f = Power(a=-1.0, p=3)
    model.f.underflow = NeuralODE(FLAT).f.underflow
    out = model.solve(torch.full((1, 3), 10.0))[-1]
    with pytest.raises(UserError, match="step size underflow in dt .* at epoch 1"):
        out.sum().backward()


def test_solver_names_are_torchdiffeqs():
    from torchdiffeq._impl.odeint import SOLVERS

    assert set(solver_table()) == set(SOLVERS) - {"scipy_solver"}
    assert solver_table()["rk4"] and not solver_table()["dopri5"]


@pytest.mark.parametrize("kwargs, match", [
    ({"solver": "rk45"}, r"model.solver='rk45': valid choices are dopri8, dopri5, bosh3, .*euler.*rk4"),
    ({"rtol": 0.0}, r"model.rtol=0.0: must be a number > 0"),
    ({"atol": -1e-3}, r"model.atol=-0.001: must be a number > 0"),
    ({"solver": "rk4", "step_size": 0}, r"model.step_size=0: must be a number > 0"),
    ({"solver": "euler", "step_size": -0.1}, r"model.step_size=-0.1"),
    ({"step_size": 0.1}, r"model.step_size=0.1: only for fixed-grid solvers \(euler, .*\); solver=dopri5"),
    ({"t1": 0.0}, r"model.t1=0.0: must be a number > 0"),
    ({"width": 0}, r"model.width=0: must be an integer ≥ 1"),
    ({"adjoint": "yes"}, r"model.adjoint='yes': must be true or false"),
])
def test_bad_options(kwargs, match):
    with pytest.raises(UserError, match=match):
        NeuralODE(FLAT, **kwargs)


def test_train_writes_nfe_columns_and_peak_memory(tmp_path):
    cfg = make_cfg("model=node", "model.solver=rk4", "model.step_size=0.5", "model.width=16",
                   "trainer.batch_size=128", "optimizer.lr=0.01")
    train(cfg, tmp_path)
    rows = list(csv.DictReader(open(tmp_path / "metrics.csv")))
    assert [float(r["nfe_forward"]) for r in rows] == [8.0, 8.0]          # 2 steps × 4 stages per batch
    assert [float(r["nfe_backward"]) for r in rows] == [8.0, 8.0]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["peak_rss_mb"] > 0 and summary["test_acc"] > 0.5
    assert ("peak_gpu_mb" in summary) == torch.cuda.is_available()


def test_cli_unknown_solver_is_one_line(cli, tmp_path):
    r = cli("train", "model=node", "model.solver=rk45", cwd=tmp_path)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "model.solver='rk45': valid choices are dopri8, dopri5" in lines[0], r.stderr
    assert not (tmp_path / "outputs").exists() or not any((tmp_path / "outputs").rglob("summary.json"))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_peak_gpu_memory_in_summary(tmp_path):
    train(make_cfg("model=node", "device=cuda", "trainer.epochs=1"), tmp_path)
    assert json.loads((tmp_path / "summary.json").read_text())["peak_gpu_mb"] > 0
