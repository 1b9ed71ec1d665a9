"""mlrun.infer.predict and `mlrun predict`: one prediction per input row, in order, equal to what eval scores."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from tests.helpers import make_cfg
from mlrun.errors import UserError
from mlrun.infer.predict import Predictor, predict_file
from mlrun.fit.run import train


def idx_run(tmp_path):
    """A CNN trained on a generated IDX pair (classes = a bright row); the test images written as one IDX file."""
    from mlrun.datasets.idx import write_idx

    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), 30).astype(np.uint8)
    x = (rng.random((120, 12, 12)) * 60).astype(np.uint8)
    x[np.arange(120), y * 3, :] = 255
    root = tmp_path / "idx"
    root.mkdir()
    write_idx(root / "train-images-idx3-ubyte.gz", x)
    write_idx(root / "train-labels-idx1-ubyte.gz", y)
    cfg = make_cfg("dataset=idx", f"dataset.root={root}", "dataset.test_prefix=null", "model=cnn",
                   "model.arch=custom", "model.channels=[4]", "model.head=[]", "trainer.epochs=3")
    train(cfg, tmp_path / "run")
    return tmp_path / "run", x, y


def test_images_from_an_idx_file_match_eval(tmp_path):
    from mlrun.datasets.idx import write_idx
    from mlrun.infer.saved import evaluate_checkpoint

    run, x, y = idx_run(tmp_path)
    p = Predictor.load(run)
    test = p.source.test                                   # the rebuilt test split, as uint8 images
    write_idx(tmp_path / "new-images.gz", test.x.numpy()[:, 0])
    n, where = predict_file(str(run), str(tmp_path / "new-images.gz"), str(tmp_path / "pred.csv"), proba=True)
    out = pd.read_csv(tmp_path / "pred.csv")
    assert n == len(test) == len(out) and list(out["row"]) == list(range(n))
    acc = float((out["prediction"].astype(str).to_numpy() == np.asarray(test.y).astype(str)).mean())
    assert acc == pytest.approx(evaluate_checkpoint(str(run))["test_acc"])
    probs = out[[f"p_{c}" for c in range(4)]].to_numpy()
    assert np.allclose(probs.sum(1), 1, atol=1e-5)


def test_ratings_pairs_with_raw_ids_and_cold_start(tmp_path):
    cfg = make_cfg("model=mf", "optimizer=als", "dataset=synthetic_ratings", "dataset.n_users=60",
                   "dataset.n_items=40", "trainer.epochs=3")
    train(cfg, tmp_path / "run")
    p = Predictor.load(tmp_path / "run")
    users, items = p.source.user_ids[:3], p.source.item_ids[:3]
    rows = pd.DataFrame({"user": [*users, "nobody"], "item": [*items, items[0]]})
    out = p.predict(rows)
    model = p.model
    expected = model(torch.tensor([[0, 0], [1, 1], [2, 2], [-1, 0]])).detach().numpy().ravel()
    assert np.allclose(out["prediction"].to_numpy(), expected, atol=1e-6)
    with pytest.raises(UserError, match="proba=true: dataset=synthetic_ratings is ratings"):
        p.predict(rows, proba=True)


def test_bad_inputs_are_one_line_and_write_nothing(tmp_path):
    train(make_cfg("dataset=iris", "model=logistic", "trainer.epochs=1"), tmp_path / "run")
    with pytest.raises(UserError, match="input='nope.csv': file not found"):
        predict_file(str(tmp_path / "run"), "nope.csv", str(tmp_path / "p.csv"))
    with pytest.raises(UserError, match=r"output='p.txt': valid choices are a .csv or .parquet file, or -"):
        predict_file(str(tmp_path / "run"), "x.csv", "p.txt")
    p = Predictor.load(tmp_path / "run")
    with pytest.raises(UserError, match=r"rows of 3 values; dataset=iris has 4 features per row"):
        p.predict(torch.zeros(2, 3))
    with pytest.raises(UserError, match="holds an infinite value"):
        p.predict(np.array([[1.0, np.inf, 0.0, 0.0]]))
    assert not (tmp_path / "p.csv").exists()


def test_raw_rows_of_a_built_in_table_get_the_training_scaling(tmp_path):
    """iris is standardized with train statistics: raw rows (the same split, scaling=none) predict exactly what the
    model gives on the scaled test split, as a DataFrame or an array."""
    train(make_cfg("dataset=iris", "model=logistic", "trainer.epochs=2"), tmp_path / "run")
    p = Predictor.load(tmp_path / "run")
    from mlrun.fit.build import assemble, dataset

    test = assemble(make_cfg("dataset=iris", "model=logistic", "trainer.epochs=2")).data.test
    raw = dataset(make_cfg("dataset=iris", "dataset.scaling=none")).test.x.double().numpy()
    out = p.predict(pd.DataFrame(raw), proba=True)
    assert out.equals(p.predict(raw, proba=True))
    with torch.no_grad():
        logits = p.model(test.x)
    assert list(out["prediction"]) == [p.spec.classes[i] for i in logits.argmax(1).tolist()]
    assert np.allclose(out[[f"p_{c}" for c in p.spec.classes]].to_numpy(), torch.softmax(logits, 1).numpy(),
                       atol=1e-6)


def test_table_round_trip_reproduces_eval_and_writes_parquet(tmp_path):
    """dataset=table with test_path: predicting the test file gives eval's test accuracy exactly; class names and
    probabilities come out per row; a missing column is one line and writes nothing."""
    from mlrun.infer.saved import evaluate_checkpoint

    rng = np.random.default_rng(0)

    def table(n):
        x1, x2 = rng.normal(size=n), rng.normal(size=n)
        colour = rng.choice(["red", "green", "blue"], size=n)
        label = np.where(x1 + (colour == "red") > 0.3, "yes", "no")
        return pd.DataFrame({"x1": x1, "x2": x2, "colour": colour, "label": label})

    table(300).to_csv(tmp_path / "train.csv", index=False)
    test = table(80)
    test.to_csv(tmp_path / "test.csv", index=False)
    cfg = make_cfg("dataset=table", f"dataset.path={tmp_path / 'train.csv'}",
                   f"dataset.test_path={tmp_path / 'test.csv'}", "dataset.target=label", "model=logistic",
                   "trainer.epochs=5")
    train(cfg, tmp_path / "run")
    n, _ = predict_file(str(tmp_path / "run"), str(tmp_path / "test.csv"), str(tmp_path / "p.parquet"), proba=True)
    out = pd.read_parquet(tmp_path / "p.parquet")
    assert n == 80 and list(out.columns) == ["row", "prediction", "p_no", "p_yes"]
    acc = float((out["prediction"].to_numpy() == test["label"].to_numpy()).mean())
    assert acc == pytest.approx(evaluate_checkpoint(str(tmp_path / "run"))["test_acc"], abs=1e-7)
    test.drop(columns=["label"]).to_csv(tmp_path / "unlabelled.csv", index=False)     # the target may be absent
    assert predict_file(str(tmp_path / "run"), str(tmp_path / "unlabelled.csv"), str(tmp_path / "q.csv"))[0] == 80
    test.drop(columns=["colour"]).to_csv(tmp_path / "broken.csv", index=False)
    with pytest.raises(UserError, match="missing column.*'colour'"):
        predict_file(str(tmp_path / "run"), str(tmp_path / "broken.csv"), str(tmp_path / "r.csv"))
    assert not (tmp_path / "r.csv").exists()


def test_the_command_writes_to_stdout_and_fails_in_one_line(tmp_path, cli):
    train(make_cfg("dataset=iris", "model=logistic", "trainer.epochs=1"), tmp_path / "run")
    from mlrun.fit.build import dataset

    raw = dataset(make_cfg("dataset=iris", "dataset.scaling=none")).test.x.numpy()
    pd.DataFrame(raw, columns=["a", "b", "c", "d"]).to_csv(tmp_path / "new.csv", index=False)
    r = cli("predict", f"checkpoint={tmp_path / 'run'}", "input=new.csv", "output=-", "proba=true", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert lines[0] == "row,prediction,p_setosa,p_versicolor,p_virginica" and len(lines) == len(raw) + 1
    r = cli("predict", f"checkpoint={tmp_path / 'run'}", cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.strip() == "mlrun predict: error: input= is required (mlrun predict --help)"
