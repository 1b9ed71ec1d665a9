import numpy as np
import pytest

from mlrun.datasets import fashion_mnist
from mlrun.datasets.idx import write_idx
from mlrun.errors import UserError


def test_classes_and_normalisation_from_the_config(tmp_path):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 40), ("t10k", 20)):
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)).astype(np.uint8))
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", np.arange(n, dtype=np.uint8) % 10)
    data = fashion_mnist(str(tmp_path), augment=True, flip=True)
    assert data.spec.name == "fashion_mnist" and data.spec.classes[0] == "T-shirt/top"
    assert data.spec.classes[9] == "Ankle boot" and data.spec.n_outputs == 10
    assert data.preprocess.mean.item() == pytest.approx(0.2860) and data.preprocess.flip


def test_missing_files_point_at_the_source(tmp_path):
    with pytest.raises(UserError, match="missing train-images.*zalandoresearch/fashion-mnist"):
        fashion_mnist(str(tmp_path))
