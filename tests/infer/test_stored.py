"""mlrun.infer.stored: a saved run rebuilt from its checkpoint — overrides of the stored config, the registry
allowlist that keeps a stranger's checkpoint from naming code, and one message for weights that do not fit."""

from __future__ import annotations

import pytest
import torch

from tests.helpers import make_cfg
from mlrun.errors import UserError
from mlrun.fit.run import train
from mlrun.infer.predict import Predictor
from mlrun.infer.stored import load_weights, rebuild, stored_config
from mlrun.runtime import checkpoints


def test_overrides_change_existing_keys_only():
    payload = {"config": {"device": {"type": "auto"}, "trainer": {"epochs": 3}}}
    cfg = stored_config(payload, ["device=cpu", "trainer.epochs=5"])
    assert cfg.device.type == "cpu" and cfg.trainer.epochs == 5
    with pytest.raises(UserError, match=r"^trainer\.nope='1': not a key of the checkpoint's config$"):
        stored_config(payload, ["trainer.nope=1"])


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
    """`mlrun eval`/`predict`/`recommend`/`resume` rebuild through mlrun.fit.build's registry allowlist: nothing outside the registry runs."""
    from mlrun.fit.run import train

    train(make_cfg("dataset=iris", "model=logistic", "trainer.epochs=1"), tmp_path / "run")
    payload = checkpoints.load(tmp_path / "run" / "checkpoints" / "best.pt")
    payload["config"][group] = node
    torch.save(payload, tmp_path / "evil.pt")
    with pytest.raises(UserError, match=match):
        rebuild(checkpoints.load(tmp_path / "evil.pt"))
    assert not (tmp_path / "x").exists()



def test_weights_that_do_not_fit_are_one_line_for_eval_and_predict(tmp_path):
    """rebuild (eval, recommend, predict on images) and Predictor (predict on tables) say the same."""
    train(make_cfg("dataset=iris", "model=logistic", "trainer.epochs=1"), tmp_path / "run")
    payload = checkpoints.load(tmp_path / "run" / "checkpoints" / "best.pt")
    payload["model"] = {k: v[..., :1] for k, v in payload["model"].items()}         # wrong shapes
    message = r"^checkpoint: its weights do not fit mlrun\.models\.Logistic \(Error\(s\) in loading state_dict"
    with pytest.raises(UserError, match=message):
        rebuild(payload)
    checkpoints.save(tmp_path / "tampered.pt", payload)
    with pytest.raises(UserError, match=r"^checkpoint='.*tampered\.pt': its weights do not fit mlrun\.models\.Logistic"):
        Predictor.load(tmp_path / "tampered.pt")
    with pytest.raises(UserError, match=r"^x\.pt: its weights do not fit M \(Expected state_dict to be dict-like"):
        load_weights(torch.nn.Linear(1, 1), [1, 2], "M", "x.pt")                     # not a mapping


def test_older_specs_compare_and_a_changed_dataset_names_its_keys(tmp_path):
    """A checkpoint written before spec.profile (or features/transform) existed still rebuilds; a dataset that
    changed since is refused in one line naming the spec keys that differ, not the two whole specs."""
    train(make_cfg("dataset=diabetes", "model=linear", "trainer.epochs=1"), tmp_path / "run")
    payload = checkpoints.load(tmp_path / "run" / "checkpoints" / "best.pt")
    older = {**payload, "spec": {k: v for k, v in payload["spec"].items() if k not in ("profile", "transform")}}
    rebuild(older)
    changed = {**payload, "spec": {**payload["spec"], "n_train": payload["spec"]["n_train"] + 1, "metric": "mae"}}
    with pytest.raises(UserError, match=r"differs from the one the model was trained on \(spec keys metric, "
                                        r"n_train\); pass the same data files$"):
        rebuild(changed)
