"""mlrun.infer.predict and `mlrun predict`: one prediction per input row, in order, equal to what eval scores."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

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


def test_built_in_table_columns_go_by_name_and_a_headerless_file_keeps_its_first_row(tmp_path, caplog):
    """iris rows in a file: the feature names in any order (the target column beside them) predict as the ordered
    array; a file without a header line keeps its first row (it became column names before: one row short); some
    names only → one line; other names → by position, said in a warning."""
    train(make_cfg("dataset=iris", "model=logistic", "trainer.epochs=1"), tmp_path / "run")
    p = Predictor.load(tmp_path / "run")
    from mlrun.fit.build import dataset

    raw = dataset(make_cfg("dataset=iris", "dataset.scaling=none")).test.x.double().numpy()
    expected = p.predict(raw, proba=True)
    named = pd.DataFrame(raw, columns=list(p.spec.features))
    shuffled = named[list(reversed(p.spec.features))].assign(target="setosa")
    assert p.predict(shuffled, proba=True).equals(expected)
    pd.DataFrame(raw).to_csv(tmp_path / "bare.csv", index=False, header=False)
    n, _ = predict_file(str(tmp_path / "run"), str(tmp_path / "bare.csv"), str(tmp_path / "bare_out.csv"), proba=True)
    assert n == len(raw)
    assert np.allclose(pd.read_csv(tmp_path / "bare_out.csv").iloc[:, 2:].to_numpy(), expected.iloc[:, 2:].to_numpy(),
                       atol=1e-6)
    shuffled.to_csv(tmp_path / "shuffled.csv", index=False)
    predict_file(str(tmp_path / "run"), str(tmp_path / "shuffled.csv"), str(tmp_path / "shuffled_out.csv"))
    assert (pd.read_csv(tmp_path / "shuffled_out.csv")["prediction"] == expected["prediction"]).all()
    with pytest.raises(UserError, match=r"^rows: missing column\(s\) 'petal width \(cm\)' of dataset=iris"):
        p.predict(named.iloc[:, :3].assign(extra=1.0))
    with caplog.at_level("WARNING", logger="mlrun"):
        out = p.predict(named.set_axis(["a", "b", "c", "d"], axis=1))
    assert out.equals(p.predict(raw)) and "no column is named as dataset=iris's features" in caplog.text


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
    r = cli("predict", f"checkpoint={tmp_path / 'run'}", "input=new.csv", "output=-", "proba=true", "keep=[b,a]",
            cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert lines[0] == "row,b,a,prediction,p_setosa,p_versicolor,p_virginica" and len(lines) == len(raw) + 1
    assert [float(v) for v in lines[1].split(",")[1:3]] == pytest.approx([raw[0, 1], raw[0, 0]])
    r = cli("predict", f"checkpoint={tmp_path / 'run'}", cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.strip() == "mlrun predict: error: input= is required (mlrun predict --help)"


# ---- never overwrite what is not yours; what the output holds

def _same_file_outputs(tmp_path, new_csv):
    """Other names of the input file: (output=, cwd)."""
    (tmp_path / "link.csv").symlink_to(new_csv)
    os.link(new_csv, tmp_path / "hard.csv")
    (tmp_path / "sub").mkdir()
    return {"same": str(new_csv), "relative": "new.csv", "dotted": "sub/../new.csv", "symlink": "link.csv",
            "hard link": "hard.csv"}


@pytest.mark.parametrize("how", ["same", "relative", "dotted", "symlink", "hard link"])
def test_an_output_that_is_the_input_is_refused(binary_run, tmp_path, monkeypatch, how):
    """D2: `output=new.csv input=new.csv` replaced the rows by their predictions; any name of the input is refused."""
    run, source, _ = binary_run
    new_csv = tmp_path / "new.csv"
    shutil.copy(source, new_csv)
    output = _same_file_outputs(tmp_path, new_csv)[how]
    monkeypatch.chdir(tmp_path)
    before = new_csv.read_bytes()
    with pytest.raises(UserError, match=f"output={output!r}: is the input file") as e:
        predict_file(str(run), str(new_csv), output)
    assert "\n" not in str(e.value) and new_csv.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hard.csv", "link.csv", "new.csv", "sub"]


def test_the_command_refuses_output_equal_to_input(binary_run, tmp_path, cli):
    run, source, _ = binary_run
    shutil.copy(source, tmp_path / "new.csv")
    before = (tmp_path / "new.csv").read_bytes()
    r = cli("predict", f"checkpoint={run}", "input=new.csv", "output=new.csv", cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.strip() == ("mlrun predict: error: output='new.csv': is the input file "
                                                      "'new.csv'; predictions would replace the rows they come from; "
                                                      "write them to another file")
    assert (tmp_path / "new.csv").read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["new.csv"]


def test_an_existing_file_or_a_runs_own_file_is_never_replaced_silently(binary_run, tmp_path):
    """A probe replaced data/train.csv and a run's metrics.csv with predictions (exit 0): an existing file needs
    overwrite=true, and a run folder's own files (outside predictions/ and export/) are refused even then."""
    run, source, _ = binary_run
    theirs = tmp_path / "train.csv"
    theirs.write_text("a,b\n1,2\n")
    with pytest.raises(UserError, match="the file exists; pass overwrite=true"):
        predict_file(str(run), str(source), str(theirs))
    assert theirs.read_text() == "a,b\n1,2\n"
    predict_file(str(run), str(source), str(theirs), overwrite=True)
    assert theirs.read_text().startswith("row,prediction")
    metrics = run / "metrics.csv"
    before = metrics.read_bytes()
    for output in (metrics, run / "checkpoints" / "best.csv"):
        with pytest.raises(UserError, match="is inside the run folder .*a run's own files are not outputs"):
            predict_file(str(run), str(source), str(output), overwrite=True)
    assert metrics.read_bytes() == before and not (run / "checkpoints" / "best.csv").exists()
    predict_file(str(run), str(source), str(run / "notes.csv"))   # a new file beside the run's files: allowed
    with pytest.raises(UserError, match="is inside the run folder"):
        predict_file(str(run), str(source), str(run / "notes.csv"), overwrite=True)   # ... but never replaced
    first = predict_file(str(run), str(source))[1]                 # <run>/predictions/<name>.csv, then replaced
    assert predict_file(str(run), str(source))[1] == first


