import json

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tests.helpers import make_cfg
from mlrun.datasets.spec import DataSpec
from mlrun.errors import UserError
from mlrun.models import CNN
from mlrun.models.cnn import PRESETS
from mlrun.fit.run import train


def spec(*shape, n_outputs=10, task="multiclass"):
    return DataSpec(input_shape=shape, n_outputs=n_outputs, task=task, name="test")


FEATURES = {   # (arch, input shape) → (C, H, W) after the conv blocks: computed from the spec, never hard-coded
    ("lenet5", (1, 28, 28)): (16, 5, 5), ("convnet", (1, 28, 28)): (64, 7, 7), ("svhn", (1, 28, 28)): (128, 3, 3),
    ("custom", (1, 28, 28)): (64, 7, 7), ("lenet5", (3, 32, 32)): (16, 6, 6), ("convnet", (3, 32, 32)): (64, 8, 8),
    ("svhn", (3, 32, 32)): (128, 4, 4), ("custom", (3, 32, 32)): (64, 8, 8), ("convnet", (64,)): (64, 2, 2),
    ("svhn", (64,)): (128, 1, 1), ("custom", (64,)): (64, 2, 2),
}


@pytest.mark.parametrize("arch, shape", list(FEATURES))
def test_output_and_feature_shapes_for_every_preset(arch, shape):
    model = CNN(spec(*shape), arch=arch)
    assert model.feature_shape == FEATURES[arch, shape]
    out = model(torch.randn(3, *shape))
    assert out.shape == (3, 10)
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_lenet5_has_the_1998_shapes_and_parameter_count():
    model = CNN(spec(1, 28, 28), arch="lenet5")
    maps, x = [], torch.randn(1, 1, 28, 28)
    for layer in model.features:
        x = layer(x)
        if isinstance(layer, (nn.Conv2d, nn.AvgPool2d)):
            maps.append(tuple(x.shape[1:]))
    assert maps == [(6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 5, 5)]           # C1, S2, C3, S4
    assert [m.out_features for m in model.head if isinstance(m, nn.Linear)] == [120, 84, 10]   # C5, F6, output
    assert sum(p.numel() for p in model.parameters()) == 61706                    # LeNet-5's ~60k weights
    with pytest.raises(UserError, match="model.arch=lenet5: the 1×8×8 input shrinks to nothing in block 2"):
        CNN(spec(64), arch="lenet5")                                              # digits are too small for it


def test_a_one_conv_net_is_conv2d_then_linear():
    model = CNN(spec(1, 5, 5, n_outputs=3), arch="custom", channels=[2], pooling="none", head=[])
    conv, linear = model.features[0], model.head[1]
    x = torch.randn(4, 1, 5, 5)
    want = F.linear(F.relu(F.conv2d(x, conv.weight, conv.bias, padding=1)).flatten(1), linear.weight, linear.bias)
    assert torch.allclose(model(x), want, atol=1e-6)


def test_flat_inputs_are_reshaped_from_the_spec():
    x = torch.randn(2, 64)
    model = CNN(spec(64), arch="custom")                         # digits: 64 features → 1×8×8
    assert model.image_shape == (1, 8, 8)
    assert torch.equal(model(x), model(x.view(2, 1, 8, 8)))
    assert CNN(spec(48), arch="custom", image_shape=[3, 4, 4]).image_shape == (3, 4, 4)
    with pytest.raises(UserError, match="dataset=test has 48 flat features, not a square image"):
        CNN(spec(48), arch="custom")


def test_null_options_take_the_preset_and_overrides_win():
    model = CNN(spec(1, 28, 28), arch="convnet", channels=[8, 16], head=[])
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [8, 8, 16, 16]     # convnet: 2 convs per block
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.features) == PRESETS["convnet"]["batch_norm"]
    assert [m for m in model.head if isinstance(m, nn.Linear)][0].in_features == 16 * 7 * 7


@pytest.mark.parametrize("kwargs, match", [
    ({"arch": "resnet"}, "model.arch='resnet': valid choices are lenet5, convnet, svhn, custom"),
    ({"channels": []}, "model.channels=\\[\\]: must be a non-empty list"),
    ({"kernel": 0}, "model.kernel=0"),
    ({"padding": "full"}, "model.padding='full': must be same | valid"),
    ({"padding": ["same"], "channels": [4, 8]}, "one entry per block \\(2\\)"),
    ({"pooling": "lp"}, "model.pooling='lp': valid choices are max, avg, none"),
    ({"activation": "maxout"}, "model.activation='maxout': valid choices are sigmoid, tanh, relu"),
    ({"dropout": 1.0}, "model.dropout=1.0"),
    ({"image_shape": [2, 8, 8]}, "model.image_shape=\\[2, 8, 8\\]: must be \\[C, H, W\\] with C·H·W = 784"),
])
def test_bad_options_are_one_line(kwargs, match):
    with pytest.raises(UserError, match=match):
        CNN(spec(1, 28, 28), **kwargs)


def test_regression_is_refused_by_the_task_check():
    from mlrun.fit.build import model

    with pytest.raises(UserError, match=r"model=cnn: learns binary, multiclass datasets; dataset=.* is regression "
                                        r"\(models for regression: linear, mlp, node, pca, resnet_euler\)"):
        model(make_cfg("model=cnn").model, spec(1, 8, 8, n_outputs=1, task="regression"))


def test_cnn_on_digits_through_the_real_config(tmp_path):
    train(make_cfg("model=cnn", "model.arch=custom", "model.channels=[16]", "trainer.epochs=3"), tmp_path)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["test_acc"] >= 0.9
    assert summary["reference"] is None     # no published CNN number on digits: another model's is not shown


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_channels_last_on_cuda_gives_the_same_outputs():
    torch.manual_seed(0)
    model = CNN(spec(3, 32, 32), arch="svhn").eval()
    x = torch.randn(8, 3, 32, 32)
    want = model(x)
    model = model.to("cuda")
    conv = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert torch.allclose(model(x.cuda()).cpu(), want, atol=1e-4)
