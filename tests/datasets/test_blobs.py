from mlrun.datasets import blobs


def test_blobs_shapes():
    data = blobs({"train": 0.7, "val": 0.15, "test": 0.15}, n_samples=300, n_features=3, n_classes=4)
    assert data.spec.n_outputs == 4 and data.train.x.shape[1] == 3
    assert blobs({"train": 0.7, "val": 0.15, "test": 0.15}, n_classes=2).spec.task == "binary"
