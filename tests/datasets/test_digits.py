import torch

from mlrun.datasets import digits

SPLIT = {"train": 0.7, "val": 0.15, "test": 0.15}


def test_digits_spec_and_splits():
    data = digits(SPLIT, seed=0)
    assert data.spec.task == "multiclass" and data.spec.n_outputs == 10 and data.spec.input_shape == (64,)
    assert data.spec.loss == "cross_entropy" and data.spec.metric == "acc"
    n = len(data.train) + len(data.val) + len(data.test)
    assert n == 1797
    assert data.train.x.dtype == torch.float32 and data.train.y.dtype == torch.int64
    assert torch.allclose(data.train.x.mean(0), torch.zeros(64), atol=1e-5)   # standardized from train
    assert set(data.test.y.tolist()) == set(range(10))                          # stratified: every class


def test_same_seed_same_split():
    a, b = digits(SPLIT, seed=5), digits(SPLIT, seed=5)
    assert torch.equal(a.test.x, b.test.x) and torch.equal(a.test.y, b.test.y)
