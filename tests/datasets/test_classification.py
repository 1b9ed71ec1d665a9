import pytest

from mlrun.datasets import classification
from mlrun.errors import UserError

SPLIT = {"train": 0.7, "val": 0.15, "test": 0.15}


def test_two_classes_are_binary_more_are_multiclass():
    assert classification(SPLIT, n_samples=200, n_classes=2).spec.task == "binary"
    multi = classification(SPLIT, n_samples=300, n_classes=3)
    assert multi.spec.task == "multiclass" and multi.spec.n_outputs == 3


def test_too_many_classes_for_informative_features():
    with pytest.raises(UserError, match="dataset.n_classes=9: must be ≤ 2\\*\\*n_informative = 8"):
        classification(SPLIT, n_informative=3, n_classes=9)
