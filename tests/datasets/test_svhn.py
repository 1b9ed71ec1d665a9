import numpy as np
import pytest
import torch

from mlrun.datasets import svhn
from mlrun.datasets.svhn import read_svhn_mat
from mlrun.errors import UserError

scipy_io = pytest.importorskip("scipy.io")


def write_mat(path, n, seed=0, labels=None):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (32, 32, 3, n)).astype(np.uint8)              # SVHN's layout: (H, W, C, N)
    y = (np.arange(n) % 10 + 1).reshape(n, 1) if labels is None else labels  # 1..10, 10 = digit 0
    scipy_io.savemat(path, {"X": x, "y": y})
    return x, y


def test_reader_transposes_and_maps_10_to_0(tmp_path):
    x, y = write_mat(tmp_path / "train_32x32.mat", 30)
    images, labels = read_svhn_mat(tmp_path / "train_32x32.mat")
    assert images.shape == (30, 3, 32, 32) and images.dtype == np.uint8
    assert np.array_equal(images[4, 2], x[:, :, 2, 4])                     # image 4, blue channel
    assert labels.tolist() == [(v % 10) for v in y.ravel().tolist()] and 10 not in labels


def test_dataset_splits_and_extra(tmp_path):
    write_mat(tmp_path / "train_32x32.mat", 100)
    write_mat(tmp_path / "test_32x32.mat", 20, seed=1)
    write_mat(tmp_path / "extra_32x32.mat", 50, seed=2)
    data = svhn(str(tmp_path), val_fraction=0.2)
    assert (len(data.train), len(data.val), len(data.test)) == (80, 20, 20)
    assert data.spec.input_shape == (3, 32, 32) and data.train.x.dtype == torch.uint8
    assert data.preprocess.mean.flatten().tolist() == pytest.approx([0.4377, 0.4438, 0.4728])
    more = svhn(str(tmp_path), val_fraction=0.2, extra=True)
    assert len(more.train) + len(more.val) == 150
    carved = svhn(str(tmp_path), test_file=None)
    assert (len(carved.train), len(carved.val), len(carved.test)) == (80, 10, 10)


def test_bad_files_fail_in_one_line(tmp_path):
    (tmp_path / "junk.mat").write_bytes(b"definitely not matlab")
    with pytest.raises(UserError, match="junk.mat: not a readable MATLAB file"):
        read_svhn_mat(tmp_path / "junk.mat")
    scipy_io.savemat(tmp_path / "mismatch.mat", {"X": np.zeros((32, 32, 3, 4), np.uint8), "y": np.ones((3, 1))})
    with pytest.raises(UserError, match="mismatch.mat: 4 images in X but 3 labels in y"):
        read_svhn_mat(tmp_path / "mismatch.mat")
    scipy_io.savemat(tmp_path / "nox.mat", {"images": np.zeros(3)})
    with pytest.raises(UserError, match="nox.mat: expected variables X and y"):
        read_svhn_mat(tmp_path / "nox.mat")
    with pytest.raises(UserError, match=r"missing train_32x32.mat, test_32x32.mat; .*ufldl.stanford.edu"):
        svhn(str(tmp_path / "none"))
