"""mlrun.metrics.records: the one epoch record and early-stopping rule of the loop and every solver."""

import math

from mlrun.metrics.records import Monitor, epoch_record


def test_record_holds_what_was_measured_in_order():
    r = epoch_record(3, 0.5, {"loss": 0.4, "acc": 0.9}, "acc", 1.5, 100.0, lr=0.01, objective=7.0)
    assert list(r) == ["epoch", "train_loss", "val_loss", "val_acc", "lr", "epoch_seconds", "samples_per_second",
                       "objective"]
    assert "lr" not in epoch_record(1, 0.5, {}, "rmse", 1.0, 1.0)           # solvers without a learning rate
    assert math.isnan(epoch_record(1, 0.5, {}, "rmse", 1.0, 1.0)["val_rmse"])


def test_monitor_direction_patience_and_nan():
    m = Monitor("acc", patience=2)
    assert [m.update(v) for v in (0.5, 0.6, 0.6, float("nan"))] == [True, True, False, False]
    assert m.best == 0.6 and m.done
    low = Monitor("rmse")
    assert [low.update(v) for v in (1.0, 0.9, 0.95)] == [True, True, False] and not low.done   # patience 0
    empty = Monitor("acc")
    assert empty.update(float("nan"), has_val=False) and empty.since_best == 0


def test_monitor_breaks_ties_on_val_loss():
    m = Monitor("acc", patience=2)
    # same accuracy, lower loss → improved; same accuracy, higher loss or no loss → not improved
    assert [m.update(0.9, loss=l) for l in (0.5, 0.4, 0.45)] == [True, True, False]
    assert m.best_loss == 0.4 and m.since_best == 1
    assert not m.update(0.9) and m.done                           # no loss given: a tie never improves
    assert Monitor("acc", best=0.9, best_loss=None).update(0.9, loss=0.1) is False   # resumed from an old checkpoint
    assert m.update(0.95, loss=0.9) and m.best_loss == 0.9        # a better metric wins whatever its loss
