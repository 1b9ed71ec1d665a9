"""mlrun.infer.saved.evaluate_checkpoint: a saved run rebuilt through mlrun.fit.build scores exactly as it did in training."""

import json

import pytest

from tests.helpers import make_cfg
from mlrun.errors import UserError
from mlrun.fit.run import train
from mlrun.infer.saved import evaluate_checkpoint


def test_rebuilt_run_reproduces_the_test_metrics(tmp_path):
    train(make_cfg("dataset=iris", "model=logistic", "trainer.epochs=3"), tmp_path)
    summary = json.loads((tmp_path / "summary.json").read_text())
    scores = evaluate_checkpoint(str(tmp_path))
    assert scores["test_acc"] == summary["test_acc"] and scores["test_loss"] == summary["test_loss"]
    from mlrun.fit.build import assemble

    parts = assemble(make_cfg("dataset=iris", "model=logistic", "trainer.epochs=3"))
    assert scores["n"] == len(parts.data.test) and evaluate_checkpoint(str(tmp_path), "val")["n"] == len(parts.data.val)
    with pytest.raises(UserError, match="split='dev': valid choices are train, val, test"):
        evaluate_checkpoint(str(tmp_path), "dev")
    with pytest.raises(UserError, match="model.nope='1': not a key of the checkpoint's config"):
        evaluate_checkpoint(str(tmp_path), "test", ["model.nope=1"])
