"""dataset=image_folder: a folder of generated PNGs read back pixel for pixel, split like the array path, the
cache, bad files, one-line errors (training on a folder and predicting one: tests/infer/test_predict_images.py)."""

from __future__ import annotations

import logging
import os
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from mlrun.datasets import image_folder
from mlrun.datasets._images import image_data
from mlrun.errors import UserError

CLASSES = ["cat", "dog", "owl"]


def make_images(n_per_class: int = 12, side: int = 10, seed: int = 0):
    """Learnable grey images: class k is a bright 3×3 patch at a class-specific place on noise; (N, side, side)."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(CLASSES)), n_per_class)
    x = rng.integers(0, 40, (len(y), side, side)).astype(np.uint8)
    for i, k in enumerate(y):
        x[i, 1 + 3 * k:4 + 3 * k, 1 + 3 * k:4 + 3 * k] = 250
    return x, y


def write_folder(root, x, y, ext: str = "png", mode: str = "L"):
    """One file per image under root/<class>/ (sorted names = the array order); returns root."""
    for i, (img, k) in enumerate(zip(x, y)):
        folder = root / CLASSES[k]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).convert(mode).save(folder / f"{i:04d}.{ext}")
    return root


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MLRUN_CACHE_DIR", str(tmp_path / "cache"))


def test_pixels_labels_and_split_equal_the_array_path(tmp_path):
    x, y = make_images()
    data = image_folder(str(write_folder(tmp_path / "pets", x, y)), split={"train": 0.5, "val": 0.25, "test": 0.25})
    same = image_data("image_folder", (x[:, None], y), None, split={"train": 0.5, "val": 0.25, "test": 0.25},
                      classes=CLASSES)
    assert data.spec.classes == CLASSES and data.spec.input_shape == (1, 10, 10) and data.train.x.dtype == torch.uint8
    for a, b in zip((data.train, data.val, data.test), (same.train, same.val, same.test)):
        assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)                 # PNG is lossless: same pixels, split
    assert [len(data.train), len(data.val), len(data.test)] == [18, 9, 9]
    assert torch.bincount(data.test.y).tolist() == [3, 3, 3]                   # stratified
    assert torch.allclose(data.preprocess.mean, same.preprocess.mean)


def test_train_test_roots_rgb_resize_and_grayscale(tmp_path):
    x, y = make_images()
    write_folder(tmp_path / "p" / "train", x, y, mode="RGB")
    write_folder(tmp_path / "p" / "test", x[::4], y[::4], ext="jpg", mode="RGB")
    data = image_folder(str(tmp_path / "p"), val_fraction=0.25)
    assert data.spec.input_shape == (3, 10, 10) and len(data.test) == 9 and len(data.val) == 9
    small = image_folder(str(tmp_path / "p"), size=[5, 6], grayscale=True)
    assert small.spec.input_shape == (1, 5, 6)
    ref = np.array(Image.fromarray(x[0]).convert("RGB").convert("L").resize((6, 5), Image.Resampling.BILINEAR))
    train_x = torch.cat([small.train.x, small.val.x])
    assert any(torch.equal(img[0], torch.from_numpy(ref)) for img in train_x)


def test_bad_files_are_named_in_one_warning_or_refused_with_strict(tmp_path, caplog):
    root = write_folder(tmp_path / "pets", *make_images())
    (root / "dog" / "notes.txt").write_text("not an image")
    (root / "owl" / "cut.png").write_bytes((root / "owl" / "0024.png").read_bytes()[:40])     # truncated
    (root / "cat" / ".DS_Store").write_bytes(b"\0\1")                                          # hidden: ignored
    with caplog.at_level(logging.WARNING, logger="mlrun"):
        data = image_folder(str(root))
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(lines) == 1 and "skipped 2 of 38 files" in lines[0]
    assert "dog/notes.txt (not a PNG/JPEG/BMP/WebP image)" in lines[0] and "owl/cut.png" in lines[0]
    assert len(data.train) + len(data.val) + len(data.test) == 36
    with pytest.raises(UserError, match=r"dataset.strict=true: 2 of the 38 files .* dog/notes.txt"):
        image_folder(str(root), strict=True)                                    # from the cache: same answer
    with pytest.raises(UserError, match=r"dataset.strict=true: 2 of the 38"):
        image_folder(str(root), strict=True, cache=False)


def test_cache_is_read_the_second_time_and_rebuilt_when_the_folder_changes(tmp_path, monkeypatch):
    root = write_folder(tmp_path / "pets", *make_images())
    first = image_folder(str(root))
    cached = list((tmp_path / "cache" / "image_folder").glob("*.pt"))
    assert len(cached) == 1 and not any(p.suffix == ".pt" for p in root.rglob("*"))   # never in the user's folder
    monkeypatch.setattr(sys.modules["mlrun.datasets.image_folder"], "decode_all", lambda *a: pytest.fail("decoded"))
    again = image_folder(str(root))
    assert torch.equal(first.train.x, again.train.x) and torch.equal(first.test.y, again.test.y)
    monkeypatch.undo()
    monkeypatch.setenv("MLRUN_CACHE_DIR", str(tmp_path / "cache"))
    os.utime(root / "cat" / "0000.png", ns=(1, 1))                              # touched: a new fingerprint
    image_folder(str(root))
    assert len(list((tmp_path / "cache" / "image_folder").glob("*.pt"))) == 2


@pytest.mark.parametrize("tamper, why", [
    (lambda e: e.__setitem__("x", e["x"].float()), "x must be uint8"),
    (lambda e: e.__setitem__("y", e["y"] + 5), "labels or parts out of range"),
    (lambda e: e.__setitem__("n_bad", 7), "do not add up"),
    (lambda e: e.__setitem__("classes", ["a", "b", "c"]), "class names differ"),
])
def test_a_tampered_cache_file_is_refused_and_decoded_again(tmp_path, caplog, tamper, why):
    root = write_folder(tmp_path / "pets", *make_images())
    first = image_folder(str(root))
    file = next((tmp_path / "cache" / "image_folder").glob("*.pt"))
    entry = torch.load(file, weights_only=True)
    tamper(entry)
    torch.save(entry, file)
    with caplog.at_level(logging.WARNING, logger="mlrun"):
        again = image_folder(str(root))
    assert any(why in r.getMessage() and "decoding the images again" in r.getMessage() for r in caplog.records)
    assert torch.equal(first.train.x, again.train.x)
    file.write_bytes(b"PK\3\4 junk")                                           # not a torch file at all
    assert torch.equal(image_folder(str(root)).train.x, first.train.x)


def test_one_line_errors(tmp_path, monkeypatch):
    x, y = make_images()
    root = write_folder(tmp_path / "pets", x, y)
    cases = [
        (dict(path=None), r"dataset.path=null: required"),
        (dict(path=str(tmp_path / "nope")), r"folder not found"),
        (dict(path=str(root / "cat" / "0000.png")), r"is a file; give the folder"),
        (dict(path=str(root / "cat")), r"holds no class folders but 12 loose file"),
        (dict(path=str(root), size=[0, 4]), r"dataset.size=\[0, 4\]: must be null .* or \[H, W\]"),
        (dict(path=str(root), grayscale="yes"), r"dataset.grayscale='yes': must be true or false"),
    ]
    for kwargs, pattern in cases:
        with pytest.raises(UserError, match=pattern):
            image_folder(**kwargs)
    (tmp_path / "one" / "cat").mkdir(parents=True)
    with pytest.raises(UserError, match=r"holds one class folder \('cat'\); a classifier needs ≥ 2"):
        image_folder(str(tmp_path / "one"))
    (root / "emu").mkdir()
    with pytest.raises(UserError, match=r"class folder\(s\) 'emu' hold no files"):
        image_folder(str(root))
    (root / "emu").rmdir()
    Image.fromarray(np.zeros((7, 9), np.uint8)).save(root / "dog" / "wide.png")
    with pytest.raises(UserError, match=r"differ in size \(cat/0000.png is 10×10, dog/wide.png 9×7 .*2 sizes in "
                                        r"all\); set dataset.size=\[H,W\]"):
        image_folder(str(root))
    monkeypatch.setattr("mlrun.runtime.memory.available_bytes", lambda: 1000)
    with pytest.raises(UserError, match=r"needs at least .* \(37 images × 1 channel\(s\) × 64×64 bytes\)"):
        image_folder(str(root), size=[64, 64], cache=False)


def test_a_val_folder_is_the_validation_split(tmp_path):
    x, y = make_images()
    for part, rows in (("train", slice(0, None, 2)), ("Val", slice(1, None, 4)), ("test", slice(3, None, 4))):
        write_folder(tmp_path / "p" / part, x[rows], y[rows])
    data = image_folder(str(tmp_path / "p"), val_fraction=0.5)            # val/ given: nothing carved from train
    assert (len(data.train), len(data.val), len(data.test)) == (len(y[::2]), len(y[1::4]), len(y[3::4]))
    assert sorted(data.val.y.tolist()) == sorted(y[1::4].tolist()) and data.spec.classes == ["cat", "dog", "owl"]


@pytest.mark.parametrize("folders, why", [(["train"], "without a test/ folder"),
                                          (["train", "val"], "without a test/ folder"),
                                          (["train", "test", "extra"], r"beside other folders \('extra'\)"),
                                          (["train", "val", "valid", "test"], "with two folders for one split")])
def test_a_split_layout_that_is_not_complete_is_refused_not_read_as_classes(tmp_path, folders, why):
    """Before: train/ + val/ was read as two classes named 'train' and 'val' (the model learnt the folder)."""
    x, y = make_images()
    for part in folders:
        write_folder(tmp_path / "p" / part, x, y)
    with pytest.raises(UserError, match=rf"holds .*train/ {why}; give train/ \+ test/ \(\+ val/\)"):
        image_folder(str(tmp_path / "p"))


def test_train_and_test_roots_must_share_classes(tmp_path):
    x, y = make_images()
    write_folder(tmp_path / "p" / "train", x[y < 2], y[y < 2])
    write_folder(tmp_path / "p" / "test", x, y)
    with pytest.raises(UserError, match=r"test/ has class folder\(s\) 'owl' that train/ lacks"):
        image_folder(str(tmp_path / "p"))
