import gzip
import json
import struct

import numpy as np
import pytest
import torch

from tests.helpers import make_cfg, mlrun_cli
from mlrun.datasets import idx
from mlrun.datasets.idx import read_idx, read_pair, write_idx
from mlrun.errors import UserError
from mlrun.fit.run import train


def make_images(n_per_class: int = 20, classes: int = 10, side: int = 12, seed: int = 0):
    """Learnable toy images: class k is a bright 3×3 patch at a class-specific place, plus noise."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(classes), n_per_class).astype(np.uint8)
    x = rng.integers(0, 40, (len(y), side, side)).astype(np.uint8)
    for i, k in enumerate(y):
        r, c = divmod(int(k), 4)
        x[i, 1 + 3 * r:4 + 3 * r, 1 + 3 * c:4 + 3 * c] = 250
    order = rng.permutation(len(y))
    return x[order], y[order]


def write_pair(root, prefix, x, y, gz=True):
    root.mkdir(parents=True, exist_ok=True)
    ext = ".gz" if gz else ""
    write_idx(root / f"{prefix}-images-idx3-ubyte{ext}", x)
    write_idx(root / f"{prefix}-labels-idx1-ubyte{ext}", y)


@pytest.mark.parametrize("gz", [True, False])
def test_round_trip_images_and_labels(tmp_path, gz):
    x, y = make_images()
    write_pair(tmp_path, "train", x, y, gz=gz)
    images = read_idx(tmp_path / f"train-images-idx3-ubyte{'.gz' if gz else ''}")
    labels = read_idx(tmp_path / f"train-labels-idx1-ubyte{'.gz' if gz else ''}")
    assert images.shape == (200, 12, 12) and images.dtype == np.uint8 and np.array_equal(images, x)
    assert labels.shape == (200,) and np.array_equal(labels, y)
    px, py = read_pair(tmp_path, "train")
    assert px.shape == (200, 1, 12, 12) and py.dtype == np.int64


def test_header_layout_is_lecuns(tmp_path):
    raw = bytes([0, 0, 0x08, 1]) + struct.pack(">I", 3) + bytes([7, 8, 9])   # written by hand
    (tmp_path / "l").write_bytes(raw)
    assert read_idx(tmp_path / "l").tolist() == [7, 8, 9]
    a = np.arange(6, dtype=">i4").reshape(2, 3)                               # big-endian int32
    (tmp_path / "i").write_bytes(bytes([0, 0, 0x0C, 2]) + struct.pack(">II", 2, 3) + a.tobytes())
    assert read_idx(tmp_path / "i").tolist() == [[0, 1, 2], [3, 4, 5]]


@pytest.mark.parametrize("dtype", [np.int16, np.float32, np.float64])
def test_other_types_round_trip(tmp_path, dtype):
    a = (np.arange(24) - 5).reshape(2, 3, 4).astype(dtype)
    assert np.array_equal(read_idx(write_idx(tmp_path / "a.gz", a)), a)


def _bad(tmp_path, name, raw):
    (tmp_path / name).write_bytes(raw)
    return tmp_path / name


@pytest.mark.parametrize("raw, match", [
    (b"\x00\x00\x08\x01\x00\x00\x00\x05\x01\x02", "truncated: dimensions 5 need 5 data bytes, found 2"),
    (b"\x00\x00\x08\x01\x00\x00\x00\x01\x01\x02", "trailing bytes"),
    (b"\x00\x00\x08\x03\x00\x00", "truncated IDX header"),
    (b"\x01\x02\x08\x01\x00\x00\x00\x01\x00", "not an IDX file: magic number 0x01020801"),
    (b"\x00\x00\x07\x01\x00\x00\x00\x01\x00", "magic number 0x00000701"),
    (b"", "magic number"),
])
def test_bad_files_fail_in_one_line_naming_the_file(tmp_path, raw, match):
    with pytest.raises(UserError, match=match) as e:
        read_idx(_bad(tmp_path, "bad-idx", raw))
    assert str(tmp_path / "bad-idx") in str(e.value) and "\n" not in str(e.value)


def test_truncated_gzip(tmp_path):
    x, _ = make_images()
    whole = gzip.compress(bytes([0, 0, 8, 3]) + struct.pack(">III", *x.shape) + x.tobytes())
    file = _bad(tmp_path, "t-images-idx3-ubyte.gz", whole[:len(whole) // 2])
    with pytest.raises(UserError, match="corrupt or truncated gzip") as e:
        read_idx(file)
    assert str(file) in str(e.value)


def test_count_mismatch_and_wrong_dims(tmp_path):
    x, y = make_images()
    write_pair(tmp_path, "train", x, y[:-1])
    with pytest.raises(UserError, match="200 images but train-labels-idx1-ubyte.gz has 199 labels"):
        read_pair(tmp_path, "train")
    write_pair(tmp_path, "flat", x.reshape(200, -1), y)
    with pytest.raises(UserError, match="flat-images-idx3-ubyte.gz: expected uint8 images of 3 dimensions"):
        read_pair(tmp_path, "flat")


def test_missing_files_name_them_and_suggest_the_carve(tmp_path):
    x, y = make_images()
    write_pair(tmp_path, "t10k", x, y)
    with pytest.raises(UserError, match=r"missing train-images-idx3-ubyte\[\.gz\], train-labels-idx1-ubyte\[\.gz\]"
                                        r".*dataset.train_prefix=t10k dataset.test_prefix=null"):
        idx(str(tmp_path))


def test_train_test_pair_with_stratified_validation(tmp_path):
    x, y = make_images()
    write_pair(tmp_path, "train", x, y)
    xt, yt = make_images(n_per_class=3, seed=1)
    write_pair(tmp_path, "t10k", xt, yt, gz=False)          # a raw pair beside a gzipped one
    data = idx(str(tmp_path), val_fraction=0.25, seed=0)
    assert (len(data.train), len(data.val), len(data.test)) == (150, 50, 30)
    assert torch.bincount(data.val.y, minlength=10).tolist() == [5] * 10      # stratified: 25% of each class
    assert data.train.x.dtype == torch.uint8 and data.train.x.shape[1:] == (1, 12, 12)
    assert data.spec.input_shape == (1, 12, 12) and data.spec.n_outputs == 10 and data.spec.task == "multiclass"
    pixels = data.train.x.double() / 255                     # mean/std null: measured on the train split
    assert data.preprocess.mean.item() == pytest.approx(pixels.mean().item(), rel=1e-6)
    assert data.preprocess.std.item() == pytest.approx(pixels.std(unbiased=False).item(), rel=1e-6)
    assert torch.equal(data.test.x[:, 0], torch.from_numpy(xt))            # the test pair, whole and in order


def test_carve_one_pair_and_limit_train(tmp_path):
    x, y = make_images()
    write_pair(tmp_path, "train", x, y)
    data = idx(str(tmp_path), test_prefix=None, split={"train": 0.6, "val": 0.2, "test": 0.2}, limit_train=50)
    assert (len(data.train), len(data.val), len(data.test)) == (50, 40, 40)
    assert torch.bincount(data.test.y, minlength=10).tolist() == [4] * 10
    again = idx(str(tmp_path), test_prefix=None, split={"train": 0.6, "val": 0.2, "test": 0.2}, limit_train=50)
    assert torch.equal(data.test.x, again.test.x)             # seeded
    with pytest.raises(UserError, match="dataset.limit_train=0"):
        idx(str(tmp_path), test_prefix=None, limit_train=0)
    with pytest.raises(UserError, match="dataset.mean=\\[0.1, 0.2\\]: must be null or 1 number"):
        idx(str(tmp_path), test_prefix=None, mean=[0.1, 0.2])


def test_cnn_learns_a_generated_idx_dataset_end_to_end(tmp_path):
    x, y = make_images(n_per_class=30)
    write_pair(tmp_path / "toy", "train", x, y)
    cfg = make_cfg("dataset=idx", f"dataset.root={tmp_path / 'toy'}", "dataset.test_prefix=null", "model=cnn",
                   "model.arch=custom", "model.channels=[8]", "model.head=[]", "trainer.epochs=3",
                   "trainer.batch_size=32", "optimizer.lr=0.01")
    train(cfg, tmp_path)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["test_acc"] >= 0.9 and summary["spec"]["input_shape"] == [1, 12, 12]
    assert summary["reference"] is None                        # no published numbers for an arbitrary IDX set


def test_cli_bad_file_is_one_line_exit_2(tmp_path):
    root = tmp_path / "data" / "idx"
    x, y = make_images()
    write_pair(root, "train", x, y)
    (root / "t10k-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03garbage")
    (root / "t10k-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x00")
    result = mlrun_cli("train", "dataset=idx", "device=cpu", cwd=tmp_path, env={"MLRUN_DATA_DIR": str(tmp_path / "data")})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "t10k-images-idx3-ubyte: truncated IDX header" in lines[0]
    assert not any((tmp_path / "outputs").rglob("summary.json"))


def _peak_bytes(fn):
    """Peak traced Python/numpy allocation while fn() runs (numpy reports its buffers to tracemalloc)."""
    import tracemalloc

    tracemalloc.start()
    try:
        fn()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def test_gzip_bomb_is_refused_before_inflating(tmp_path):
    header = bytes([0, 0, 8, 3]) + struct.pack(">III", 100_000, 1000, 1000)      # declares 100 GB of pixels
    file = _bad(tmp_path, "bomb-images-idx3-ubyte.gz", gzip.compress(header + bytes(10_000_000)))   # ~10 kB
    with pytest.raises(UserError, match=r"dimensions 100000×1000×1000 declare 100,000,000,000 data bytes, but a "
                                        r"[\d,]+-byte gzip file inflates to at most") as e:
        assert _peak_bytes(lambda: read_idx(file)) < 0             # never reached
    assert str(file) in str(e.value)
    assert _peak_bytes(lambda: pytest.raises(UserError, read_idx, file)) < 2_000_000   # nothing inflated


def test_inflating_stops_at_the_declared_size(tmp_path):
    header = bytes([0, 0, 8, 1]) + struct.pack(">I", 10)                        # declares 10 bytes ...
    file = _bad(tmp_path, "l-labels-idx1-ubyte.gz", gzip.compress(header + bytes(50_000_000)))   # ... holds 50 MB
    with pytest.raises(UserError, match="trailing bytes after the data: dimensions 10 need 10 data bytes"):
        read_idx(file)
    assert _peak_bytes(lambda: pytest.raises(UserError, read_idx, file)) < 4_000_000   # not the 50 MB


@pytest.mark.parametrize("gz", [True, False])
def test_dimensions_overflowing_64_bits_are_refused(tmp_path, gz):
    raw = bytes([0, 0, 0x0E, 3]) + struct.pack(">III", 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF) + bytes(16)
    file = _bad(tmp_path, "o-images-idx3-ubyte" + (".gz" if gz else ""), gzip.compress(raw) if gz else raw)
    with pytest.raises(UserError, match=r"dimensions 4294967295×4294967295×4294967295 overflow 64 bits") as e:
        read_idx(file)
    assert str(file) in str(e.value)


def test_declared_size_beyond_memory_is_refused(tmp_path, monkeypatch):
    import importlib

    idx_module = importlib.import_module("mlrun.datasets.idx")     # the package re-exports the function idx
    x, _ = make_images()
    file = write_idx(tmp_path / "m-images-idx3-ubyte", x)
    monkeypatch.setattr(idx_module, "memory_limit", lambda: 1000)
    with pytest.raises(UserError, match=r"m-images-idx3-ubyte: dimensions 200×12×12 declare 0.0 GB of data, more "
                                        r"than a quarter of this machine's memory"):
        read_idx(file)


def test_multi_member_gzip_zero_padding_and_trailing_garbage(tmp_path):
    a = np.arange(100, dtype=np.uint8)
    raw = bytes([0, 0, 8, 1]) + struct.pack(">I", 100) + a.tobytes()
    two = gzip.compress(raw[:30]) + gzip.compress(raw[30:])                       # as `cat a.gz b.gz` makes
    assert np.array_equal(read_idx(_bad(tmp_path, "two.gz", two)), a)
    assert np.array_equal(read_idx(_bad(tmp_path, "pad.gz", gzip.compress(raw) + bytes(512))), a)
    with pytest.raises(UserError, match="garbage.gz: corrupt gzip"):
        read_idx(_bad(tmp_path, "garbage.gz", gzip.compress(raw) + b"not gzip"))
