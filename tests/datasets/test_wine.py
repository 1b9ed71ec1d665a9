import numpy as np
import pytest

from mlrun.datasets import wine


def test_wine_stratified_and_scaled():
    data = wine({"train": 0.6, "val": 0.2, "test": 0.2}, seed=1)
    assert data.spec.task == "multiclass" and data.spec.n_outputs == 3 and data.spec.input_shape == (13,)
    assert len(data.train) + len(data.val) + len(data.test) == 178
    counts = data.test.y.bincount().tolist()
    assert sum(counts) == len(data.test) and min(counts) >= 9      # 59 / 71 / 48 rows, 20% each
    assert np.allclose(data.train.x.mean(0).numpy(), 0, atol=1e-5)


def test_wine_matches_sklearn_rows():
    sklearn = pytest.importorskip("sklearn.datasets")
    bunch = sklearn.load_wine()
    data = wine({"train": 0.7, "val": 0.15, "test": 0.15}, scaling="none", seed=0)
    rows = np.concatenate([s.x.numpy() for s in (data.train, data.val, data.test)])
    assert np.allclose(np.sort(rows[:, 0]), np.sort(bunch.data[:, 0]), atol=1e-4)
