import numpy as np
import torch

from mlrun.metrics.tasks import task_metrics


def test_r2_rmse_mae_match_sklearn():
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    rng = np.random.default_rng(0)
    y = rng.normal(size=(50, 2)).astype(np.float32)
    p = (y + rng.normal(scale=0.5, size=y.shape)).astype(np.float32)
    m = task_metrics(torch.tensor(p), torch.tensor(y), "regression")
    assert np.isclose(m["r2"].item(), r2_score(y, p), atol=1e-5)
    assert np.isclose(m["rmse"].item(), np.sqrt(mean_squared_error(y, p)), atol=1e-5)
    assert np.isclose(m["mae"].item(), mean_absolute_error(y, p), atol=1e-5)


def test_accuracy():
    assert task_metrics(torch.tensor([[1.0], [-2.0], [0.3]]), torch.tensor([1.0, 1.0, 0.0]), "binary")["acc"] == 1 / 3
    out = torch.tensor([[0.1, 0.9], [0.8, 0.2]])
    assert task_metrics(out, torch.tensor([1, 1]), "multiclass")["acc"] == 0.5
