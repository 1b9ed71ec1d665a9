"""mlrun.fit.solver_choice: model.solver=auto is exact unless the command names the gradient loop (optimizer group or
keys, loop-only trainer keys), the loss is not the exact solver's, or the data is beyond memory; the choice is
recorded in the stored config and summary.json."""

import json
import logging

import pytest
import torch

from tests.helpers import make_cfg
from mlrun.datasets import iris
from mlrun.errors import UserError
from mlrun.fit import solver_choice

SPLIT = {"train": 0.7, "val": 0.15, "test": 0.15}
SPEC = iris(SPLIT).spec


def settled(keys, loss=None, n=105, model="logistic", solver=None, caplog=None):
    node = make_cfg(f"model={model}", *([f"model.solver={solver}"] if solver else [])).model
    return solver_choice.settle(node, SPEC, n, loss, torch.device("cpu"), keys).solver


@pytest.mark.parametrize("keys,expected", [
    ([], "exact"), (["dataset", "trainer.l2", "trainer.epochs", "seed"], "exact"),
    (["optimizer"], "gradient"), (["optimizer.lr"], "gradient"), (["optimizer.momentum", "dataset"], "gradient"),
    (["trainer.batch_size"], "gradient"), (["trainer.online"], "gradient"), (["trainer.lr_schedule"], "gradient")])
def test_auto_follows_the_command(keys, expected, caplog):
    with caplog.at_level(logging.INFO, logger="mlrun"):
        assert settled(keys) == expected
    line = caplog.records[-1].getMessage()
    assert line.startswith(f"model.solver=auto: {expected}")
    if expected == "gradient":
        assert f"the command names {keys[0]}" in line


def test_explicit_choices_are_kept_and_lstsq_is_exact():
    assert settled(["optimizer"], solver="exact") == "exact"
    assert settled([], solver="gradient") == "gradient"
    assert settled([], model="linear", solver="lstsq") == "exact"


def test_beyond_memory_auto_falls_back_and_exact_refuses(monkeypatch, caplog):
    monkeypatch.setattr(solver_choice.memory, "available_bytes", lambda: 1000)
    with caplog.at_level(logging.INFO, logger="mlrun"):
        assert settled([]) == "gradient"
    assert "the exact solver would need" in caplog.text and "this machine has" in caplog.text
    with pytest.raises(UserError, match=r"model.solver=exact: needs at least .* use model.solver=gradient"):
        settled([], solver="exact")


def test_exact_bytes_counts_data_and_hessian():
    # 1,000 rows × 10 features × 3 classes: [X, 1] + 4 N×K + Newton's 33×33 Hessian twice + its row block
    assert solver_choice.exact_bytes("logistic", 1000, 10, 3) == 8 * (1000 * 11 + 4 * 3000 + 2 * 33 * 33 + 2 ** 22)
    assert solver_choice.exact_bytes("least_squares", 1000, 10, 1) == 8 * (3 * 10_000 + 200 + 2000)


def test_the_command_line_decides_through_mlrun_train(tmp_path):
    import mlrun

    common = ["model=logistic", "dataset=iris", "device=cpu", f"output_root={tmp_path}", "trainer.epochs=3"]
    exact = mlrun.train(common)
    assert exact.summary["solver"] == "exact" and len(exact.metrics) == 1
    sgd = mlrun.train([*common, "optimizer=sgd"])
    assert sgd.summary["solver"] == "gradient" and len(sgd.metrics) == 3 and "gap" in sgd.metrics
    stored = torch.load(sgd.run_dir / "checkpoints" / "last.pt", weights_only=False)["config"]
    assert stored["model"]["solver"] == "gradient"               # a resume trains the same way
    assert json.loads((sgd.run_dir / "summary.json").read_text())["optimum"] == pytest.approx(
        exact.summary["optimum"], rel=1e-9)
