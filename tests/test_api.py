"""The Python API: `mlrun.train` runs the command's path in-process and returns objects; errors are exceptions."""

from __future__ import annotations

import json

import pytest
import torch

import mlrun


def test_train_returns_the_run_and_load_predicts(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = mlrun.train(["dataset=iris", "model=logistic", "trainer.epochs=3", "device=cpu"])
    assert result.run_dir.parent.parent == tmp_path / "outputs" and (result.run_dir / ".hydra").is_dir()
    assert result.summary == json.loads((result.run_dir / "summary.json").read_text())
    assert list(result.metrics["epoch"]) == [1, 2, 3] and result.best_val == result.summary["best_val_acc"]
    model = mlrun.load(result.run_dir)
    out = model.predict(torch.zeros(5, 4), proba=True)
    assert len(out) == 5 and set(out["prediction"]) <= set(model.spec.classes)


def test_a_bad_value_raises_one_exception_and_leaves_no_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(mlrun.UserError, match=r"^trainer\.epochs=0: must be an integer ≥ 1$") as e:
        mlrun.train("trainer.epochs=0 device=cpu")                    # a string splits like a shell line
    assert e.value.code == 2
    assert not list((tmp_path / "outputs").glob("*/*")) if (tmp_path / "outputs").exists() else True
    with pytest.raises(mlrun.UserError, match="mlrun.train runs one job; -m belongs to the shell command"):
        mlrun.train(["-m", "seed=1,2"])
    with pytest.raises(mlrun.UserError, match="checkpoint='nowhere': file not found"):
        mlrun.load("nowhere")
