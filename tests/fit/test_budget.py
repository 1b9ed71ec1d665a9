"""Budgets that fit the data: trainer.epochs=auto gives a small set at least trainer.min_steps optimiser steps (an
explicit trainer.epochs is kept as given); a run whose best epoch is its last says so on the log's last line."""

import logging

import pytest

from tests.helpers import make_cfg
from mlrun.config.settings import TrainerSettings
from mlrun.errors import UserError
from mlrun.fit import build
from mlrun.fit.run import train


@pytest.mark.parametrize("options,n_train,epochs", [
    ({}, 105, 500),                                   # iris: 2 steps an epoch → 500 epochs for 1,000 steps
    ({}, 1258, 50),                                   # digits: 20 steps an epoch
    ({}, 54_000, 30),                                 # MNIST: 844 steps an epoch; 30 epochs is already more
    ({"min_steps": 0}, 105, 30),
    ({"epochs": 2}, 105, 2),                          # an explicit epochs is what the user asked for
    ({"batch_size": "full"}, 105, 1000),
    ({"fast_dev_run": True}, 105, 1)])
def test_auto_epochs_reach_min_steps(options, n_train, epochs):
    assert TrainerSettings(**options).plan(n_train)[0] == epochs


def test_bad_epochs_and_min_steps_are_one_line():
    with pytest.raises(UserError, match="trainer.epochs='many': must be an integer ≥ 1 or auto"):
        TrainerSettings(epochs="many")
    with pytest.raises(UserError, match="trainer.min_steps"):
        TrainerSettings(min_steps=-1)


def test_the_raised_epochs_are_logged(caplog):
    with caplog.at_level(logging.INFO, logger="mlrun"):
        parts = build.assemble(make_cfg("dataset=iris", "trainer.epochs=auto", shrink=False))
    assert parts.plan.epochs == 500
    assert "trainer.epochs=auto: 500 epochs (105 train rows in batches of 64 = 2 steps an epoch" in caplog.text


def test_still_improving_is_the_last_line(tmp_path, caplog):
    import json

    with caplog.at_level(logging.INFO, logger="mlrun"):
        train(make_cfg("model=linear", "dataset=diabetes", "model.solver=gradient", "optimizer=sgd",
                       "optimizer.lr=0.01", "trainer.epochs=3"), tmp_path)
    last = caplog.records[-1].getMessage()
    assert last.startswith("still improving: val_r2 was best at the last epoch (3 of 3)")
    assert "trainer.epochs=6" in last and f"resume={tmp_path}" in last
    assert json.loads((tmp_path / "summary.json").read_text())["still_improving"] is True


def test_an_exact_fit_is_never_still_improving(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="mlrun"):
        train(make_cfg("model=linear", "dataset=diabetes"), tmp_path)
    assert "still improving" not in caplog.text
