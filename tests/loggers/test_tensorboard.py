"""logger=tensorboard: event files with the per-epoch scalars and the run's config as hparams."""

from __future__ import annotations

import sys

import pytest

from mlrun.errors import UserError
from mlrun.fit.run import train

pytest.importorskip("tensorboard", reason="extra [tensorboard] not installed")


def test_writes_scalars_per_epoch_and_hparams(cfg, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    train(cfg("dataset=iris", "model=logistic", "model.solver=gradient", "trainer.epochs=3", "logger=tensorboard"), tmp_path)
    log_dir = tmp_path / "tensorboard"
    assert list(log_dir.glob("events.out.tfevents.*"))
    events = EventAccumulator(str(log_dir))
    events.Reload()
    loss = events.Scalars("train_loss")
    assert [e.step for e in loss] == [1, 2, 3]
    import csv

    with open(tmp_path / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [e.value for e in loss] == pytest.approx([float(r["train_loss"]) for r in rows], rel=1e-5)
    assert {"val_acc", "val_loss", "lr", "hparam/test_acc", "hparam/best_val_acc"} <= set(events.Tags()["scalars"])
    hparams = events.PluginTagToContent("hparams")          # the config as hparams (session start info)
    assert hparams and b"optimizer.lr" in b"".join(hparams.values())


def test_missing_package_is_one_line(cfg, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)        # import → ImportError
    with pytest.raises(UserError, match=r"logger=tensorboard: the tensorboard package is not installed; "
                                        r"pip install 'mlrun-classic\[tensorboard\]'"):
        train(cfg("dataset=iris", "model=logistic", "logger=tensorboard"), tmp_path)
