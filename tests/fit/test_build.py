"""mlrun.fit.build: one build order for every command, and the registry allowlist that keeps a stranger's checkpoint
from naming code."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

from tests.helpers import make_cfg
from mlrun.config import registry
from mlrun.fit import build
from mlrun.fit.fitters import DirectFit, GradientFit


def test_every_group_option_is_in_the_registry():
    assert registry.registry("model")["mlrun.models.MLP"] == "mlp"
    assert registry.registry("optimizer")["torch.optim.Adam"] == "adam"
    assert registry.registry("optimizer")["mlrun.solvers.ALS"] == "als"
    assert registry.registry("trainer")["mlrun.config.settings.TrainerSettings"] == "default"
    assert registry.registry("device") == {"mlrun.runtime.device.pick": "auto"} and registry.options("device") == ["auto", "cpu", "cuda"]


def test_assemble_builds_in_one_order_and_leaves_the_spec_alone():
    cfg = make_cfg("dataset=iris", "model=logistic", "model.solver=gradient")
    a, b = build.assemble(cfg), build.assemble(cfg)
    for x, y in zip(a.model.state_dict().values(), b.model.state_dict().values()):   # seeded: same init
        assert torch.equal(x, y)
    assert a.spec.task == "multiclass" and a.plan.epochs == 2 and isinstance(a.fitter, GradientFit)


def test_pca_components_reach_every_command_that_builds():
    """bench used to build its own way and ignored dataset.pca_components."""
    from mlrun.fit.bench import prepare

    parts = prepare(make_cfg("dataset.pca_components=10", "model.hidden=[8]"))
    assert parts.data.train.x.shape[1] == 10 and parts.spec.input_shape == (10,)


def test_renamed_targets_of_older_checkpoints_still_build():
    node = OmegaConf.create({"_target_": "mlrun.trainer.Trainer", "epochs": 1})
    assert registry.allowed(node, "trainer")._target_ == "mlrun.config.settings.TrainerSettings"


@pytest.mark.parametrize("overrides, kind, unit, expected", [
    (("dataset=diabetes", "model=linear", "model.solver=gradient", "trainer.epochs=4"), GradientFit, "epoch", 4),
    (("dataset=diabetes", "model=linear"), DirectFit, "solve", 1),                  # the exact solve (auto)
    (("dataset=diabetes", "model=linear", "model.solver=lstsq"), DirectFit, "solve", 1),
    (("dataset=iris", "model=pca", "model.k=2"), DirectFit, "epoch", None),         # the model's own fit
    (("dataset=synthetic_ratings", "model=mf", "optimizer=als", "trainer.epochs=3"), DirectFit, "sweep", 3),  # solver
])
def test_the_fitter_is_chosen_once_in_the_build_order(overrides, kind, unit, expected):
    fitter = build.assemble(make_cfg(*overrides)).fitter
    assert isinstance(fitter, kind) and (fitter.unit, fitter.expected) == (unit, expected)
    assert fitter.resumes == (kind is GradientFit)
