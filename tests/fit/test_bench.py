"""`mlrun bench`: one row per device × swept value, a CSV and a plot; CPU rows when CUDA is absent."""

import csv
import math

import torch

from mlrun.fit.bench import expand, time_to_target


def test_bench_on_cpu_writes_its_table(tmp_path, cli):
    out = tmp_path / "b"
    r = cli("bench", "experiment=smoke", "trainer.batch_size=64,512", "steps=3", "warmup=1", "epochs=1",
            f"out={out}", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(open(out / "bench.csv")))
    cpu = [row for row in rows if row["device"] == "cpu"]
    assert [row["batch_size"] for row in cpu] == ["64", "512"]
    assert all(float(row["samples_per_second"]) > 0 for row in rows)
    assert [float(row["speedup_vs_cpu"]) for row in cpu] == [1.0, 1.0]
    assert {"epoch_seconds", "time_to_target_s", "best_val"} <= set(rows[0])
    assert (out / "bench.png").is_file() and "samples/s" in r.stdout
    if not torch.cuda.is_available():
        assert len(rows) == 2 and "CUDA is unavailable" in r.stdout


def test_bench_cuda_missing_is_one_line(tmp_path, cli):
    if torch.cuda.is_available():
        return
    r = cli("bench", "devices=cuda", cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "devices=cuda" in r.stderr


def test_bench_bad_values_are_one_line(tmp_path, cli):
    for args in (["steps=x"], ["trainer.batch_size=0"], ["model=nope"]):
        r = cli("bench", *args, cwd=tmp_path)
        assert r.returncode == 2 and r.stderr.count("\n") == 1, (args, r.stderr)


def test_expand_is_the_cartesian_product():
    assert expand(["a=1,2", "model.hidden=[3,4]", "b=x,y"]) == [
        ["a=1", "model.hidden=[3,4]", "b=x"], ["a=1", "model.hidden=[3,4]", "b=y"],
        ["a=2", "model.hidden=[3,4]", "b=x"], ["a=2", "model.hidden=[3,4]", "b=y"]]


def test_time_to_target():
    records = [{"epoch_seconds": 1.0, "val_acc": 0.5}, {"epoch_seconds": 2.0, "val_acc": 0.92},
               {"epoch_seconds": 1.5, "val_acc": 0.95}]
    assert time_to_target(records, "acc", 0.9) == 3.0
    assert math.isnan(time_to_target(records, "acc", 0.99))
    assert time_to_target([{"epoch_seconds": 1.0, "val_rmse": 0.2}], "rmse", 0.3) == 1.0


def test_table_prints_only_what_was_measured():
    import math

    from mlrun.fit.bench import format_table

    row = {"device": "cpu", "overrides": "trainer.batch_size=64", "samples_per_second": 1000.0, "step_ms": 64.0,
           "epoch_seconds": 1.0, "time_to_target_s": math.nan, "best_val": 0.5, "metric": "acc",
           "speedup_vs_cpu": 1.0}
    text = format_table([row], 0.9)
    assert "nan" not in text and "not reached" in text and "target=0.9" in text and "× cpu" not in text
    both = format_table([row, {**row, "device": "cuda:0", "speedup_vs_cpu": 12.5, "time_to_target_s": 2.0}], 0.9)
    assert "× cpu" in both and "12.50" in both


def test_repeats_give_the_median_and_flag_a_wide_spread():
    from mlrun.fit.bench import format_table, spread

    steady = spread([1000.0, 1040.0, 980.0])
    assert steady["samples_per_second"] == 1000.0 and steady["spread_pct"] == 6.0 and steady["repeats"] == 3
    noisy = spread([1476.0, 53586.0, 40000.0])
    assert noisy["samples_per_second"] == 40000.0 and noisy["spread_pct"] > 100
    row = {"device": "cpu", "overrides": "trainer.batch_size=64", "step_ms": 64.0, "epoch_seconds": 1.0,
           "time_to_target_s": 1.0, "best_val": 0.5, "metric": "acc", "speedup_vs_cpu": 1.0}
    text = format_table([row | steady, row | noisy], 0.9)
    first, second = text.splitlines()[2:4]
    assert "±3% " in first and "!" not in first and "±65%!" in second
    assert "median of 3 repeats" in text and "do not trust that row" in text
