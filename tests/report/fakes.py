"""Synthetic run folders for the report tests: the files `mlrun train` leaves, written directly (no training)."""

from __future__ import annotations

import json
from pathlib import Path

LONG_REFS = [
    {"model": "LogisticRegression, trained on the first 90%, tested on the last 10% (0.933 accuracy)",
     "family": "logistic", "match": "family", "published_test_error": 6.7, "units": "percent",
     "source": "scikit-learn exercise Digits classification (examples/exercises/plot_digits_classification_exercise.py)"},
    {"model": "SVC (gamma=0.001), trained on the first half, tested on the second half (0.97 accuracy)",
     "family": "svm", "match": "family", "published_test_error": 3.0, "units": "percent",
     "source": "scikit-learn example Recognizing hand-written digits (examples/classification/plot_digits_classification.py)"},
]


def fake_run(run_dir: Path, overrides: dict, acc: float, reference: dict | None = None, epochs: int = 3) -> None:
    """A finished run folder as `mlrun train` leaves it (the files `mlrun report` reads)."""
    import yaml

    (run_dir / ".hydra").mkdir(parents=True)
    (run_dir / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump([f"{k}={v}" for k, v in overrides.items()]))
    (run_dir / ".hydra" / "hydra.yaml").write_text(yaml.safe_dump(
        {"hydra": {"runtime": {"choices": {"model": "mlp", "dataset": "digits", "optimizer": "adam"}}}}))
    rows = ["epoch,train_loss,val_loss,val_acc,epoch_seconds"]
    rows += [f"{e},{2 * (1 - acc) / e:.4f},{2.2 * (1 - acc) / e:.4f},{acc - 0.01 * (epochs - e):.4f},{0.4 + acc:.3f}"
             for e in range(1, epochs + 1)]
    (run_dir / "metrics.csv").write_text("\n".join(rows) + "\n")
    test_error = round(100 * (1 - acc), 4)
    ref = None if reference is None else {**reference, "test_error": test_error,
                                          "difference": round(test_error - reference["published_test_error"], 4)}
    (run_dir / "summary.json").write_text(json.dumps(
        {"test_acc": acc, "test_loss": 2 * (1 - acc), "best_epoch": epochs, "best_val_acc": acc, "monitor": "val_acc",
         "mode": "max", "epochs_run": epochs, "total_seconds": 3 * (0.4 + acc), "samples_per_second": 1e6 * acc,
         "device": "cpu", "reference": ref}))


def accuracy(job: int) -> float:
    return round(0.90 + 0.003 * ((7 * job) % 30), 4)       # distinct for the 30 jobs, not in job order
