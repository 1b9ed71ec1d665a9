"""The run cache: what names a run (config without NO_EFFECT keys, data, version), the index read as untrusted
input, a hit written as a `cached` run folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from mlrun.errors import UserError
from mlrun.fit import cache
from mlrun.fit.resume import RESUMABLE


def config(tmp_path: Path, **more):
    base = {"seed": 0, "output_root": str(tmp_path), "name": None, "data_root": "data", "cache": True,
            "optimizer": {"lr": 0.1}, "trainer": {"epochs": 5, "eval_batch_size": 4096, "workers": 2},
            "dataset": {"_target_": "mlrun.datasets.table", "path": str(tmp_path / "t.csv"), "scaling": "standardize"},
            "logger": {"_target_": "none"}}
    return OmegaConf.merge(OmegaConf.create(base), OmegaConf.create(more))


def finished(tmp_path: Path, cfg, name: str, best: float = 0.9, status: str = "ok") -> Path:
    run = tmp_path / "multirun" / name
    run.mkdir(parents=True)
    (run / "summary.json").write_text(json.dumps({"monitor": "val_acc", "best_val_acc": best, "status": status}))
    (run / "metrics.csv").write_text("epoch,val_acc\n1,0.9\n")
    cache.remember(cfg, run)
    return run


def test_the_key_ignores_what_cannot_change_results_and_follows_the_rest(tmp_path):
    (tmp_path / "t.csv").write_text("a,b\n1,2\n")
    key = cache.run_key(config(tmp_path))
    same = [config(tmp_path, trainer={"eval_batch_size": 64, "workers": 0}, name="x", cache=False,
                   output_root="/elsewhere", logger={"_target_": "tb"})]
    assert all(cache.run_key(c) == key for c in same)
    assert cache.run_key(config(tmp_path, optimizer={"lr": 0.2})) != key
    assert cache.run_key(config(tmp_path, trainer={"epochs": 6})) != key
    (tmp_path / "t.csv").write_text("a,b\n1,3\n")                      # the data changed: another key
    assert cache.run_key(config(tmp_path)) != key
    assert "trainer.eval_batch_size" in RESUMABLE and "trainer.epochs" in RESUMABLE     # one list, shared


def test_a_finished_run_is_reused_with_its_value_and_status_cached(tmp_path):
    (tmp_path / "t.csv").write_text("a,b\n1,2\n")
    cfg = config(tmp_path)
    source = finished(tmp_path, cfg, "0", best=0.93)
    finished(tmp_path, cfg, "pruned", status="pruned")                 # not a result: never indexed
    job = tmp_path / "multirun" / "again"
    job.mkdir()
    assert cache.reuse(cfg, job) == pytest.approx(0.93)
    summary = json.loads((job / "summary.json").read_text())
    assert summary["status"] == "cached" and summary["cached_from"] == str(source.resolve())
    assert (job / "metrics.csv").read_text() == (source / "metrics.csv").read_text()
    assert cache.reuse(config(tmp_path, cache=False), job) is None      # cache=false: train
    assert cache.reuse(config(tmp_path, optimizer={"lr": 0.2}), job) is None
    assert len(cache.read_index(tmp_path)) == 1


@pytest.mark.parametrize("line, says", [
    ("not json\n", "line 1: not JSON"),
    ('["a"]\n', "line 1: expected"),
    ('{"key": "' + "a" * 64 + '", "run": "../../etc"}\n', "is not a folder below the output root"),
    ('{"key": "' + "a" * 64 + '", "run": "/abs"}\n', "is not a folder below the output root"),
    (b"\xff\xfe\n", "not a readable UTF-8 index"),
])
def test_a_broken_index_is_one_line(tmp_path, line, says):
    path = tmp_path / cache.INDEX
    path.write_bytes(line if isinstance(line, bytes) else line.encode())
    with pytest.raises(UserError) as e:
        cache.check_index(tmp_path)
    assert says in str(e.value) and str(path) in str(e.value) and "cache=false" in str(e.value)


def test_a_line_being_written_is_not_an_error_and_a_removed_source_is_a_miss(tmp_path):
    (tmp_path / "t.csv").write_text("a,b\n1,2\n")
    cfg = config(tmp_path)
    source = finished(tmp_path, cfg, "0")
    with open(tmp_path / cache.INDEX, "a") as f:
        f.write('{"key": "ab')                                          # another job mid-append
    assert len(cache.read_index(tmp_path)) == 1
    (source / "summary.json").unlink()
    assert cache.lookup(cfg) is None


def test_a_sweep_over_a_broken_index_stops_before_it_starts(cli, tmp_path):
    (tmp_path / "outputs").mkdir()
    (tmp_path / "outputs" / cache.INDEX).write_text("garbage\n")
    out = cli("train", "-m", "dataset=iris", "trainer.epochs=1", "seed=0,1", cwd=tmp_path)
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    assert "run_cache.jsonl line 1: not JSON" in out.stderr and not (tmp_path / "outputs" / "multirun").exists()
