"""`logger=mlflow`: params, per-epoch metrics, summary metrics and the best checkpoint in an MLflow store.

    mlrun train logger=mlflow                                   # store: outputs/mlflow.db, artifacts beside it
    mlflow ui --backend-store-uri sqlite:///outputs/mlflow.db   # browse (needs the full `mlflow` package)

Uses MlflowClient (no global active run), so jobs of a sweep in one process never step on each other.
"""

from __future__ import annotations

import weakref
from pathlib import Path

from mlrun.loggers.base import Logger, missing, scalars


class MLflow(Logger):
    def __init__(self, run_dir: Path, tracking_uri: str = "sqlite:///outputs/mlflow.db", experiment: str = "mlrun",
                 run_name: str | None = None, artifacts: bool = True):
        try:
            from mlflow.tracking import MlflowClient
        except ImportError:
            raise missing("mlflow", "mlflow") from None
        run_dir = Path(run_dir)
        uri, store = _local(tracking_uri)
        self.client = MlflowClient(tracking_uri=uri)
        exp = self.client.get_experiment_by_name(experiment)
        if exp is not None:
            exp_id = exp.experiment_id
        else:        # artifacts next to a local store, not in ./mlruns of whatever folder the run started in
            location = (store / f"{experiment}-artifacts").as_uri() if store else None
            try:
                exp_id = self.client.create_experiment(experiment, artifact_location=location)
            except Exception:  # noqa: BLE001 - a parallel job created it first
                exp_id = self.client.get_experiment_by_name(experiment).experiment_id
        name = run_name or "/".join(run_dir.resolve().parts[-2:])
        run = self.client.create_run(exp_id, run_name=name, tags={"run_dir": str(run_dir.resolve())})
        self.run_id = run.info.run_id
        self.artifacts = artifacts
        # a run whose training raised is never closed: mark it FAILED when this logger is dropped (or at exit)
        self._failed = weakref.finalize(self, self.client.set_terminated, self.run_id, "FAILED")

    def log_params(self, params: dict) -> None:
        from mlflow.entities import Param

        keep = [Param(k, str(v)[:500]) for k, v in params.items() if not k.startswith("hydra.")]
        for i in range(0, len(keep), 100):                       # MLflow takes at most 100 params per batch
            self.client.log_batch(self.run_id, params=keep[i:i + 100])

    def log_epoch(self, record: dict) -> None:
        import time

        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self.client.log_batch(self.run_id, metrics=[Metric(_name(k), v, now, int(record["epoch"]))
                                                   for k, v in scalars(record).items()])

    def log_summary(self, summary: dict) -> None:
        import time

        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self.client.log_batch(self.run_id, metrics=[Metric(_name(k), v, now, 0)
                                                   for k, v in scalars(summary).items()])

    def log_artifact(self, path: Path) -> None:
        if self.artifacts and Path(path).is_file():
            self.client.log_artifact(self.run_id, str(path), artifact_path=Path(path).parent.name)

    def close(self, failed: bool = False) -> None:
        self._failed.detach()
        self.client.set_terminated(self.run_id, status="FAILED" if failed else "FINISHED")


def _name(key: str) -> str:
    """A metric name MLflow accepts: ranking metrics `ndcg@10` become `ndcg_at_10` (no '@' in its names)."""
    return key.replace("@", "_at_")


def _local(uri: str) -> tuple[str, Path | None]:
    """A sqlite URL or plain folder made absolute (its folder created); the store's folder, or None if remote."""
    if uri.startswith("sqlite:///"):
        path = Path(uri[len("sqlite:///"):]).resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{path}", path.parent
    if "://" not in uri or uri.startswith("file:"):
        path = Path(uri.removeprefix("file://").removeprefix("file:")).resolve()
        path.mkdir(parents=True, exist_ok=True)
        return path.as_uri(), path
    return uri, None
