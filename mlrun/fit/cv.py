"""k-fold cross validation: `mlrun train ... trainer.cv_folds=K` runs `train()` once per fold.

    mlrun train model=mf optimizer=als dataset=movielens_100k trainer.cv_folds=5

Fold k trains into `<run dir>/fold_<k>/` (its own metrics.csv, summary.json, checkpoints) with dataset.folds=K and
dataset.fold=k: the dataset partitions its examples into K seeded parts (the same partition in every fold, so the
test parts cover every rating exactly once). `<run dir>/summary.json` then holds each fold's test and best-val
metrics and their mean and std (numpy's std, ddof=0, as Surprise reports it); `<run dir>/cv.csv` one row per fold.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from pathlib import Path
from typing import Callable

import numpy as np
from omegaconf import DictConfig, open_dict

from mlrun.fit.build import settings
from mlrun.errors import UserError
from mlrun.runtime.outputs import MetricsCSV, table, write_json

log = logging.getLogger("mlrun")


def cross_validate(cfg: DictConfig, run_dir: str | Path, train: Callable[[DictConfig, Path], float]) -> float:
    """Train every fold with `train` (mlrun.fit.run.train), write the per-fold rows and mean ± std; return the mean
    test value of the metric."""
    run_dir = Path(run_dir)
    folds = settings(cfg).cv_folds                               # validates trainer.* first
    if "folds" not in cfg.dataset:
        raise UserError(f"trainer.cv_folds={folds}: dataset={cfg.dataset._target_.rsplit('.', 1)[-1]} has no "
                        f"`folds` key; cross validation needs a dataset that partitions itself (the ratings "
                        f"datasets: movielens_100k, movielens_1m, ratings_csv, synthetic_ratings)")
    started, rows = time.perf_counter(), []
    for fold in range(folds):
        fold_cfg = copy.deepcopy(cfg)
        with open_dict(fold_cfg):
            fold_cfg.trainer.cv_folds = 1
            fold_cfg.dataset.folds, fold_cfg.dataset.fold = folds, fold
        log.info("---- fold %d/%d", fold + 1, folds)
        (run_dir / f"fold_{fold}").mkdir(parents=True, exist_ok=True)
        train(fold_cfg, run_dir / f"fold_{fold}")
        summary = json.loads((run_dir / f"fold_{fold}" / "summary.json").read_text())
        rows.append({"fold": fold, **{k: v for k, v in summary.items() if k.startswith(("test_", "best_val_"))},
                     "epochs_run": summary["epochs_run"], "seconds": summary["total_seconds"]})
    csv = MetricsCSV(run_dir / "cv.csv")
    for row in rows:
        csv.append(row)
    numeric = [k for k in rows[0] if k not in ("fold", "epochs_run") and isinstance(rows[0][k], (int, float))]
    stats = {}
    for key in numeric:
        values = np.array([np.nan if r[key] is None else r[key] for r in rows], dtype=float)
        stats[f"{key}_mean"], stats[f"{key}_std"] = float(np.mean(values)), float(np.std(values))
    metric = summary["monitor"].removeprefix("val_")
    first = json.loads((run_dir / "fold_0" / "summary.json").read_text())
    write_json(run_dir / "summary.json", {
        "cv_folds": folds, **stats, "folds": rows, "monitor": f"test_{metric}", "mode": summary["mode"],
        "total_seconds": time.perf_counter() - started, "dataset": first["dataset"], "model": first["model"],
        **{k: first[k] for k in ("device", "device_name", "torch_version", "mlrun_version", "git_commit", "threads",
                                                 "provenance")
           if k in first}})
    log.info("cross validation, %d folds: %s\n%s", folds, run_dir,
             table({k: v for k, v in stats.items() if k.startswith(("test_", "seconds"))}))
    return stats[f"test_{metric}_mean"]
