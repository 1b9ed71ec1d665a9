"""mlrun.metrics.scoring.evaluate: loss and metrics over a split in chunks equal scikit-learn's on the whole split."""

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, mean_absolute_error, mean_squared_error, r2_score

from mlrun.datasets.spec import Split
from mlrun.metrics.scoring import evaluate


def test_classification_in_chunks_matches_sklearn():
    torch.manual_seed(0)
    net = torch.nn.Linear(5, 3)
    split = Split(torch.randn(103, 5), torch.randint(0, 3, (103,)))
    got = evaluate(net, split, torch.nn.functional.cross_entropy, "multiclass", batch_size=10)
    logits = net(split.x).detach()
    assert got["acc"] == pytest.approx(accuracy_score(split.y, logits.argmax(1)))
    assert got["loss"] == pytest.approx(float(torch.nn.functional.cross_entropy(logits, split.y)), rel=1e-6)


def test_regression_matches_sklearn():
    torch.manual_seed(1)
    net = torch.nn.Linear(4, 1)
    split = Split(torch.randn(57, 4), torch.randn(57, 1))
    got = evaluate(net, split, torch.nn.functional.mse_loss, "regression", batch_size=8)
    pred = net(split.x).detach().numpy()
    y = split.y.numpy()
    assert got["r2"] == pytest.approx(r2_score(y, pred), rel=1e-5)
    assert got["mae"] == pytest.approx(mean_absolute_error(y, pred), rel=1e-5)
    assert got["rmse"] == pytest.approx(np.sqrt(mean_squared_error(y, pred)), rel=1e-5)
