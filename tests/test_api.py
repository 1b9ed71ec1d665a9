"""The Python API: `mlrun.train` runs the command's path in-process and returns objects; errors are exceptions."""

from __future__ import annotations

import json
import sys

import pytest
import torch

import mlrun


def test_train_returns_the_run_and_load_predicts(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = mlrun.train(["dataset=iris", "model=logistic", "model.solver=gradient", "trainer.epochs=3", "device=cpu"])
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


@pytest.mark.parametrize("overrides", [None, 5, [1], ["seed=1", None], {"seed": 1}])
def test_overrides_of_the_wrong_type_are_a_user_error(overrides):
    with pytest.raises(mlrun.UserError, match=r"^mlrun.train: overrides must be a list of 'key=value' strings") as e:
        mlrun.train(overrides)
    assert e.value.code == 2


def test_errors_are_typed_and_the_process_is_left_as_it_was(tmp_path, monkeypatch):
    """No SystemExit, sys.argv untouched; Hydra's own refusals (a bad hydra/ group) are UserErrors too."""
    import sys

    from mlrun.errors import RunFailed, RunStopped

    monkeypatch.chdir(tmp_path)
    argv = list(sys.argv)
    with pytest.raises(mlrun.UserError, match=r"^hydra/launcher=nope: no such option; valid choices are basic"):
        mlrun.train(["hydra/launcher=nope"])
    with pytest.raises(mlrun.UserError, match="unbalanced|No closing quotation"):
        mlrun.train("name='x")
    assert sys.argv == argv
    assert (RunFailed.code, RunStopped("", 143).code, mlrun.UserError("x").code) == (1, 143, 2)


def test_two_threads_train_one_after_the_other(tmp_path, monkeypatch):
    """Hydra's state is process-wide: concurrent calls are serialized (a lock), and both runs complete."""
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.chdir(tmp_path)
    args = ["dataset=iris", "model=logistic", "trainer.epochs=1", "device=cpu"]
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda seed: mlrun.train([*args, f"seed={seed}"]), (1, 2)))
    assert len({r.run_dir for r in results}) == 2
    assert all(list(r.metrics["epoch"]) == [1] for r in results)


def test_quiet_train_prints_no_epoch_lines_or_bar_and_keeps_train_log(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)      # a terminal: the bar would run
    quiet = mlrun.train("dataset=iris model=logistic model.solver=gradient trainer.epochs=2 device=cpu", quiet=True)
    out, err = capsys.readouterr()
    assert "epoch 1/2" not in out and "done:" not in out and "step" not in err
    assert "epoch 1/2" in (quiet.run_dir / "train.log").read_text()
    mlrun.train("dataset=iris model=logistic model.solver=gradient trainer.epochs=2 device=cpu")
    assert "epoch 1/2" in capsys.readouterr().out                 # the default still shows them
    with pytest.raises(mlrun.UserError, match=r"quiet='yes': must be True or False"):
        mlrun.train("device=cpu", quiet="yes")
