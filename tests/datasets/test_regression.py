import pytest

from mlrun.datasets import regression
from mlrun.errors import UserError

SPLIT = {"train": 0.7, "val": 0.15, "test": 0.15}


def test_regression_generator():
    data = regression(SPLIT, n_samples=200, n_features=5, noise=0.5, seed=2)
    assert data.spec.task == "regression" and data.train.x.shape[1] == 5
    assert len(data.train) + len(data.val) + len(data.test) == 200


@pytest.mark.parametrize("kwargs, match", [
    ({"n_samples": 3}, "dataset.n_samples=3"),
    ({"n_features": 0}, "dataset.n_features=0"),
    ({"noise": -1.0}, "dataset.noise=-1.0"),
])
def test_bad_sizes(kwargs, match):
    with pytest.raises(UserError, match=match):
        regression(SPLIT, **kwargs)
