"""mlrun predict input=<folder or image file>: a CNN trained on a folder of generated PNGs predicts a folder of new
ones, one row per image with its path; unreadable files skipped (in a folder) or refused (alone)."""

from __future__ import annotations

import json
import os
from types import SimpleNamespace

import pandas as pd
import pytest

from mlrun.errors import UserError
from mlrun.fit.run import train
from mlrun.infer.predict import predict_file
from mlrun.infer.predict_images import wants
from tests.datasets.test_image_folder import make_images, write_folder
from tests.helpers import make_cfg


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MLRUN_CACHE_DIR", str(tmp_path / "cache"))


def test_images_in_only_for_image_models(tmp_path):
    (tmp_path / "a.png").write_bytes(b"")
    image, table = SimpleNamespace(input_shape=(3, 8, 8), task="multiclass"), SimpleNamespace(input_shape=(64,),
                                                                                              task="multiclass")
    assert wants(image, str(tmp_path)) and wants(image, str(tmp_path / "a.png")) and wants(image, "x.JPG")
    assert not wants(image, "new.idx3-ubyte") and not wants(table, str(tmp_path))


def test_cnn_trains_on_a_folder_and_predicts_a_folder_with_paths(tmp_path):
    x, y = make_images(n_per_class=20)
    root = write_folder(tmp_path / "pets", x, y)
    cfg = make_cfg("dataset=image_folder", f"dataset.path={root}", "model=cnn", "model.arch=custom",
                   "model.channels=[8]", "model.head=[]", "trainer.epochs=4", "trainer.batch_size=16",
                   "optimizer.lr=0.02")
    train(cfg, tmp_path / "run")
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["dataset"] == "image_folder" and summary["test_acc"] >= 0.9
    new = write_folder(tmp_path / "new", x[::7], y[::7])
    (new / "dog" / "readme.txt").write_text("x")
    n, where = predict_file(str(tmp_path / "run"), str(new), str(tmp_path / "p.csv"), proba=True)
    rows = pd.read_csv(where)
    assert n == len(x[::7]) and list(rows.columns) == ["row", "path", "prediction", "p_cat", "p_dog", "p_owl"]
    assert rows["path"].tolist() == sorted(str(p) for p in new.rglob("*.png"))
    truth = [p.split(os.sep)[-2] for p in rows["path"]]
    assert (rows["prediction"] == truth).mean() >= 0.9
    one, _ = predict_file(str(tmp_path / "run"), str(next((new / "owl").glob("*.png"))), str(tmp_path / "one.csv"))
    assert one == 1
    (tmp_path / "cut.png").write_bytes(b"\x89PNG\r\n\x1a\n")                  # a PNG signature, then nothing
    with pytest.raises(UserError, match=r"^input='.*cut.png': not a (readable )?PNG/JPEG/BMP/WebP image"):
        predict_file(str(tmp_path / "run"), str(tmp_path / "cut.png"), str(tmp_path / "two.csv"))
    assert not (tmp_path / "two.csv").exists()


def test_predict_repeats_no_training_warning_so_an_error_is_one_line(tmp_path, cli):
    """A tiny folder trains with an empty test split (a warning at training); predict rebuilds the dataset for its
    normalisation and used to print that warning again, so every predict error came out as two lines."""
    x, y = make_images(n_per_class=3)
    root = write_folder(tmp_path / "tiny", x, y)
    train(make_cfg("dataset=image_folder", f"dataset.path={root}", "model=cnn", "model.arch=custom",
                   "model.channels=[4]", "model.head=[]", "trainer.epochs=1"), tmp_path / "run")
    (tmp_path / "empty").mkdir()
    r = cli("predict", f"checkpoint={tmp_path / 'run'}", f"input={tmp_path / 'empty'}", cwd=tmp_path,
            env={"MLRUN_CACHE_DIR": str(tmp_path / "cache")})
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "holds no" in r.stderr, r.stderr
