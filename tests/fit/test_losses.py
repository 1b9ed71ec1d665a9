import pytest
import torch

from mlrun.datasets.spec import DataSpec
from mlrun.errors import UserError
from mlrun.fit.losses import make_loss

REG = DataSpec(input_shape=(3,), n_outputs=1, task="regression", name="r")
BIN = DataSpec(input_shape=(3,), n_outputs=1, task="binary", name="b")
MULTI = DataSpec(input_shape=(3,), n_outputs=3, task="multiclass", name="m")


def test_regression_losses_match_formulas():
    out, y = torch.tensor([[0.0], [3.0], [-1.0]]), torch.tensor([[0.5], [0.0], [-1.0]])
    err = (out - y).abs()
    assert torch.isclose(make_loss("mse", REG)(out, y), (err ** 2).mean())
    assert torch.isclose(make_loss("mae", REG)(out, y), err.mean())
    huber = torch.where(err <= 1, 0.5 * err ** 2, err - 0.5).mean()       # delta = 1
    assert torch.isclose(make_loss("huber", REG)(out, y), huber)
    assert make_loss(None, REG) is make_loss("mse", REG)                  # the spec's default


def test_binary_losses():
    out, y = torch.tensor([[2.0], [-1.0], [0.5]]), torch.tensor([1.0, 1.0, 0.0])
    p = torch.sigmoid(out[:, 0])
    bce = -(y * p.log() + (1 - y) * (1 - p).log()).mean()
    assert torch.isclose(make_loss("bce", BIN)(out, y), bce)
    assert torch.isclose(make_loss("cross_entropy", BIN)(out, y), bce)
    s = 2 * y - 1                                                          # {0,1} → {−1,+1}
    assert torch.isclose(make_loss("hinge", BIN)(out, y), torch.clamp(1 - s * out[:, 0], min=0).mean())


def test_multiclass_losses():
    out, y = torch.tensor([[2.0, 0.0, -1.0], [0.1, 0.2, 0.3]]), torch.tensor([0, 2])
    ce = -torch.log_softmax(out, 1)[torch.arange(2), y].mean()
    assert torch.isclose(make_loss("cross_entropy", MULTI)(out, y), ce)
    # multi-margin: mean over classes j ≠ y of max(0, 1 − x_y + x_j), divided by C
    hinge = torch.stack([torch.clamp(1 - out[i, y[i]] + out[i], min=0).sum() - 1 for i in range(2)]) / 3
    assert torch.isclose(make_loss("hinge", MULTI)(out, y), hinge.mean())


@pytest.mark.parametrize("name, spec, match", [
    ("mse", MULTI, "loss='mse': does not fit task=multiclass \\(dataset=m\\); valid choices for this dataset are "
                   "cross_entropy, hinge"),
    ("bce", MULTI, "does not fit task=multiclass"),
    ("hinge", REG, "valid choices for this dataset are mse, mae, huber"),
    ("focal", BIN, "loss='focal': unknown loss"),
])
def test_loss_task_mismatch_is_one_line(name, spec, match):
    with pytest.raises(UserError, match=match):
        make_loss(name, spec)
