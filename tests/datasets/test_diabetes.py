from mlrun.datasets import diabetes


def test_diabetes_is_regression_with_column_targets():
    data = diabetes({"train": 0.8, "val": 0.0, "test": 0.2}, seed=0)
    assert data.spec.task == "regression" and data.spec.n_outputs == 1 and data.spec.metric == "r2"
    assert data.train.y.shape == (len(data.train), 1) and data.train.x.shape[1] == 10
    assert len(data.val) == 0 and len(data.train) + len(data.test) == 442
