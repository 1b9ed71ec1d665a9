"""mlrun.runtime.outputs: console lines say only what was measured, in the fit's unit; files are written atomically."""

import json
import math

from mlrun.runtime.outputs import MetricsCSV, epoch_line, write_json


def test_epoch_line_leaves_out_what_was_not_measured():
    record = {"epoch": 3, "train_loss": 0.5, "val_loss": math.nan, "val_rmse": math.nan, "lr": 0.01,
              "epoch_seconds": 1.0, "samples_per_second": 1000.0}
    line = epoch_line(record, True, 30)
    assert line.startswith("epoch  3/30") and "val_" not in line and "nan" not in line and line.endswith("*")
    assert epoch_line({"epoch": 2, "train_loss": 1.0, "epoch_seconds": 1.0, "samples_per_second": 1.0}, False,
                      15, "sweep").startswith("sweep  2/15")
    assert epoch_line({"epoch": 4, "train_loss": 1.0, "epoch_seconds": 1.0, "samples_per_second": 1.0}, False,
                      None, "component").startswith("component 4  ")


def test_write_json_is_atomic_and_nan_is_null(tmp_path):
    write_json(tmp_path / "s.json", {"a": math.nan, "b": [1.5, math.inf]})
    assert json.loads((tmp_path / "s.json").read_text()) == {"a": None, "b": [1.5, None]}
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"]


def test_metrics_csv_header_from_the_first_record(tmp_path):
    csv = MetricsCSV(tmp_path / "m.csv")
    csv.append({"epoch": 1, "loss": 0.123456789})
    csv.append({"epoch": 2, "loss": 0.5, "extra": 1})
    assert (tmp_path / "m.csv").read_text().splitlines() == ["epoch,loss", "1,0.123457", "2,0.5"]
