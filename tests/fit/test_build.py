"""mlrun.fit.build: one build order for every command, and the registry allowlist that keeps a stranger's checkpoint
from naming code."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

from tests.helpers import make_cfg
from mlrun.config import registry
from mlrun.fit import build
from mlrun.runtime import checkpoints
from mlrun.errors import UserError


def test_every_group_option_is_in_the_registry():
    assert registry.registry("model")["mlrun.models.MLP"] == "mlp"
    assert registry.registry("optimizer")["torch.optim.Adam"] == "adam"
    assert registry.registry("optimizer")["mlrun.solvers.ALS"] == "als"
    assert registry.registry("trainer")["mlrun.config.settings.TrainerSettings"] == "default"
    assert registry.registry("device") == {"mlrun.runtime.device.pick": "auto"} and registry.options("device") == ["auto", "cpu", "cuda"]


def test_assemble_builds_in_one_order_and_leaves_the_spec_alone():
    cfg = make_cfg("dataset=iris", "model=logistic")
    a, b = build.assemble(cfg), build.assemble(cfg)
    for x, y in zip(a.model.state_dict().values(), b.model.state_dict().values()):   # seeded: same init
        assert torch.equal(x, y)
    assert a.spec.task == "multiclass" and a.epochs == 2 and a.fit_direct is None


def test_pca_components_reach_every_command_that_builds():
    """bench used to build its own way and ignored dataset.pca_components."""
    from mlrun.fit.bench import prepare

    parts = prepare(make_cfg("dataset.pca_components=10", "model.hidden=[8]"))
    assert parts.data.train.x.shape[1] == 10 and parts.spec.input_shape == (10,)


# Each vector: a key of the stored config where a crafted checkpoint puts code to run.
VECTORS = [
    ("device", {"_target_": "mlrun.runtime.device.pick", "type": "cpu",
                "index": {"_target_": "torch.load", "f": "payload.pt", "weights_only": False}},
     r"device.index._target_=.*refused"),
    ("dataset", {"_target_": "numpy.load", "file": "x.npy", "allow_pickle": True},
     r"dataset._target_='numpy.load': refused: not an mlrun dataset option"),
    ("model", {"_target_": "pandas.read_pickle", "filepath_or_buffer": "x.pkl"},
     r"model._target_='pandas.read_pickle': refused"),
    ("optimizer", {"_target_": "torch.hub.load", "repo_or_dir": "a/b", "model": "m"},
     r"optimizer._target_='torch.hub.load': refused"),
    ("trainer", {"_target_": "builtins.open", "file": "/tmp/x", "mode": "w"},
     r"trainer._target_='builtins.open': refused"),
    ("logger", {"_target_": "shutil.copyfile", "src": "/etc/passwd", "dst": "/tmp/x"},
     r"logger._target_='shutil.copyfile': refused"),
    ("trainer", {"_target_": "mlrun.config.settings.TrainerSettings", "_args_": [1]}, r"trainer._args_=.*refused"),
]


@pytest.mark.parametrize("group, node, match", VECTORS)
def test_a_checkpoint_naming_code_is_refused(tmp_path, group, node, match):
    """`mlrun eval`/`predict`/`recommend`/`resume` rebuild through build.make: nothing outside the registry runs."""
    from mlrun.fit.run import train

    train(make_cfg("dataset=iris", "model=logistic", "trainer.epochs=1"), tmp_path / "run")
    payload = checkpoints.load(tmp_path / "run" / "checkpoints" / "best.pt")
    payload["config"][group] = node
    torch.save(payload, tmp_path / "evil.pt")
    with pytest.raises(UserError, match=match):
        build.rebuild(checkpoints.load(tmp_path / "evil.pt"))
    assert not (tmp_path / "x").exists()


def test_renamed_targets_of_older_checkpoints_still_build():
    node = OmegaConf.create({"_target_": "mlrun.trainer.Trainer", "epochs": 1})
    assert registry.allowed(node, "trainer")._target_ == "mlrun.config.settings.TrainerSettings"
