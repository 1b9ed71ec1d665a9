"""dataset=table: formats, column options, the fitted transform, splits, and every bad input in one line."""

import gzip
import json
import logging
import zipfile

import numpy as np
import pandas as pd
import pytest
import torch

from tests.helpers import make_cfg, mlrun_cli
from mlrun.datasets import table
from mlrun.datasets._table_demo import WINE, write_demo, write_wine
from mlrun.datasets._table_demo import wine_frame as wine
from mlrun.datasets.splits import split_indices
from mlrun.datasets.table import apply_transform, decode_predictions, encode_target_column, read_table
from mlrun.errors import UserError
from mlrun.fit.run import train

SPLIT = {"train": 0.7, "val": 0.15, "test": 0.15}


def mixed(n: int = 120, seed: int = 1) -> pd.DataFrame:
    """Numbers with gaps, a text column with gaps, a boolean, an id, a text label."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, n).astype(float)
    age[::9] = np.nan
    colour = rng.choice(["red", "green", "blue"], n).astype(object)
    colour[3::11] = None
    income = np.round(20 + 0.5 * np.nan_to_num(age, nan=50) + rng.normal(0, 5, n), 3)
    label = np.where(np.nan_to_num(age, nan=50) + rng.normal(0, 10, n) > 48, "yes", "no")
    return pd.DataFrame({"id": np.arange(n), "age": age, "income": income, "colour": colour,
                         "member": rng.random(n) > 0.5, "label": label})


def write(frame, path, **kw):
    frame.to_csv(path, index=False, **kw)
    return path


def one_line(e) -> str:
    text = str(e.value)
    assert "\n" not in text, text
    return text


# ---- formats

@pytest.fixture
def base(tmp_path):
    frame = mixed()
    path = write(frame, tmp_path / "m.csv")
    return frame, table(str(path), target="label", drop=["id"], split=SPLIT)


def _same(a, b):
    for part in ("train", "val", "test"):
        mine, theirs = getattr(a, part), getattr(b, part)
        assert torch.equal(mine.x, theirs.x) and torch.equal(mine.y, theirs.y)
    assert a.spec.to_dict() == b.spec.to_dict()


@pytest.mark.parametrize("sep", ["\t", ";", "|", ","])
def test_every_separator_is_sniffed(tmp_path, base, sep):
    frame, expected = base
    path = write(frame, tmp_path / "s.txt", sep=sep)
    _same(table(str(path), target="label", drop=["id"], split=SPLIT), expected)


def test_typed_separator_and_tab_spelling(tmp_path, base):
    frame, expected = base
    path = write(frame, tmp_path / "s.tsv", sep="\t")
    _same(table(str(path), target="label", drop=["id"], split=SPLIT, sep="\\t"), expected)
    _same(table(str(path), target="label", drop=["id"], split=SPLIT, sep="tab"), expected)
    with pytest.raises(UserError, match="not a readable table|no such column"):
        table(str(path), target="label", drop=["id"], split=SPLIT, sep=",")   # one column named "id\tage..."


@pytest.mark.parametrize("codec", ["gzip", "bz2", "xz", "zip"])
def test_compressed_csv(tmp_path, base, codec):
    frame, expected = base
    path = tmp_path / "m.data"                            # the format comes from the bytes, not the name
    frame.to_csv(path, index=False, compression={"method": codec, "archive_name": "m.csv"} if codec == "zip"
                 else codec)
    _same(table(str(path), target="label", drop=["id"], split=SPLIT), expected)


@pytest.mark.parametrize("fmt", ["parquet", "feather"])
def test_parquet_and_feather(tmp_path, base, fmt):
    frame, expected = base
    path = tmp_path / f"m.{fmt}"
    getattr(frame, f"to_{fmt}")(path)
    _same(table(str(path), target="label", drop=["id"], split=SPLIT), expected)


def test_utf8_bom_and_latin1(tmp_path):
    frame = pd.DataFrame({"température": [1.0, 2.0, 3.0, 4.0] * 5, "y": np.arange(20.0)})
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + frame.to_csv(index=False).encode())
    data = table(str(bom), target="y", split={"train": 1.0, "val": 0.0, "test": 0.0})
    assert data.spec.features == ["température"]                      # no BOM glued to the first name
    latin = tmp_path / "latin.csv"
    latin.write_bytes(frame.to_csv(index=False).encode("latin-1"))
    with pytest.raises(UserError, match=r"not utf-8-sig text \(byte 0xe9\).*dataset.encoding=latin-1") as e:
        table(str(latin), target="y")
    one_line(e)
    data = table(str(latin), target="y", encoding="latin-1", split={"train": 1.0, "val": 0.0, "test": 0.0})
    assert data.spec.features == ["température"]
    with pytest.raises(UserError, match="dataset.encoding='klingon': unknown text encoding"):
        table(str(latin), target="y", encoding="klingon")


def test_no_header_columns_by_index(tmp_path, base):
    frame, expected = base
    path = write(frame, tmp_path / "nh.csv", header=False)
    data = table(str(path), target=-1, drop=[0], header=False, split=SPLIT)
    assert data.spec.features[:2] == ["1", "2"] and data.spec.classes == expected.spec.classes
    assert torch.equal(data.train.x, expected.train.x)
    assert data.spec.transform["target"]["name"] == "5"


# ---- columns: features, drop, categorical, missing values

def test_one_hot_categories_from_train_and_median_mode_imputation(tmp_path):
    frame = mixed()
    data = table(str(write(frame, tmp_path / "m.csv")), target="label", drop=["id"], split=SPLIT, scaling="none")
    t = data.spec.transform
    assert data.spec.features == ["age", "income", "colour=blue", "colour=green", "colour=red", "member"]
    tr, _, _ = split_indices((frame.label == "yes").to_numpy().astype(int), (0.7, 0.15, 0.15), 0, stratify=True)
    train = frame.iloc[tr]
    age, colour = t["columns"][0], t["columns"][2]
    assert age["fill"] == pytest.approx(train.age.median())                  # the train split's median
    assert colour["fill"] == train.colour.mode()[0]                          # the train split's mode
    x = data.train.x.numpy()
    assert np.allclose(x[:, 2:5].sum(1), 1)                                  # one category per row, missing → mode
    raw = frame.iloc[np.sort(tr)].reset_index(drop=True)                   # each split keeps file order
    expect_age = raw.age.fillna(train.age.median()).to_numpy()
    assert np.allclose(x[:, 0], expect_age) and np.allclose(x[:, 1], raw.income)
    assert np.array_equal(x[:, 5], raw.member.astype(float))
    mode = 2 + ["blue", "green", "red"].index(colour["fill"])
    assert (x[raw.colour.isna().to_numpy(), mode] == 1).all()            # a missing colour is the train mode


def test_missing_indicators_and_dropna(tmp_path, caplog):
    frame = mixed()
    path = str(write(frame, tmp_path / "m.csv"))
    data = table(path, target="label", drop=["id"], missing_indicators=True, split=SPLIT)
    assert data.spec.features == ["age", "age:missing", "income", "colour=blue", "colour=green", "colour=red",
                                  "colour:missing", "member"]
    full = torch.cat([data.train.x, data.val.x, data.test.x]).numpy()
    assert full[:, 1].sum() == frame.age.isna().sum() and full[:, 6].sum() == frame.colour.isna().sum()
    with caplog.at_level(logging.WARNING, "mlrun"):
        data = table(path, target="label", drop=["id"], dropna=True, split=SPLIT)
    gone = int((frame.age.isna() | frame.colour.isna()).sum())
    assert sum(len(s) for s in (data.train, data.val, data.test)) == len(frame) - gone
    assert f"dataset.dropna=true leaves out {gone} row(s) with a missing feature (the first at line 2)" in caplog.text


def test_features_drop_and_explicit_categorical(tmp_path):
    frame = mixed()
    path = str(write(frame, tmp_path / "m.csv"))
    data = table(path, target="label", features=["income", 1], split=SPLIT)     # by name or 0-based index
    assert data.spec.features == ["income", "age"]
    data = table(path, target="label", features=["age", "member"], categorical=["member"], split=SPLIT,
                 scaling="none")
    assert data.spec.features == ["age", "member=False", "member=True"]
    data = table(path, target="label", drop=["id", "colour"], categorical=[], split=SPLIT)
    assert data.spec.features == ["age", "income", "member"]


def test_max_categories_keeps_the_most_frequent_and_other(tmp_path, caplog):
    rng = np.random.default_rng(0)
    n = 400
    city = np.array([f"c{i}" for i in rng.zipf(1.6, n) % 12])
    frame = pd.DataFrame({"city": city, "x": rng.normal(size=n), "y": rng.normal(size=n)})
    train_path = write(frame, tmp_path / "train.csv")
    counts = frame.city.value_counts()
    rare = counts.index[-1]
    test = pd.DataFrame({"city": [counts.index[0], rare, "never seen"], "x": [0.0] * 3, "y": [0.0, 1.0, 2.0]})
    test_path = write(test, tmp_path / "test.csv")
    with caplog.at_level(logging.WARNING, "mlrun"):
        data = table(str(train_path), target="y", test_path=str(test_path), max_categories=4,
                     split={"train": 0.8, "val": 0.2, "test": 0.0})
    col = data.spec.transform["columns"][0]
    assert col["other"] and len(col["categories"]) == 3 and col["fill"] == counts.index[0]
    assert data.spec.features[:4] == [f"city={c}" for c in sorted(col["categories"])] + ["city=other"]
    x = data.test.x.numpy()
    assert x[0, col["categories"].index(counts.index[0])] == 1 and x[0, :4].sum() == 1
    assert x[1, 3] == 1 and x[1, :4].sum() == 1                 # a rare train value belongs to "other"
    assert x[2, 3] == 1 and x[2, :4].sum() == 1                 # so does an unseen one
    assert "the 3 most frequent are inputs, the rest city=other" in caplog.text


def test_unseen_category_is_all_zero_and_counted(tmp_path, caplog):
    frame = mixed()
    test = mixed(20, seed=5)
    test.loc[[2, 4], "colour"] = "purple"
    with caplog.at_level(logging.WARNING, "mlrun"):
        data = table(str(write(frame, tmp_path / "a.csv")), target="label", drop=["id"],
                     test_path=str(write(test, tmp_path / "b.csv")))
    j = data.spec.features.index("colour=blue")
    x = data.test.x.numpy()
    assert np.array_equal(x[[2, 4], j:j + 3], np.zeros((2, 3))) and len(data.test) == 20
    assert "dataset.test_path=" in caplog.text and "column colour: 2 value(s) not seen in the train split (e.g. " \
           "'purple') are encoded as all zeros" in caplog.text


def test_constant_and_all_missing_columns_warn(tmp_path, caplog):
    frame = mixed()
    frame["flat"] = 7
    frame["empty"] = np.nan
    frame["same"] = "x"
    with caplog.at_level(logging.WARNING, "mlrun"):
        data = table(str(write(frame, tmp_path / "m.csv")), target="label", drop=["id"])
    assert "column flat has one value (7) in every train row" in caplog.text
    assert "column empty is missing in every train row: it is encoded as 0" in caplog.text
    assert "column same has one value ('x') in every train row" in caplog.text
    assert torch.isfinite(data.train.x).all()


# ---- the target and the task

@pytest.mark.parametrize("values, task, classes", [
    (["no", "yes"], "binary", ["no", "yes"]),
    ([True, False], "binary", ["False", "True"]),
    ([3, 5, 10, 4], "multiclass", ["3", "4", "5", "10"]),                     # numeric labels in numeric order
    ([0.5, 1.25, 2.0, 7.5], "regression", []),
])
def test_task_auto(tmp_path, values, task, classes):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=80), "t": np.resize(values, 80)})
    data = table(str(write(frame, tmp_path / "t.csv")), target="t", split=SPLIT)
    assert data.spec.task == task and data.spec.classes == classes
    assert data.spec.n_outputs == (len(classes) if task == "multiclass" else 1)
    y = torch.cat([data.train.y, data.val.y, data.test.y])
    if task == "binary":
        assert y.dtype == torch.float32 and set(y.tolist()) == {0.0, 1.0}
    elif task == "multiclass":
        assert y.dtype == torch.int64 and set(y.tolist()) == set(range(len(classes)))
    else:
        assert data.train.y.shape[1] == 1


def test_integer_target_beyond_max_classes_is_regression_and_forced_tasks(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=100), "t": np.arange(100) % 30, "c": np.arange(100) % 3})
    path = str(write(frame, tmp_path / "t.csv"))
    assert table(path, target="t", features=["x"]).spec.task == "regression"
    assert table(path, target="t", features=["x"], max_classes=30).spec.task == "multiclass"
    assert table(path, target="c", features=["x"], task="regression").spec.task == "regression"
    with pytest.raises(UserError, match=r"dataset.task=binary: target column c has 3 classes \('0', '1', '2'\); "
                                        r"use dataset.task=multiclass"):
        table(path, target="c", features=["x"], task="binary")
    with pytest.raises(UserError, match="target column t has 30 distinct values .*more than dataset.max_classes=20 "
                                        "classes; raise dataset.max_classes or use dataset.task=regression"):
        table(path, target="t", features=["x"], task="multiclass")


def test_classification_split_is_stratified(tmp_path):
    frame = pd.DataFrame({"x": np.arange(200.0), "t": ["a"] * 150 + ["b"] * 50})
    data = table(str(write(frame, tmp_path / "t.csv")), target="t", split={"train": 0.6, "val": 0.2, "test": 0.2})
    for part, n in (("train", 0.6), ("val", 0.2), ("test", 0.2)):
        y = getattr(data, part).y
        assert int(y.sum()) == round(50 * n) and len(y) == round(200 * n)


def test_separate_test_and_val_files(tmp_path):
    frame = wine(300)
    a, b, c = (write_wine(tmp_path / f"{k}.csv", frame.iloc[s]) for k, s in
               (("train", slice(0, 200)), ("val", slice(200, 250)), ("test", slice(250, 300))))
    data = table(str(a), target="quality", task="regression", test_path=str(c), split=SPLIT)
    assert (len(data.train), len(data.val), len(data.test)) == (170, 30, 50)           # val = split.val of path
    data = table(str(a), target="quality", task="regression", val_path=str(b), split=SPLIT)
    assert (len(data.train), len(data.val), len(data.test)) == (170, 50, 30)
    data = table(str(a), target="quality", task="regression", val_path=str(b), test_path=str(c), scaling="none")
    assert (len(data.train), len(data.val), len(data.test)) == (200, 50, 50)
    assert np.allclose(data.test.x.numpy(), frame.iloc[250:][WINE].to_numpy(), atol=1e-5)   # in file order
    train = frame.quality.iloc[:200]                      # the target is standardized with train's mean and std
    assert np.allclose(data.test.y.numpy()[:, 0], (frame.quality.iloc[250:] - train.mean()) / train.std(ddof=0))
    assert data.test.y_scale == pytest.approx(train.std(ddof=0))


@pytest.mark.parametrize("scaling", ["standardize", "mean_normalize", "none"])
def test_scaling_numeric_inputs_with_train_statistics(tmp_path, scaling):
    frame = mixed()
    data = table(str(write(frame, tmp_path / "m.csv")), target="label", drop=["id"], scaling=scaling, split=SPLIT)
    x = data.train.x.double()
    income = x[:, 1]
    if scaling == "standardize":
        assert abs(income.mean()) < 1e-6 and abs(income.std(unbiased=False) - 1) < 1e-6
    elif scaling == "mean_normalize":
        assert abs(income.mean()) < 1e-6 and abs(income.max() - income.min() - 1) < 1e-6
    else:
        assert abs(income.mean() - frame.income.mean()) < 2
    assert set(x[:, 2:5].unique().tolist()) <= {0.0, 1.0}                 # one-hot inputs are not scaled


# ---- the transform: plain data, applied to new rows exactly as in training

def test_transform_is_json_and_reproduces_the_test_split(tmp_path):
    frame = mixed()
    a = write(frame.iloc[:100], tmp_path / "a.csv")
    b = tmp_path / "b.parquet"
    frame.iloc[100:].reset_index(drop=True).to_parquet(b)
    data = table(str(a), target="label", drop=["id"], test_path=str(b), missing_indicators=True)
    transform = json.loads(json.dumps(data.spec.to_dict()["transform"], allow_nan=False))
    new = read_table(str(b), key="input")
    assert torch.equal(apply_transform(transform, new), data.test.x)
    no_target = new.drop(columns=["label", "id"])                          # the target and extras may be absent
    assert torch.equal(apply_transform(transform, no_target), data.test.x)
    assert torch.equal(encode_target_column(transform, new), data.test.y)
    in_memory = frame.iloc[100:].drop(columns=["label"])                   # any DataFrame, any index
    assert torch.equal(apply_transform(transform, in_memory), data.test.x)


def test_apply_transform_errors_name_the_column(tmp_path):
    frame = mixed()
    data = table(str(write(frame, tmp_path / "m.csv")), target="label", drop=["id"])
    t = data.spec.transform
    with pytest.raises(UserError, match=r"new.csv'?: missing column\(s\) 'colour' the model was trained on") as e:
        rows = read_table(str(write(frame.drop(columns=["colour"]), tmp_path / "new.csv")), key="input")
        apply_transform(t, rows, "input='new.csv'")
    one_line(e)
    bad = frame.astype({"income": object})
    bad.loc[5, "income"] = "lots"
    rows = read_table(str(write(bad, tmp_path / "bad.csv")), key="input")
    with pytest.raises(UserError, match=r"input: line 7, column income: non-numeric value 'lots' in a numeric "
                                        r"column \(numeric in the training data\)"):
        apply_transform(t, rows, "input")
    with pytest.raises(UserError, match="row 6, column income: non-numeric value 'lots'"):
        apply_transform(t, bad)                                                # a DataFrame: positions
    inf = frame.copy()
    inf.loc[3, "age"] = np.inf
    with pytest.raises(UserError, match=r"row 4, column age: value inf is infinite"):
        apply_transform(t, inf)
    with pytest.raises(UserError, match="not a dataset=table transform"):
        apply_transform({"columns": []}, frame)


def test_decode_predictions():
    t = {"version": 1, "columns": [], "target": {"name": "y", "task": "binary", "classes": ["no", "yes"]}}
    assert decode_predictions(t, torch.tensor([[-2.0], [0.5]])) == ["no", "yes"]
    t["target"] = {"name": "y", "task": "multiclass", "classes": ["3", "4", "5"]}
    assert decode_predictions(t, torch.tensor([[0.0, 2.0, 1.0], [5.0, 0.0, 0.0]])) == ["4", "3"]
    t["target"] = {"name": "y", "task": "regression", "classes": []}
    assert decode_predictions(t, torch.tensor([[1.5], [-2.0]])) == [1.5, -2.0]
    t["target"] |= {"shift": 10.0, "scale": 2.0}                          # a standardized target: y = 10 + 2·out
    assert decode_predictions(t, torch.tensor([[1.5], [-2.0]])) == [13.0, 6.0]


# ---- acceptance: the UCI wine schema end to end

def test_linear_lstsq_matches_sklearn_on_the_wine_schema(tmp_path):
    from sklearn.linear_model import LinearRegression
    from sklearn.metrics import r2_score

    path = write_wine(tmp_path / "winequality-red.csv", wine(600))
    cfg = make_cfg("dataset=table", f"dataset.path={path}", "dataset.target=quality", "dataset.task=regression",
                   "model=linear", "model.solver=lstsq")
    train(cfg, tmp_path / "run")
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    raw = pd.read_csv(path, sep=";")                                     # scikit-learn on the raw numbers
    tr, _, te = split_indices(np.zeros(len(raw)), (0.7, 0.15, 0.15), seed=0, stratify=False)
    x, y = raw[WINE].to_numpy(), raw.quality.to_numpy(float)
    theirs = r2_score(y[te], LinearRegression().fit(x[tr], y[tr]).predict(x[te]))
    assert summary["test_r2"] == pytest.approx(theirs, abs=1e-4) and theirs > 0.5
    transform = json.loads((tmp_path / "run" / summary["transform_file"]).read_text())   # apart from the summary
    assert summary["spec"]["features"] == WINE and transform["target"]["task"] == "regression"
    assert "transform" not in summary["spec"]


@pytest.mark.parametrize("target_scaling", ["standardize", "none"])
def test_a_target_in_dollars_is_learnt_standardized_and_reported_in_dollars(tmp_path, target_scaling):
    """quality × 100,000 + 3,000,000: the model learns (y − mean) / std of train; test rmse/mae, predictions and the
    closed-form fit equal scikit-learn's LinearRegression on the raw numbers, in the column's units."""
    import mlrun
    from sklearn.linear_model import LinearRegression

    frame = wine(600)
    frame["quality"] = frame["quality"] * 100_000 + 3_000_000
    path = write_wine(tmp_path / "w.csv", frame)
    cfg = make_cfg("dataset=table", f"dataset.path={path}", "dataset.target=quality", "dataset.task=regression",
                   f"dataset.target_scaling={target_scaling}", "model=linear", "model.solver=lstsq")
    train(cfg, tmp_path / "run")
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    raw = pd.read_csv(path, sep=";")
    tr, _, te = split_indices(np.zeros(len(raw)), (0.7, 0.15, 0.15), seed=0, stratify=False)
    x, y = raw[WINE].to_numpy(), raw.quality.to_numpy(float)
    theirs = LinearRegression().fit(x[tr], y[tr]).predict(x[te])
    assert summary["test_rmse"] == pytest.approx(np.sqrt(np.mean((theirs - y[te]) ** 2)), rel=1e-4)
    assert summary["test_mae"] == pytest.approx(np.mean(np.abs(theirs - y[te])), rel=1e-4)
    assert summary["test_rmse"] > 10_000                                    # dollars, not standard deviations
    target = json.loads((tmp_path / "run" / "transform.json").read_text())["target"]
    assert ("scale" in target) == (target_scaling == "standardize")
    if "scale" in target:
        assert target["shift"] == pytest.approx(y[tr].mean()) and target["scale"] == pytest.approx(y[tr].std())
    ours = mlrun.load(tmp_path / "run").predict(raw.iloc[te])["prediction"].to_numpy()
    assert np.allclose(ours, theirs, rtol=1e-4)


def test_mlp_trains_and_the_checkpoint_predicts(tmp_path, one_thread):
    from mlrun.runtime.checkpoints import load
    from mlrun.models import MLP

    path = write_wine(tmp_path / "w.csv", wine(600))
    cfg = make_cfg("dataset=table", f"dataset.path={path}", "dataset.target=quality", "dataset.task=regression",
                   "model=mlp", "model.hidden=[32]", "trainer.epochs=40", "trainer.batch_size=64",
                   "optimizer.lr=0.05")
    train(cfg, tmp_path / "run")
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["test_r2"] > 0.4                                         # predicting the mean scores 0
    payload = load(tmp_path / "run" / "checkpoints" / "best.pt")           # weights_only: plain data only
    transform = payload["spec"]["transform"]
    model = MLP(table(str(path), target="quality", task="regression").spec, hidden=[32])
    model.load_state_dict(payload["model"])
    rows = read_table(str(path))
    with torch.no_grad():
        predicted = decode_predictions(transform, model(apply_transform(transform, rows)))
    assert len(predicted) == 600 and np.corrcoef(predicted, rows.quality)[0, 1] > 0.7
    from mlrun.infer.saved import evaluate_checkpoint                        # `mlrun eval` rebuilds the same spec

    scores = evaluate_checkpoint(str(tmp_path / "run" / "checkpoints" / "best.pt"))
    assert scores["test_r2"] == pytest.approx(summary["test_r2"], abs=1e-6)


def test_pca_components_key(tmp_path):
    path = write_wine(tmp_path / "w.csv", wine(200))
    cfg = make_cfg("dataset=table", f"dataset.path={path}", "dataset.target=quality", "dataset.task=regression",
                   "dataset.pca_components=3", "model=linear", "model.solver=lstsq")
    train(cfg, tmp_path / "run")
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["spec"]["input_shape"] == [3]


# ---- bad input: one line naming the file, the line and the column

def test_missing_file_folder_empty_and_header_only(tmp_path):
    with pytest.raises(UserError, match=r"dataset.path='.*nope.csv': file not found"):
        table(str(tmp_path / "nope.csv"), target="y")
    with pytest.raises(UserError, match="is a folder"):
        table(str(tmp_path), target="y")
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(UserError, match="empty.csv': empty file"):
        table(str(tmp_path / "empty.csv"), target="y")
    (tmp_path / "blank.csv").write_text("\n\n")
    with pytest.raises(UserError, match="blank.csv': empty file"):
        table(str(tmp_path / "blank.csv"), target="y")
    (tmp_path / "head.csv").write_text("a,b,y\n")
    with pytest.raises(UserError, match=r"head.csv': no data rows \(columns a, b, y\)"):
        table(str(tmp_path / "head.csv"), target="y")
    with pytest.raises(UserError, match="dataset.path=null: no table file given; put its path"):
        table(None, target="y")


def test_missing_target_lists_the_columns(tmp_path):
    path = str(write_wine(tmp_path / "w.csv", wine(50)))
    with pytest.raises(UserError, match=r"dataset.target='qualty': no such column in dataset.path='.*w.csv'; "
                                        r"did you mean 'quality'\? Columns: 'fixed acidity', .*'quality'") as e:
        table(path, target="qualty")
    one_line(e)
    with pytest.raises(UserError, match=r"dataset.target=null: name the column to predict, e.g. "
                                        r"dataset.target=quality"):
        table(path)
    with pytest.raises(UserError, match=r"dataset.target=12: column index out of range: .* has 12 columns"):
        table(path, target=12)


def test_non_numeric_value_in_a_numeric_feature(tmp_path):
    frame = wine(100)
    frame = frame.astype({"alcohol": object})
    frame.loc[40, "alcohol"] = "n/a?"
    path = str(write_wine(tmp_path / "w.csv", frame))
    with pytest.raises(UserError, match=r"w.csv': line 42, column alcohol: non-numeric value 'n/a\?' in a numeric "
                                        r"column \(99.0% of its cells are numbers\); fix the cell, declare the text "
                                        r"missing with dataset.na_values, or list alcohol in dataset.categorical") as e:
        table(path, target="quality")
    one_line(e)
    data = table(path, target="quality", task="regression", na_values=["n/a?"])     # declared missing: imputed
    assert torch.isfinite(data.train.x).all()


@pytest.mark.parametrize("value, column, what", [
    ("inf", "density", "infinite"), ("-inf", "pH", "infinite"), ("1e308", "alcohol", "beyond float32's range"),
    ("1e39", "quality", "beyond float32's range"),
])
def test_non_finite_values_name_file_line_and_column(tmp_path, value, column, what):
    frame = wine(60).astype(object)
    frame.loc[17, column] = value
    path = write_wine(tmp_path / "w.csv", frame)
    text = path.read_text().replace(f'"{value}"', value)               # as a bare number, like the others
    path.write_text(text)
    with pytest.raises(UserError, match=rf"w.csv': line 19, column {column}: value .* is {what}") as e:
        table(str(path), target="quality", task="regression")
    one_line(e)


def test_parquet_cells_are_named_by_row(tmp_path):
    frame = wine(30)
    frame.loc[3, "pH"] = np.inf
    frame.to_parquet(tmp_path / "w.parquet")
    with pytest.raises(UserError, match=r"w.parquet': row 4, column pH: value inf is infinite"):
        table(str(tmp_path / "w.parquet"), target="quality", task="regression")


def test_target_problems(tmp_path):
    frame = pd.DataFrame({"x": np.arange(30.0), "y": ["a"] * 30, "z": [2.5] * 30,
                          "name": [f"n{i}" for i in range(30)]})
    path = str(write(frame, tmp_path / "t.csv"))
    with pytest.raises(UserError, match=r"target column y has one class \('a'\) in every row: nothing to learn"):
        table(path, target="y", features=["x"])
    with pytest.raises(UserError, match=r"target column z has one value \(2.5\) in every row"):
        table(path, target="z", features=["x"])
    with pytest.raises(UserError, match=r"target column name has 30 distinct values \('n0', .*more than "
                                        r"dataset.max_classes=20 classes; raise dataset.max_classes or pick a numeric"):
        table(path, target="name", features=["x"])
    frame.loc[:, "y"] = np.nan
    with pytest.raises(UserError, match="no rows left: every row lacks a y value"):
        table(str(write(frame, tmp_path / "u.csv")), target="y", features=["x"])


def test_rows_without_target_are_left_out_with_a_warning(tmp_path, caplog):
    frame = wine(100).astype({"quality": float})
    frame.loc[[10, 20], "quality"] = np.nan
    with caplog.at_level(logging.WARNING, "mlrun"):
        data = table(str(write_wine(tmp_path / "w.csv", frame)), target="quality", task="regression",
                     split={"train": 1.0, "val": 0.0, "test": 0.0})
    assert len(data.train) == 98
    assert "2 row(s) without a quality value are left out (the first at line 12)" in caplog.text


def test_test_file_class_unknown_to_training(tmp_path):
    frame = mixed()
    test = mixed(10, seed=3)
    test.loc[6, "label"] = "maybe"
    with pytest.raises(UserError, match=r"dataset.test_path='.*b.csv': line 8, column label: class 'maybe' is not one "
                                        r"of the training data's classes \('no', 'yes'\)"):
        table(str(write(frame, tmp_path / "a.csv")), target="label", test_path=str(write(test, tmp_path / "b.csv")))
    with pytest.raises(UserError, match=r"dataset.test_path='.*c.csv': missing column\(s\) 'colour' of the training"):
        table(str(write(frame, tmp_path / "a.csv")), target="label",
              test_path=str(write(test.drop(columns=["colour"]), tmp_path / "c.csv")))


def test_duplicated_column_names(tmp_path):
    (tmp_path / "d.csv").write_text("x,y,x\n1,2,3\n4,5,6\n")
    with pytest.raises(UserError, match=r"d.csv': the header names column\(s\) 'x' more than once"):
        table(str(tmp_path / "d.csv"), target="y")
    frame = pd.DataFrame([[1, 2, 3], [4, 5, 6]], columns=["x", "y", "x"])
    import pyarrow as pa
    import pyarrow.parquet as pq
    pq.write_table(pa.Table.from_arrays([pa.array(frame.iloc[:, i]) for i in range(3)], names=["x", "y", "x"]),
                   tmp_path / "d.parquet")
    with pytest.raises(UserError, match=r"d.parquet': the header names column\(s\) 'x' more than once"):
        table(str(tmp_path / "d.parquet"), target="y")


def test_ragged_rows_and_zip_with_two_members(tmp_path):
    (tmp_path / "r.csv").write_text("a,b,y\n1,2,3\n1,2,3,4,5\n")
    with pytest.raises(UserError, match=r"not a readable table with sep=',': .*Expected 3 fields in line 3, saw 5"):
        table(str(tmp_path / "r.csv"), target="y", sep=",")
    with zipfile.ZipFile(tmp_path / "two.zip", "w") as z:
        z.writestr("a.csv", "a,y\n1,2\n")
        z.writestr("b.csv", "a,y\n1,2\n")
    with pytest.raises(UserError, match="a zip archive must hold exactly one table file; it holds 2: a.csv, b.csv"):
        table(str(tmp_path / "two.zip"), target="y")


def test_truncated_gzip_and_a_csv_that_inflates_beyond_the_limit(tmp_path, monkeypatch):
    whole = gzip.compress(("a,y\n" + "1,2\n" * 20000).encode())
    (tmp_path / "t.csv.gz").write_bytes(whole[:len(whole) // 2])
    with pytest.raises(UserError, match=r"t.csv.gz': corrupt or truncated gzip file"):
        table(str(tmp_path / "t.csv.gz"), target="y")
    (tmp_path / "bomb.csv.gz").write_bytes(gzip.compress(b"a,y\n" + b"0,0\n" * 2_000_000))    # 8 MB from ~8 kB
    import mlrun.datasets._source as source
    monkeypatch.setattr(source, "memory_limit", lambda: 1 << 20)
    with pytest.raises(UserError, match=r"bomb.csv.gz': decompresses to more than 0.0 GB .*refused"):
        table(str(tmp_path / "bomb.csv.gz"), target="y")


def test_timestamps_are_refused(tmp_path):
    frame = pd.DataFrame({"when": pd.date_range("2020-01-01", periods=20), "x": np.arange(20.0),
                          "y": np.arange(20.0) % 2})
    frame.to_parquet(tmp_path / "t.parquet")
    with pytest.raises(UserError, match=r"column when holds timestamps \(datetime64.*list it in dataset.drop"):
        table(str(tmp_path / "t.parquet"), target="y")
    assert table(str(tmp_path / "t.parquet"), target="y", drop=["when"]).spec.features == ["x"]


@pytest.mark.parametrize("kw, match", [
    ({"max_categories": 1}, "dataset.max_categories=1: must be an integer ≥ 2"),
    ({"max_classes": 1.5}, "dataset.max_classes=1.5: must be an integer ≥ 2"),
    ({"task": "ranking"}, "dataset.task='ranking': valid choices are auto, regression, binary, multiclass"),
    ({"scaling": "minmax"}, "dataset.scaling='minmax': valid choices are none, standardize, mean_normalize"),
    ({"dropna": "yes"}, "dataset.dropna='yes': must be true or false"),
    ({"target_scaling": "minmax"}, "dataset.target_scaling='minmax': valid choices are standardize, none"),
    ({"features": "age"}, "dataset.features='age': must be null or a list"),
    ({"features": ["age", "label"]}, "dataset.features=.*lists the target column 'label'"),
    ({"features": ["age", "age"]}, "dataset.features=.*lists 'age' more than once"),
    ({"drop": ["label"]}, "dataset.drop=.*lists the target column 'label'"),
    ({"categorical": ["id"], "drop": ["id"]}, "dataset.categorical=.*lists 'id', which is not a feature column"),
    ({"drop": ["id", "age", "income", "colour", "member"]}, "no feature columns left besides the target 'label'"),
    ({"split": {"train": 0.9, "val": 0.2, "test": 0.0}}, "fractions sum to 1.1 > 1"),
    ({"split": {"train": 0.001, "val": 0.5, "test": 0.4}}, "dataset.split.train=0.001: leaves 0 of 120 rows"),
    ({"sep": ""}, "dataset.sep='': must be null"),
    ({"header": "no"}, "dataset.header='no': must be true"),
    ({"na_values": [["?"]]}, r"dataset.na_values=\[\['\?'\]\]: must be a list of cell texts"),
])
def test_bad_options_are_one_line(tmp_path, kw, match):
    path = str(write(mixed(), tmp_path / "m.csv"))
    with pytest.raises(UserError, match=match) as e:
        table(path, **{"target": "label", **kw})
    one_line(e)


def test_empty_val_split_warns(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, "mlrun"):
        table(str(write(mixed(), tmp_path / "m.csv")), target="label", split={"train": 0.8, "val": 0.0, "test": 0.2})
    assert "dataset.split.val=0: the val split is empty (0 of 120 rows)" in caplog.text


# ---- through the real command

@pytest.mark.parametrize("case", ["missing target", pytest.param("overflow", marks=pytest.mark.slow)])
def test_cli_bad_input_is_one_line_exit_2(tmp_path, case):
    frame = wine(50)
    if case == "overflow":
        frame = frame.astype({"sulphates": object})
        frame.loc[9, "sulphates"] = 1e308
    path = write_wine(tmp_path / "w.csv", frame)
    target = "grade" if case == "missing target" else "quality"
    result = mlrun_cli("train", "dataset=table", f"dataset.path={path}", f"dataset.target={target}", "device=cpu",
                       cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    if case == "missing target":
        assert "dataset.target='grade': no such column" in lines[0] and "'quality'" in lines[0]
    else:
        assert "w.csv': line 11, column sulphates: value 1e+308 is beyond float32's range" in lines[0]
    assert not any((tmp_path / "outputs").rglob("summary.json"))


@pytest.mark.slow
def test_cli_train_and_test_files_with_mlp(tmp_path):
    frame = mixed(300)
    write(frame.iloc[:240], tmp_path / "train.csv")
    write(frame.iloc[240:], tmp_path / "test.csv")
    result = mlrun_cli("train", "dataset=table", "dataset.path=train.csv", "dataset.test_path=test.csv",
                       "dataset.target=label", "dataset.drop=[id]", "model=mlp", "device=cpu", "trainer.epochs=2",
                       cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    summary = json.loads(next((tmp_path / "outputs").rglob("summary.json")).read_text())
    assert summary["spec"]["task"] == "binary" and summary["spec"]["classes"] == ["no", "yes"]
    assert 0 <= summary["test_acc"] <= 1


def test_median_matches_numpy():
    from mlrun.datasets._table_transform import median

    rng = np.random.default_rng(0)
    for n in (1, 2, 7, 1000, 1001):
        v = rng.normal(size=n)
        assert median(v.copy()) == np.median(v)
    assert median(np.array([3.0, 1.0, 2.0, 2.0])) == 2.0


def test_a_column_typed_differently_in_two_chunks_is_read_as_text(tmp_path):
    """The C parser types ~260k-row chunks on their own: zip codes, numbers in one chunk and text in the next."""
    n = 300_000
    zips = np.array([f"0{2000 + i % 50}" for i in range(n)], dtype=object)
    zips[-3] = "A1"
    frame = pd.DataFrame({"zip": zips, "x": np.arange(n) % 7, "y": np.arange(n) % 2})
    path = write(frame, tmp_path / "z.csv")
    rows = read_table(str(path))
    assert str(rows.zip.dtype) == "str" and rows.zip.iloc[0] == "02000" and rows.zip.nunique() == 51
    with pytest.raises(UserError, match=r"line 299999, column zip: non-numeric value 'A1' in a numeric column "
                                        r"\(99.9% of its cells are numbers\)"):
        table(str(path), target="y", split=SPLIT)                          # numbers with one text cell: a typo?
    data = table(str(path), target="y", split=SPLIT, categorical=["zip"])   # no: codes
    assert "zip=02000" in data.spec.features and "zip=2000" not in data.spec.features


def test_the_documented_commands_run_on_the_demo_files(tmp_path, monkeypatch, one_thread):
    """docs/own_data.md: `python -m mlrun.datasets._table_demo`, then its three `mlrun train` commands."""
    written = write_demo(tmp_path, rows=300)
    assert sorted(p.name for p in written) == ["adult.parquet", "test.csv", "train.csv", "wine.csv"]
    assert {p.parent for p in written} == {tmp_path / "data"}          # nothing loose in the working folder
    monkeypatch.chdir(tmp_path)
    for overrides, task in (
        (["dataset.path=data/wine.csv", "dataset.target=quality", "dataset.task=regression"], "regression"),
        (["dataset.path=data/adult.parquet", "dataset.target=income", "model=logistic"], "binary"),
        (["dataset.path=data/train.csv", "dataset.test_path=data/test.csv", "dataset.target=label", "model=mlp"],
         "multiclass"),
    ):
        train(make_cfg("dataset=table", *overrides), tmp_path / task)
        summary = json.loads((tmp_path / task / "summary.json").read_text())
        assert summary["spec"]["task"] == task


def test_comma_space_files_without_header_like_uci_adult(tmp_path):
    """adult.data: no header, ', ' between fields, '?' for missing, the label last."""
    frame = mixed(60)
    lines = [", ".join("?" if pd.isna(v) else str(v) for v in row) for row in frame.itertuples(index=False)]
    (tmp_path / "adult.data").write_text("\n".join(lines) + "\n")
    data = table(str(tmp_path / "adult.data"), target=-1, header=False, drop=[0], na_values=["?"], split=SPLIT)
    assert data.spec.classes == ["no", "yes"] and data.spec.features[2:5] == ["3=blue", "3=green", "3=red"]
    assert data.spec.transform["columns"][0]["kind"] == "numeric"                 # " 35.0" is a number
    assert torch.isfinite(data.train.x).all()


# ---- guards: a row-number column, missing values, the profile, a leak

def test_a_row_number_column_is_left_out_with_a_warning(tmp_path, caplog):
    frame = mixed().drop(columns="id")
    frame.to_csv(tmp_path / "pandas.csv")                              # pandas' index: header "" → 'Unnamed: 0'
    with caplog.at_level(logging.WARNING, logger="mlrun"):
        data = table(str(tmp_path / "pandas.csv"), target="label", split=SPLIT)
    assert "Unnamed: 0" not in data.spec.transform["features"]
    (line,) = [r.getMessage() for r in caplog.records if "row number" in r.getMessage()]
    assert "'Unnamed: 0'" in line and "unnamed header" in line and "dataset.drop_row_number=false" in line
    assert data.spec.profile["columns"]["left_out"] == ["Unnamed: 0"]
    kept = table(str(tmp_path / "pandas.csv"), target="label", split=SPLIT, drop_row_number=False)
    assert kept.spec.transform["features"][0] == "Unnamed: 0"
    frame.insert(0, "ID", np.arange(1, len(frame) + 1))                # named like an id, 1..N in file order
    write(frame, tmp_path / "id.csv")
    assert "ID" not in table(str(tmp_path / "id.csv"), target="label", split=SPLIT).spec.features
    listed = table(str(tmp_path / "id.csv"), target="label", split=SPLIT, features=["ID", "age"])
    assert listed.spec.features == ["ID", "age"]                       # listed in features: the user's choice
    frame["ID"] = np.random.default_rng(0).permutation(len(frame))     # not in file order: an ordinary column
    write(frame, tmp_path / "shuffled.csv")
    assert "ID" in table(str(tmp_path / "shuffled.csv"), target="label", split=SPLIT).spec.features
    with pytest.raises(UserError, match=r"dataset.drop_row_number='no': must be true or false"):
        table(str(tmp_path / "id.csv"), target="label", drop_row_number="no")


def test_missing_values_are_logged_per_column_and_the_profile_is_plain_data(tmp_path, caplog):
    frame = mixed()
    path = write(frame, tmp_path / "m.csv")
    with caplog.at_level(logging.INFO, logger="mlrun"):
        data = table(str(path), target="label", drop=["id"], split=SPLIT)
    fill = data.spec.transform["columns"][0]["fill"]                   # age: the train median
    ages = [r.getMessage() for r in caplog.records if "column age:" in r.getMessage()]
    assert ages == [f"dataset.path={str(path)!r}: column age: {frame.age.isna().sum()} missing value(s) "
                    f"({100 * frame.age.isna().mean():.1f}%), filled with the train median {fill:g}"]
    assert any("column colour:" in r.getMessage() and "most frequent train value" in r.getMessage()
               for r in caplog.records)
    profile = data.spec.profile
    assert json.loads(json.dumps(profile)) == profile                    # plain data (summary.json)
    assert profile["rows"] == {"train": len(data.train), "val": len(data.val), "test": len(data.test)}
    assert profile["columns"] == {"numeric": ["age", "income", "member"], "categorical": ["colour"], "left_out": []}
    assert profile["missing"] == {"age": int(frame.age.isna().sum()), "colour": int(frame.colour.isna().sum())}
    assert profile["categories"] == {"colour": 3}                       # a boolean is numeric (0/1)
    assert profile["target"]["classes"] == frame.label.value_counts().sort_index().to_dict()
    assert any(r.getMessage().startswith("data profile of") for r in caplog.records)


def test_the_profile_reaches_summary_json_and_train_log(tmp_path):
    path = write(mixed(), tmp_path / "m.csv")
    out = mlrun_cli("train", "device=cpu", "trainer.epochs=1", "dataset=table", f"dataset.path={path}",
                    "dataset.target=label", "dataset.drop=[id]", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    (run,) = (tmp_path / "outputs").glob("*/*")
    summary = json.loads((run / "summary.json").read_text())
    assert summary["spec"]["profile"]["target"] == {"name": "label", "task": "binary", "classes": {"no": 57,
                                                                                                  "yes": 63}}
    assert "data profile of" in (run / "train.log").read_text()


def test_an_input_that_predicts_the_target_alone_is_named(tmp_path, caplog):
    frame = mixed(400)
    frame["verdict"] = np.where(frame.label == "yes", "approved", "declined")        # the answer, renamed
    frame["score"] = (frame.label == "yes") * 10.0 + np.random.default_rng(0).normal(0, 0.1, len(frame))
    path = write(frame, tmp_path / "leak.csv")
    with caplog.at_level(logging.WARNING, logger="mlrun"):
        table(str(path), target="label", drop=["id"], split=SPLIT)
    leaks = [r.getMessage() for r in caplog.records if "alone predicts the target" in r.getMessage()]
    assert [line.split("column ")[1].split(" ")[0] for line in leaks] == ["verdict", "score"]
    caplog.clear()
    w = wine(400)
    w["quality_x2"] = w.quality * 2.0 + np.random.default_rng(0).normal(0, 0.01, 400)   # regression: |r| ≥ 0.99
    with caplog.at_level(logging.WARNING, logger="mlrun"):
        table(str(write_wine(tmp_path / "w.csv", w)), target="quality", task="regression")
    leaks = [r.getMessage() for r in caplog.records if "alone predicts the target" in r.getMessage()]
    assert len(leaks) == 1 and "column quality_x2 " in leaks[0]
    assert float(leaks[0].split("|correlation| ")[1].split(")")[0]) >= 0.99
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="mlrun"):
        table(str(write(mixed(400), tmp_path / "clean.csv")), target="label", drop=["id"], split=SPLIT)
    assert not [r for r in caplog.records if "alone predicts" in r.getMessage()]


# ---- readers: sizes, special files, nested values

def test_a_million_columns_are_refused_from_the_first_line(tmp_path):
    """D13: 1,000,000 columns × 2 rows (12 MB) took 537 s at 3 GB RSS; now the first line is counted first."""
    path = tmp_path / "wide.csv"
    row = ",".join(["1"] * 1_000_000)
    path.write_text(",".join(f"c{i}" for i in range(1_000_000)) + "\n" + row + "\n" + row + "\n")
    with pytest.raises(UserError) as e:
        table(str(path), target=0)
    assert "more than 20,000 columns in its first line, over dataset.max_columns=20000" in one_line(e)
    small = write(mixed(), tmp_path / "m.csv")
    with pytest.raises(UserError, match=r"more than 4 columns in its first line, over dataset.max_columns=4"):
        table(str(small), target="label", max_columns=4)
    with gzip.open(tmp_path / "m.csv.gz", "wt") as f:
        f.write(small.read_text())
    with pytest.raises(UserError, match=r"over dataset.max_columns=4"):
        table(str(tmp_path / "m.csv.gz"), target="label", max_columns=4)
    pytest.importorskip("pyarrow")
    mixed().to_parquet(tmp_path / "m.parquet")
    with pytest.raises(UserError, match=r"6 columns, over dataset.max_columns=4"):
        table(str(tmp_path / "m.parquet"), target="label", max_columns=4)
    assert len(table(str(small), target="label", drop=["id"], max_columns=6).train) > 0


@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="needs FIFOs (POSIX)")
def test_special_files_are_refused_in_one_line(tmp_path):
    """D18: a FIFO (reading blocks forever), /dev/zero (never ends), a symlink loop: named, not 'file not found'."""
    import os

    os.mkfifo(tmp_path / "pipe.csv")
    (tmp_path / "loop.csv").symlink_to(tmp_path / "loop.csv")
    cases = {str(tmp_path / "pipe.csv"): "not a regular file (a FIFO (named pipe))",
             "/dev/zero": "not a regular file (a character device)", str(tmp_path / "loop.csv"): "symlink loop"}
    for path, message in cases.items():
        for call in (lambda: table(path, target="y"), lambda: read_table(path, key="input"),
                     lambda: table(str(write(mixed(), tmp_path / "m.csv")), target="label", test_path=path)):
            with pytest.raises(UserError) as e:
                call()
            assert message in one_line(e)
    from mlrun.datasets import california_housing

    with pytest.raises(UserError, match="symlink loop"):
        california_housing(str(tmp_path / "loop.csv"), SPLIT)
    with pytest.raises(UserError, match=r"not a regular file \(a FIFO"):
        california_housing(str(tmp_path / "pipe.csv"), SPLIT)


def test_nested_parquet_columns_are_named(tmp_path):
    """D19: list/struct cells ended in a TypeError message; now the column is named."""
    pa = pytest.importorskip("pyarrow")
    import pyarrow.feather as feather
    import pyarrow.parquet as pq

    for column in (pa.array([[1, 2], [3]]), pa.array([{"x": 1}, {"x": 2}])):
        arrow = pa.table({"a": column, "y": [0.5, 1.5]})
        pq.write_table(arrow, tmp_path / "n.parquet")
        feather.write_feather(arrow, tmp_path / "n.feather")
        for name in ("n.parquet", "n.feather"):
            with pytest.raises(UserError) as e:
                table(str(tmp_path / name), target="y")
            assert "column a holds nested values" in one_line(e)


def test_a_list_or_dict_cell_from_a_python_caller_is_one_line():
    """pd.factorize raised TypeError (unhashable) before the cell check: a list in a text column from the Python API
    (or a JSON request) named no row or column."""
    import pandas as pd

    from mlrun.datasets._table_transform import Rows, factorize
    from mlrun.errors import UserError

    frame = pd.DataFrame({"colour": ["red", ["red"], "blue"]})
    with pytest.raises(UserError, match=r"^rows: row 2, column colour: a list value \"\['red'\]\"; table cells"):
        factorize(frame["colour"], "colour", Rows(frame, "rows"))
