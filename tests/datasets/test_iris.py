from mlrun.datasets import iris


def test_iris_stratified():
    data = iris({"train": 0.6, "val": 0.2, "test": 0.2}, seed=1)
    assert data.spec.n_outputs == 3 and data.spec.input_shape == (4,)
    assert data.test.y.bincount().tolist() == [10, 10, 10]
