"""logger=mlflow: a run in a real local sqlite store with params, metrics per epoch and best.pt as artifact."""

from __future__ import annotations

import sys

import pytest

from mlrun.errors import UserError
from mlrun.fit.run import train

pytest.importorskip("mlflow", reason="extra [mlflow] not installed")


def test_records_a_run_in_sqlite(cfg, tmp_path):
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    best = train(cfg("dataset=iris", "model=logistic", "model.solver=gradient", "trainer.epochs=3", "logger=mlflow",
                     f"logger.tracking_uri={uri}", "logger.experiment=test"), run_dir)
    client = MlflowClient(tracking_uri=uri)
    (run,) = client.search_runs([client.get_experiment_by_name("test").experiment_id])
    assert run.info.status == "FINISHED"
    assert run.data.params["optimizer.lr"] == "0.001" and run.data.params["model._target_"] == "mlrun.models.Logistic"
    assert [m.step for m in client.get_metric_history(run.info.run_id, "train_loss")] == [1, 2, 3]
    assert run.data.metrics["best_val_acc"] == pytest.approx(best)
    assert run.data.tags["run_dir"] == str(run_dir.resolve())
    artifacts = [a.path for a in client.list_artifacts(run.info.run_id, "checkpoints")]
    assert artifacts == ["checkpoints/best.pt"]
    assert (tmp_path / "store" / "test-artifacts").is_dir()           # beside the store, not ./mlruns


def test_missing_package_is_one_line(cfg, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow.tracking", None)
    with pytest.raises(UserError, match=r"logger=mlflow: .* pip install 'mlrun-classic\[mlflow\]'"):
        train(cfg("dataset=iris", "model=logistic", "logger=mlflow"), tmp_path)


def test_a_run_that_raises_is_marked_failed(tmp_path):
    from mlflow.tracking import MlflowClient

    from mlrun.loggers import MLflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    logger = MLflow(tmp_path, tracking_uri=uri, experiment="test")
    run_id = logger.run_id
    del logger                                        # what happens when train() raises after start()
    assert MlflowClient(tracking_uri=uri).get_run(run_id).info.status == "FAILED"
