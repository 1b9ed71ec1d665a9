import hashlib
import json
import sys
import types

import numpy as np
import pytest
import torch

from tests.helpers import data_dir, make_cfg
from mlrun.datasets import mnist
from mlrun.datasets.idx import read_pair, write_idx
from mlrun.errors import UserError
from mlrun.fit.run import train

ROOT = data_dir() / "mnist" if data_dir() else None
HAVE_T10K = ROOT is not None and (ROOT / "t10k-images-idx3-ubyte.gz").is_file()
needs_t10k = pytest.mark.skipif(not HAVE_T10K, reason="no mnist/t10k-* under MLRUN_DATA_DIR or ../shared/data")
T10K_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]      # the official test split, per digit
CARVE = ["dataset=mnist", "dataset.train_prefix=t10k", "dataset.test_prefix=null"]


@needs_t10k
def test_official_test_split_shapes_pixels_and_label_counts():
    md5 = {f: hashlib.md5((ROOT / f).read_bytes()).hexdigest() for f in ("t10k-images-idx3-ubyte.gz",
                                                                      "t10k-labels-idx1-ubyte.gz")}
    assert md5 == {"t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
                   "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c"}
    x, y = read_pair(ROOT, "t10k")
    assert x.shape == (10000, 1, 28, 28) and x.dtype == np.uint8 and (x.min(), x.max()) == (0, 255)
    assert np.bincount(y).tolist() == T10K_COUNTS


@needs_t10k
def test_carved_8k_1k_1k_stratified_and_uint8():
    data = mnist(str(ROOT), train_prefix="t10k", test_prefix=None)
    sizes = (len(data.train), len(data.val), len(data.test))
    assert all(abs(n - want) <= 5 for n, want in zip(sizes, (8000, 1000, 1000))) and sum(sizes) <= 10000
    assert data.train.x.dtype == torch.uint8 and data.spec.input_shape == (1, 28, 28)
    counts = torch.bincount(data.test.y, minlength=10).double()
    assert torch.allclose(counts, torch.tensor(T10K_COUNTS).double() / 10, atol=1)   # 10% of every digit
    seen = torch.cat([data.train.x, data.val.x, data.test.x]).flatten(1)
    assert len(torch.unique(seen, dim=0)) >= 9990                                      # disjoint parts


@needs_t10k
def test_mlp_flattens_mnist_from_the_spec(tmp_path):
    train(make_cfg(*CARVE, "dataset.limit_train=500", "model=mlp", "trainer.epochs=1"), tmp_path)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["test_acc"] > 0.6 and summary["n_params"] == 784 * 128 + 128 + 128 * 10 + 10
    ref = summary["reference"]
    assert ref["match"] == "family" and ref["published_test_error"] in (4.7, 4.5, 3.05, 1.6)
    assert "carved" in ref["note"] and "limited to 500" in ref["note"]


@pytest.mark.slow
@needs_t10k
def test_cnn_reaches_97_percent_on_carved_t10k(tmp_path):
    cfg = make_cfg(*CARVE, "model=cnn", "model.arch=custom", "model.channels=[16,32]", "trainer.epochs=4",
                   "trainer.batch_size=64", "trainer.lr_schedule=cosine", "trainer.eval_batch_size=1000")
    train(cfg, tmp_path)
    assert json.loads((tmp_path / "summary.json").read_text())["test_acc"] >= 0.97


def test_missing_files_without_download_say_what_to_put_where(tmp_path):
    with pytest.raises(UserError, match=r"dataset.root='.*empty': missing train-images-idx3-ubyte\[\.gz\], "
                                        r"train-labels-idx1-ubyte\[\.gz\], t10k-images.*yann.lecun.com"):
        mnist(str(tmp_path / "empty"))


def test_download_without_torchvision_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torchvision", None)              # any import of it fails
    with pytest.raises(UserError, match="dataset.download=true needs torchvision, which does not import here .*"
                                        "missing train-images") as e:
        mnist(str(tmp_path / "m"), download=True)
    assert "\n" not in str(e.value)


def _fake_torchvision(monkeypatch, files: dict[str, bytes], corrupt: str | None = None):
    """A stand-in torchvision whose MNIST lists `files` (name → bytes) and whose download_url writes them."""
    def download_url(url, root, filename, md5):
        data = files[filename] if filename != corrupt else b"not the file"
        (__import__("pathlib").Path(root) / filename).write_bytes(data)

    class MNIST:
        mirrors = ["https://mirror.invalid/mnist/"]
        resources = [(name, hashlib.md5(data).hexdigest()) for name, data in files.items()]

    tv, datasets, utils = (types.ModuleType(n) for n in ("torchvision", "torchvision.datasets",
                                                        "torchvision.datasets.utils"))
    datasets.MNIST, datasets.utils, utils.download_url, tv.datasets = MNIST, utils, download_url, datasets
    for mod in (tv, datasets, utils):
        monkeypatch.setitem(sys.modules, mod.__name__, mod)


def _idx_files(tmp_path) -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(10, dtype=np.uint8), 5)
    out = {}
    for prefix in ("train", "t10k"):
        for kind, arr in (("images", rng.integers(0, 256, (50, 28, 28)).astype(np.uint8)), ("labels", y)):
            name = f"{prefix}-{kind}-idx{3 if kind == 'images' else 1}-ubyte.gz"
            out[name] = write_idx(tmp_path / name, arr).read_bytes()
    return out


def test_download_through_torchvision_checks_md5(tmp_path, monkeypatch):
    files = _idx_files(tmp_path / "src") if (tmp_path / "src").mkdir() is None else None
    _fake_torchvision(monkeypatch, files)
    data = mnist(str(tmp_path / "got"), download=True)
    assert (len(data.train) + len(data.val), len(data.test)) == (50, 50)
    assert sorted(p.name for p in (tmp_path / "got").iterdir()) == sorted(files)


def test_download_with_a_wrong_md5_deletes_the_file(tmp_path, monkeypatch):
    files = _idx_files(tmp_path / "src") if (tmp_path / "src").mkdir() is None else None
    _fake_torchvision(monkeypatch, files, corrupt="train-labels-idx1-ubyte.gz")
    with pytest.raises(UserError, match="train-labels-idx1-ubyte.gz has md5 .*, not the published"):
        mnist(str(tmp_path / "got"), download=True)
    assert not (tmp_path / "got" / "train-labels-idx1-ubyte.gz").exists()
