"""Fixtures of the infer tests: `binary_run`, the `$B` of the hardening tests (a run on a binary dataset=table)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from mlrun.fit.run import train
from tests.helpers import make_cfg


def binary_table(folder: Path, n: int = 200) -> tuple[Path, Path]:
    """(train.csv with columns a, b, y ∈ {no, yes}; new.csv: 20 rows of a, b)."""
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=n), rng.normal(size=n)
    pd.DataFrame({"a": a, "b": b, "y": np.where(a + b > 0, "yes", "no")}).to_csv(folder / "train.csv", index=False)
    pd.DataFrame({"a": a[:20], "b": b[:20]}).to_csv(folder / "new.csv", index=False)
    return folder / "train.csv", folder / "new.csv"


@pytest.fixture(scope="session")
def binary_run(tmp_path_factory):
    """$B: an MLP trained on a binary dataset=table (columns a, b, y); (run dir, new.csv, its best.pt payload)."""
    folder = tmp_path_factory.mktemp("b")
    train_csv, new_csv = binary_table(folder)
    train(make_cfg("dataset=table", f"dataset.path={train_csv}", "dataset.target=y", "model=mlp", "model.hidden=[4]",
                   "trainer.epochs=2"), folder / "run")
    return folder / "run", new_csv, torch.load(folder / "run" / "checkpoints" / "best.pt", weights_only=True)
