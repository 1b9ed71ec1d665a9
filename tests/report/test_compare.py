"""mlrun.report.compare: config keys that differ, metrics and deltas, curves, provenance lines, seed groups and
the runs whose files cannot be used."""

from __future__ import annotations

import json
import random

import pytest
import yaml

from mlrun.errors import UserError
from mlrun.report.compare import comparison, curves
from mlrun.report.compare_text import render
from tests.report.fakes import fake_run

PROV = {"python": "3.11.7", "torch": "2.3.0", "cuda": None, "cpu": "EPYC", "mlrun": "0.1.0",
        "packages": {"torch": "2.3.0", "numpy": "1.26.4"},
        "git": {"repo": "/nowhere", "commit": "a" * 40, "dirty": False, "changed": {}},
        "data": {"/data/train.csv": {"size": 10, "mtime": 1.0, "sha256": "1" * 64}}}


def run(path, acc, lr=0.01, seed=0, prov=None, **config):
    fake_run(path, {"optimizer.lr": lr, "seed": seed}, acc)
    tree = {"optimizer": {"lr": lr, "betas": [0.9, 0.999]}, "seed": seed, "trainer": {"epochs": 3, **config}}
    (path / ".hydra" / "config.yaml").write_text(yaml.safe_dump(tree))
    summary = json.loads((path / "summary.json").read_text())
    (path / "summary.json").write_text(json.dumps(summary | {"provenance": prov or PROV}))
    return path


def test_two_runs_keys_metrics_deltas_and_provenance(tmp_path):
    other = {**PROV, "packages": {"torch": "2.4.0", "numpy": "1.26.4"},
             "data": {"/data/train.csv": {"size": 10, "mtime": 2.0, "sha256": "2" * 64}},
             "git": {**PROV["git"], "changed": {"mlrun/a.py": "3" * 64, "mlrun/b.py": "4" * 64}, "dirty": True}}
    a = run(tmp_path / "a", 0.90, lr=0.01)
    b = run(tmp_path / "b", 0.93, lr=0.1, prov=other, batch_size=64)
    cmp = comparison([str(a), str(b)])
    assert cmp.keys == ["optimizer.lr", "trainer.batch_size"]           # nested, flattened; a missing key differs
    text = render(cmp)
    assert "test_acc" in text and "+0.03" in text
    lines = [line for line, _ in cmp.provenance]
    assert "different data: train.csv sha256 111111111111… vs 222222222222…" in lines
    assert "packages: torch 2.3.0 vs 2.4.0" in lines
    assert any(line.startswith("code: 2 files changed (uncommitted edits") for line in lines)
    charts = curves(cmp)
    assert sorted(charts) == ["curve_train_loss.svg", "curve_val_acc.svg", "curve_val_loss.svg"]
    assert all(c.startswith("<svg") and c.count("<polyline") == 2 for c in charts.values())


def test_two_groups_of_five_seeds_of_one_config_are_within_noise(tmp_path):
    draw = random.Random(7)
    for side in ("first", "second"):
        for seed in range(5):
            run(tmp_path / side / str(seed), round(draw.gauss(0.9, 0.01), 4), seed=seed + 10 * (side == "second"))
    for seed in range(5):
        run(tmp_path / "big_lr" / str(seed), round(draw.gauss(0.8, 0.01), 4), lr=0.1, seed=seed)
    cmp = comparison([str(tmp_path / "first"), str(tmp_path / "second"), str(tmp_path / "big_lr")])
    verdict = {row["group"].split()[1]: row["verdict"] for row in cmp.groups}   # "PATH 2 optimizer.lr=0.01"
    assert sorted(verdict.values())[1:] == ["significant", "within noise"] and verdict["3"] == "significant"
    assert "seed groups" in render(cmp)


@pytest.mark.parametrize("name, content", [
    ("summary.json", "{not json"), ("summary.json", "[1, 2]"), ("summary.json", "[" * 50_000 + "]" * 50_000),
    ("metrics.csv", "epoch,val_acc\n1,abc\n")])
def test_malformed_run_is_skipped_with_one_line(tmp_path, name, content):
    run(tmp_path / "s" / "0", 0.9)
    run(tmp_path / "s" / "1", 0.91)
    bad = run(tmp_path / "s" / "2", 0.92)
    (bad / name).write_text(content)
    cmp = comparison([str(tmp_path / "s")])
    assert len(cmp.runs) == 2 and len(cmp.skipped) == 1 and name in cmp.skipped[0] and "\n" not in cmp.skipped[0]


def test_huge_summary_and_missing_files(tmp_path):
    run(tmp_path / "s" / "0", 0.9)
    huge = run(tmp_path / "s" / "1", 0.91)
    with open(huge / "summary.json", "w") as f:
        f.truncate(5 << 20)                                  # sparse: refused from its size
    (tmp_path / "s" / "2").mkdir()
    (tmp_path / "s" / "2" / "error.txt").write_text("CUDA out of memory")   # a failed job: no summary, no config
    cmp = comparison([str(tmp_path / "s")])
    assert [r["dir"].name for r in cmp.runs] == ["0", "2"] and "bytes" in cmp.skipped[0]


def test_too_few_runs_and_empty_glob_are_one_line(tmp_path):
    run(tmp_path / "a", 0.9)
    with pytest.raises(UserError, match="one run can be read; compare needs two"):
        comparison([str(tmp_path / "a")])
    with pytest.raises(UserError, match="matches nothing"):
        comparison([str(tmp_path / "nothing*")])


@pytest.mark.slow                   # two real runs in this process: ~7 s on the shared 2-core machine
def test_real_runs_one_byte_of_data_changed_is_called_out(tmp_path, monkeypatch):
    """Two real runs on a table; one byte of the file changed between them: the fingerprints differ and compare
    says so (the provenance of mlrun.runtime.provenance, end to end)."""
    import mlrun

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLRUN_CACHE_DIR", str(tmp_path / "cache"))
    rows = "".join(f"{i % 7},{i % 5},{2 * (i % 7) - (i % 5)}\n" for i in range(60))
    (tmp_path / "train.csv").write_text("a,b,y\n" + rows)
    args = ["dataset=table", "dataset.path=train.csv", "dataset.target=y", "dataset.task=regression", "model=linear",
            "device=cpu"]
    first = mlrun.train(args).run_dir
    (tmp_path / "train.csv").write_text("a,b,y\n" + rows.replace("0,0,0", "0,0,1", 1))   # one byte
    second = mlrun.train(args).run_dir
    cmp = comparison([str(first), str(second)])
    (line,) = [line for line, _ in cmp.provenance if line.startswith("different data")]
    assert line.startswith("different data: train.csv sha256 ") and cmp.keys == []
