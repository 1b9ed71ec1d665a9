"""experiments/defaults, the fast rows: `model=M dataset=D` with mlrun's defaults only is within 1 accuracy point
(0.01 R²) of scikit-learn's default peer, fitted in this test on the same split (experiments/defaults/matrix.py)."""

from __future__ import annotations

import importlib.util
import json

import pytest

from tests.helpers import ROOT, make_cfg
from mlrun.fit import build
from mlrun.fit.run import train

spec = importlib.util.spec_from_file_location("defaults_matrix", ROOT / "experiments" / "defaults" / "matrix.py")
matrix = importlib.util.module_from_spec(spec)
spec.loader.exec_module(matrix)

FAST = [("logistic", "iris"), ("logistic", "breast_cancer"), ("logistic", "wine"), ("linear", "diabetes")]


@pytest.mark.parametrize("model,dataset", FAST, ids=[f"{m}-{d}" for m, d in FAST])
def test_default_run_is_at_the_peer(model, dataset, tmp_path, one_thread):
    cfg = make_cfg(f"model={model}", f"dataset={dataset}", "device=cpu", shrink=False)   # defaults only
    train(cfg, tmp_path)
    summary = json.loads((tmp_path / "summary.json").read_text())
    data = build.dataset(cfg)
    peer = matrix.run_peer(model, data)
    ours = summary[f"test_{data.spec.metric}"]
    assert ours >= peer["peer_score"] - 0.01, (ours, peer)
