import torch

from mlrun.datasets import breast_cancer


def test_breast_cancer_is_binary_with_one_output():
    data = breast_cancer({"train": 0.7, "val": 0.15, "test": 0.15}, seed=0)
    assert data.spec.task == "binary" and data.spec.n_outputs == 1 and data.spec.loss == "bce"
    assert data.train.y.dtype == torch.float32 and set(data.train.y.unique().tolist()) == {0.0, 1.0}
    assert data.spec.classes == ["malignant", "benign"]