@pytest.mark.parametrize("value, written", [
    ("@SUM(1+1)", "'@SUM(1+1)"), ('=HYPERLINK("http://x.example","y")', '\'=HYPERLINK("http://x.example","y")'),
    ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"), ("-2+3", "'-2+3"), ("\tx", "'\tx"), ("\rx", "'\rx"),
    ("-1", "-1"), ("+2.5", "+2.5"), ("-1e3", "-1e3"), ("yes", "yes"), ("a=b", "a=b"), (-1.5, -1.5), (None, None),
])
def test_spreadsheet_safe(value, written):
    from mlrun.runtime.outputs import spreadsheet_safe

    assert spreadsheet_safe(value) == written


def test_class_names_that_are_formulas_are_escaped_in_csv(tmp_path):
    """D16: a training target whose classes read as spreadsheet formulas: CSV cells get a leading ', Parquet keeps the
    names; the column names (p_<class>) start with p_ and stay."""
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=240), rng.normal(size=240)
    names = np.array(["@SUM(1+1)", '=HYPERLINK("http://x.example","y")', "+1+2", "-1"])
    pd.DataFrame({"a": a, "b": b, "y": names[(a > 0) * 2 + (b > 0)]}).to_csv(tmp_path / "t.csv", index=False)
    train(make_cfg("dataset=table", f"dataset.path={tmp_path / 't.csv'}", "dataset.target=y", "model=logistic",
                   "trainer.epochs=30", "optimizer.lr=0.1"), tmp_path / "run")
    pd.DataFrame({"a": [1, 1, -1, -1], "b": [1, -1, 1, -1]}).to_csv(tmp_path / "new.csv", index=False)
    predict_file(str(tmp_path / "run"), str(tmp_path / "new.csv"), str(tmp_path / "p.csv"), proba=True)
    predict_file(str(tmp_path / "run"), str(tmp_path / "new.csv"), str(tmp_path / "p.parquet"))
    text = pd.read_csv(tmp_path / "p.csv", dtype=str, keep_default_na=False)
    assert list(text["prediction"]) == ["-1", "'+1+2", '\'=HYPERLINK("http://x.example","y")', "'@SUM(1+1)"]
    assert sorted(c for c in text.columns if c.startswith("p_")) == sorted(f"p_{n}" for n in names)
    assert list(pd.read_parquet(tmp_path / "p.parquet")["prediction"]) == ["-1", "+1+2", names[1], "@SUM(1+1)"]


