"""Convolutional networks: blocks of [conv → (BatchNorm) → activation] × convs_per_block → pool → (dropout),
then a head of [Linear → activation → (dropout)] layers and a linear output. `arch` picks a preset:

    mlrun train dataset=mnist model=cnn model.arch=convnet     # 2×(2 conv 3×3, BN) + dropout, head 128
    mlrun train dataset=mnist model=cnn model.arch=lenet5      # LeCun et al. 1998 shapes: 6@28², 16@10², 120, 84
    mlrun train dataset=svhn model=cnn model.arch=svhn         # 3×(2 conv 3×3, BN), head 256, for 3×32×32
    mlrun train dataset=digits model=cnn model.arch=custom model.channels=[16,32]   # 64 features → 1×8×8

Every other option left null takes the preset's value; set it to override (`model.arch=custom` starts from a
plain conv-relu-maxpool net). All sizes are computed from the dataset's spec, never hard-coded.

Input shape: a (C, H, W) spec is used as is; a flat spec of D features is viewed as 1×√D×√D when D is a
perfect square (scikit-learn digits: 64 → 1×8×8); `image_shape: [C, H, W]` (with C·H·W = D) says it explicitly.

LeNet-5 here keeps the 1998 feature-map shapes (a 28×28 input padded by 2 is the paper's 32×32) with
simplifications: full C3 connectivity, plain average pooling, tanh, a linear output with softmax cross-entropy.
On CUDA the convolutions run in channels_last (NHWC) memory format when `channels_last=true`.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from mlrun.models.base import Model
from mlrun.datasets.spec import DataSpec
from mlrun.errors import UserError, check, choose, number
from mlrun.models.activations import ACTIVATIONS

PRESETS = {
    "lenet5": dict(channels=[6, 16], convs_per_block=1, kernel=5, padding=["same", "valid"], pooling="avg",
                   batch_norm=False, activation="tanh", dropout=0.0, head=[120, 84], head_dropout=0.0),
    "convnet": dict(channels=[32, 64], convs_per_block=2, kernel=3, padding="same", pooling="max",
                    batch_norm=True, activation="relu", dropout=0.25, head=[128], head_dropout=0.5),
    "svhn": dict(channels=[32, 64, 128], convs_per_block=2, kernel=3, padding="same", pooling="max",
                 batch_norm=True, activation="relu", dropout=0.25, head=[256], head_dropout=0.5),
    "custom": dict(channels=[32, 64], convs_per_block=1, kernel=3, padding="same", pooling="max",
                   batch_norm=False, activation="relu", dropout=0.0, head=[128], head_dropout=0.0),
}
POOLS = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d, "none": None}
PADDINGS = ("same", "valid")


def image_shape_of(spec: DataSpec, image_shape=None) -> tuple[int, int, int]:
    """(C, H, W) the network sees: `image_shape` if given, else the spec's (C, H, W), (H, W) → (1, H, W),
    or a flat D = s² → (1, s, s)."""
    d = spec.n_features
    if image_shape is not None:
        shape = list(image_shape) if isinstance(image_shape, (list, tuple)) else None
        ok = shape is not None and len(shape) == 3 and all(isinstance(s, int) and s > 0 for s in shape)
        check(ok and math.prod(shape) == d, "model.image_shape", image_shape,
              f"must be [C, H, W] with C·H·W = {d} (dataset={spec.name}, input_shape={list(spec.input_shape)})")
        return tuple(shape)
    if len(spec.input_shape) == 3:
        return spec.input_shape
    if len(spec.input_shape) == 2:
        return (1, *spec.input_shape)
    side = math.isqrt(d)
    if side * side != d:
        raise UserError(f"model=cnn: dataset={spec.name} has {d} flat features, not a square image; set "
                        f"model.image_shape=[C,H,W] with C·H·W = {d}, or use model=mlp")
    return 1, side, side


class CNN(Model):
    tasks = ("binary", "multiclass")   # dataset tasks it learns (checked once by mlrun.fit.build.model)

    def __init__(self, spec: DataSpec, arch: str = "convnet", channels: list[int] | None = None,
                 convs_per_block: int | None = None, kernel: int | None = None, padding=None,
                 pooling: str | None = None, batch_norm: bool | None = None, activation: str | None = None,
                 dropout: float | None = None, head: list[int] | None = None, head_dropout: float | None = None,
                 image_shape: list[int] | None = None, channels_last: bool = True):
        """Conv blocks then a dense head; in/out sizes from `spec` (classification only)."""
        super().__init__()
        preset = choose(PRESETS, "model.arch", arch)
        given = dict(channels=channels, convs_per_block=convs_per_block, kernel=kernel, padding=padding,
                     pooling=pooling, batch_norm=batch_norm, activation=activation, dropout=dropout, head=head,
                     head_dropout=head_dropout)
        o = {k: preset[k] if v is None else v for k, v in given.items()}   # null = the preset's value
        channels, head = _widths("model.channels", o["channels"]), _widths("model.head", o["head"], empty=True)
        number("model.convs_per_block", o["convs_per_block"], 1, integer=True)
        number("model.kernel", o["kernel"], 1, integer=True)
        paddings = o["padding"] if isinstance(o["padding"], (list, tuple)) else [o["padding"]] * len(channels)
        check(len(paddings) == len(channels) and all(p in PADDINGS for p in paddings), "model.padding",
              o["padding"], f"must be same | valid, or a list of those with one entry per block ({len(channels)})")
        pool = choose(POOLS, "model.pooling", o["pooling"])
        check(isinstance(o["batch_norm"], bool), "model.batch_norm", o["batch_norm"], "must be true or false")
        act = choose({k: v for k, v in ACTIVATIONS.items() if v is not None}, "model.activation", o["activation"])
        for key in ("dropout", "head_dropout"):
            check(isinstance(o[key], (int, float)) and 0.0 <= o[key] < 1.0, f"model.{key}", o[key],
                  "must be a probability in [0, 1)")
        check(isinstance(channels_last, bool), "model.channels_last", channels_last, "must be true or false")

        self.arch, self.channels_last = arch, channels_last
        self.image_shape = image_shape_of(spec, image_shape)
        c, h, w = self.image_shape
        layers: list[nn.Module] = []
        for block, (width, pad) in enumerate(zip(channels, paddings), start=1):
            for _ in range(o["convs_per_block"]):
                if pad == "valid":
                    h, w = h - o["kernel"] + 1, w - o["kernel"] + 1
                if h < 1 or w < 1:
                    raise UserError(f"model.arch={arch}: the {'×'.join(map(str, self.image_shape))} input shrinks "
                                    f"to nothing in block {block} (kernel {o['kernel']}, padding valid); use "
                                    f"model.padding=same, a smaller model.kernel or fewer model.channels")
                layers.append(nn.Conv2d(c, width, o["kernel"], padding=pad, bias=not o["batch_norm"]))
                if o["batch_norm"]:
                    layers.append(nn.BatchNorm2d(width))
                layers.append(act())
                c = width
            if pool is not None and min(h, w) >= 2:      # pool while the map is at least 2×2
                layers.append(pool(2))
                h, w = h // 2, w // 2
            if o["dropout"] > 0:
                layers.append(nn.Dropout(o["dropout"]))
        self.features = nn.Sequential(*layers)                  # (N, C, H, W) → (N, c, h, w)
        self.feature_shape = (c, h, w)
        dense: list[nn.Module] = [nn.Flatten()]                 # (N, c, h, w) → (N, c·h·w)
        n_in = c * h * w
        for width in head:
            dense += [nn.Linear(n_in, width), act()] + ([nn.Dropout(o["head_dropout"])] if o["head_dropout"] else [])
            n_in = width
        dense.append(nn.Linear(n_in, spec.n_outputs))
        self.head = nn.Sequential(*dense)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(x.shape[0], *self.image_shape)             # flat (N, D) → (N, C, H, W); images unchanged
        if self.channels_last and x.is_cuda:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.head(self.features(x))                      # (N, n_outputs) logits

    def to(self, *args, **kwargs):
        """Like nn.Module.to; on CUDA with channels_last, the conv weights also move to NHWC."""
        module = super().to(*args, **kwargs)
        first = next(self.parameters(), None)
        if self.channels_last and first is not None and first.is_cuda and "memory_format" not in kwargs:
            super().to(memory_format=torch.channels_last)
        return module


def _widths(key: str, value, empty: bool = False) -> list[int]:
    widths = list(value) if isinstance(value, (list, tuple)) else None
    ok = widths is not None and (empty or widths) and all(isinstance(v, int) and not isinstance(v, bool) and v > 0
                                                           for v in widths)
    check(bool(ok), key, value, f"must be a {'' if empty else 'non-empty '}list of positive integers, e.g. [32,64]")
    return widths
