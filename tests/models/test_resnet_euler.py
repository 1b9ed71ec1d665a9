import pytest
import torch

from mlrun.datasets.spec import DataSpec
from mlrun.errors import UserError
from mlrun.models import ResNetEuler

FLAT = DataSpec(input_shape=(10,), n_outputs=3, task="multiclass")
IMAGE = DataSpec(input_shape=(3, 8, 8), n_outputs=5, task="multiclass")


pytestmark = pytest.mark.usefixtures("one_thread")   # see tests/conftest.py


@pytest.mark.parametrize("spec, x", [(FLAT, torch.randn(4, 10)), (IMAGE, torch.randn(4, 3, 8, 8))])
def test_output_shapes_and_gradients(spec, x):
    model = ResNetEuler(spec, steps=3, width=8)
    out = model(x)
    assert out.shape == (4, spec.n_outputs)
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    assert model.epoch_metrics() == {"nfe_forward": 3.0, "nfe_backward": 3.0}   # f once per block, both ways


def test_residual_updates_by_hand():
    model = ResNetEuler(FLAT, steps=5, t1=2.0, width=8)
    x = torch.randn(4, 10)
    h = model.stem(x)
    for k in range(5):                                     # h ← h + Δt·f(h, k·Δt), Δt = t1/steps
        h = h + 0.4 * model.f(torch.tensor(0.4 * k), h)
    assert torch.allclose(model(x), model.head(h), atol=1e-6)


def test_one_f_shared_by_all_steps():
    few, many = ResNetEuler(FLAT, steps=2, width=8), ResNetEuler(FLAT, steps=20, width=8)
    assert sum(p.numel() for p in few.parameters()) == sum(p.numel() for p in many.parameters())


@pytest.mark.parametrize("kwargs, match", [
    ({"steps": 0}, r"model.steps=0: must be an integer ≥ 1"),
    ({"steps": 2.5}, r"model.steps=2.5"),
    ({"t1": -1.0}, r"model.t1=-1.0: must be a number > 0"),
    ({"width": 0}, r"model.width=0"),
])
def test_bad_options(kwargs, match):
    with pytest.raises(UserError, match=match):
        ResNetEuler(FLAT, **kwargs)


def test_refuses_trajectories():
    spec = DataSpec(input_shape=(2,), n_outputs=2, task="trajectory", name="spiral", times=[0.0, 0.1])
    from tests.helpers import make_cfg
    from mlrun.fit.build import model

    with pytest.raises(UserError, match=r"model=resnet_euler: learns regression, binary, multiclass datasets; "
                                        r"dataset=spiral is trajectory \(models for trajectory: node\)"):
        model(make_cfg("model=resnet_euler").model, spec)