def test_a_stale_temporary_of_a_dead_process_is_removed(binary_run, tmp_path):
    """D23: kill -9 during a predict left `.pk.csv.tmp<pid>`; the next write to pk.csv removes it (the temporary of
    a live process and other files stay)."""
    run, new_csv, _ = binary_run
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        for name in (f".pk.csv.tmp{dead.pid}", f".pk.csv.tmp{live.pid}", f".other.csv.tmp{dead.pid}",
                     ".pk.csv.tmp99999999999"):
            (tmp_path / name).write_text("half a file")
        predict_file(str(run), str(new_csv), str(tmp_path / "pk.csv"))
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
            ["pk.csv", f".pk.csv.tmp{live.pid}", f".other.csv.tmp{dead.pid}"])
        assert len(pd.read_csv(tmp_path / "pk.csv")) == 20
    finally:
        live.kill()
        live.wait()


def test_sigterm_during_predict_names_predict_and_writes_nothing(binary_run, tmp_path):
    """D24: a SIGTERM while predicting (here: as the input is read) ends `mlrun predict` with exit 143 and one line
    about predict, not 'before training started'; no output and no temporary are left."""
    run, new_csv, _ = binary_run
    script = (
        "import os, signal, sys\n"
        "import mlrun.infer.predict as p\n"
        "from mlrun import cli\n"
        "real = p.read_rows\n"
        "def stopping(*args):\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    return real(*args)\n"
        "p.read_rows = stopping\n"
        f"sys.argv = ['mlrun', 'predict', 'checkpoint={run}', 'input={new_csv}', 'output=out.csv']\n"
        "cli.entry()\n")
    r = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                       env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    assert (r.returncode, r.stderr) == (143, "mlrun predict: error: stopped by SIGTERM during mlrun predict\n")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("rows, message", [
    ("abc", r"^rows: expected rows of numbers .* not str 'abc'$"),
    ({"a": 1}, r"^rows: expected rows of numbers .* not dict"),
    (None, r"^rows: expected rows of numbers .* not NoneType"),
    ([["x"] * 4], r"^rows: every value must be a number"),
    ([[1.0, 2.0]], r"^rows: rows of 2 values; dataset=iris has 4 features per row$"),
])
def test_rows_that_are_not_numbers_are_one_user_error(tmp_path, rows, message):
    """mlrun.load(run).predict(...) from Python: a wrong argument is a UserError, never a raw TypeError."""
    train(make_cfg("dataset=iris", "model=mlp", "trainer.epochs=1"), tmp_path)
    predictor = Predictor.load(tmp_path)
    with pytest.raises(UserError, match=message):
        predictor.predict(rows)
    assert len(predictor.predict([[0.0] * 4])) == 1


def test_keep_copies_input_columns_and_the_default_output_is_under_the_run(binary_run, tmp_path, monkeypatch):
    """keep= puts input columns (ids) after `row`; without output= the predictions go to <run>/predictions/<name>.csv,
    never into the current folder; an unknown column is one line with the choices, and nothing is written."""
    run, source, _ = binary_run
    frame = pd.read_csv(source).assign(id=[f"r{i}" for i in range(20)])
    frame.to_csv(tmp_path / "new.csv.gz", index=False)
    monkeypatch.chdir(tmp_path)
    n, where = predict_file(str(run / "checkpoints" / "best.pt"), "new.csv.gz", keep=("id",), proba=True)
    assert (n, where) == (20, str(run / "predictions" / "new.csv"))
    out = pd.read_csv(where)
    assert list(out.columns) == ["row", "id", "prediction", "p_no", "p_yes"] and list(out["id"]) == list(frame["id"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.csv.gz"]
    with pytest.raises(UserError, match=r"^keep='ID': not a column of input='new.csv.gz'; valid choices are a, b, id$"):
        predict_file(str(run), "new.csv.gz", "other.csv", keep=("ID",))
    with pytest.raises(UserError, match=r"^keep='prediction': the output already has a column of that name"):
        predict_file(str(run), "new.csv.gz", "other.csv", keep=("prediction",))
    assert not (tmp_path / "other.csv").exists()
