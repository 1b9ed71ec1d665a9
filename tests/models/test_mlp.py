import json

import pytest
import torch
from torch import nn

from tests.helpers import make_cfg
from mlrun.datasets.spec import DataSpec
from mlrun.errors import UserError
from mlrun.models import MLP
from mlrun.models.activations import ACTIVATIONS, Maxout
from mlrun.fit.run import train

SPEC = DataSpec(input_shape=(1, 4, 4), n_outputs=3, task="multiclass")


def test_defaults_reach_096_on_digits(tmp_path):
    train(make_cfg(shrink=False), tmp_path)        # the real default config: `mlrun train`
    assert json.loads((tmp_path / "summary.json").read_text())["test_acc"] >= 0.96


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
@pytest.mark.parametrize("batch_norm", [False, True])
def test_every_activation_shapes_and_gradients(activation, batch_norm):
    model = MLP(SPEC, hidden=[8, 5], activation=activation, batch_norm=batch_norm, dropout=0.1)
    out = model(torch.randn(6, 1, 4, 4))            # images are flattened from the spec
    assert out.shape == (6, 3)
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_layer_sizes_come_from_the_spec():
    model = MLP(SPEC, hidden=[7])
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(16, 7), (7, 3)]


def test_maxout_is_the_max_of_affine_pieces():
    layer = Maxout(3, 2, pieces=4)
    x = torch.randn(5, 3)
    z = (x @ layer.linear.weight.T + layer.linear.bias).view(5, 2, 4)
    assert torch.allclose(layer(x), z.max(-1).values)


@pytest.mark.parametrize("kwargs, match", [
    ({"hidden": []}, "model.hidden=\\[\\]: must be a non-empty list"),
    ({"hidden": [4, -1]}, "model.hidden=\\[4, -1\\]"),
    ({"activation": "swish"}, "model.activation='swish': valid choices are sigmoid, tanh, relu"),
    ({"dropout": 1.0}, "model.dropout=1.0"),
    ({"maxout_pieces": 1}, "model.maxout_pieces=1"),
])
def test_bad_options(kwargs, match):
    with pytest.raises(UserError, match=match):
        MLP(SPEC, **kwargs)
