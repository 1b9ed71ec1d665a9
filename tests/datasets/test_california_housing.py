import numpy as np
import pytest

from tests.helpers import data_dir
from mlrun.datasets import california_housing
from mlrun.errors import UserError

HEADER = ("longitude,latitude,housing_median_age,total_rooms,total_bedrooms,population,households,"
          "median_income,median_house_value,ocean_proximity")
SPLIT = {"train": 0.8, "val": 0.0, "test": 0.2}


def write_csv(path, n=200, seed=0):
    rng = np.random.default_rng(seed)
    cats = ["<1H OCEAN", "INLAND", "NEAR BAY", "NEAR OCEAN", "ISLAND"]
    lines = [HEADER]
    for i in range(n):
        bedrooms = "" if i % 10 == 0 else f"{rng.uniform(100, 900):.1f}"          # 10% missing
        inc = rng.uniform(1, 10)
        lines.append(f"{rng.uniform(-124, -114):.2f},{rng.uniform(32, 42):.2f},{rng.integers(1, 52)},"
                     f"{rng.uniform(500, 5000):.1f},{bedrooms},{rng.integers(100, 3000)},{rng.integers(50, 900)},"
                     f"{inc:.4f},{50000 * inc + rng.normal(0, 20000):.1f},{cats[i % 5]}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_reads_csv_one_hot_and_imputes_from_train(tmp_path):
    data = california_housing(str(write_csv(tmp_path / "h.csv")), SPLIT, scaling="none", seed=0)
    assert data.spec.input_shape == (13,)                      # 8 numeric + 5 one-hot
    x = data.train.x.numpy()
    assert not np.isnan(x).any() and np.allclose(x[:, 8:].sum(1), 1)
    assert data.train.y.abs().max() < 10                       # in units of $100k


def test_missing_file_is_one_line(tmp_path):
    with pytest.raises(UserError, match=r"dataset.path=.*nope.csv'?: file not found; put housing.csv there"):
        california_housing(str(tmp_path / "nope.csv"), SPLIT)


def test_missing_column_and_garbage(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(UserError, match="missing column"):
        california_housing(str(bad), SPLIT)
    text = write_csv(tmp_path / "t.csv").read_text().replace("INLAND", "INLAND", 1).splitlines()
    text[3] = text[3].replace(text[3].split(",")[2], "twelve", 1)
    (tmp_path / "t.csv").write_text("\n".join(text))
    with pytest.raises(UserError, match="non-numeric value"):
        california_housing(str(tmp_path / "t.csv"), SPLIT)


def _ols_r2_matches_sklearn(path):
    from sklearn.linear_model import LinearRegression
    from sklearn.metrics import r2_score

    from mlrun.models import Linear
    from mlrun.fit.exact import ExactFit
    from mlrun.fit.loop import evaluate
    from mlrun.fit.losses import make_loss
    from mlrun.config.settings import TrainerSettings

    data = california_housing(str(path), SPLIT, seed=0)
    model, loss = Linear(data.spec, solver="exact"), make_loss(None, data.spec)
    list(ExactFit(model, data, TrainerSettings(l2=0.0), model, loss)())      # what model=linear runs
    ours = evaluate(model, data.test, loss, "regression")["r2"]
    sk = LinearRegression().fit(data.train.x.double().numpy(), data.train.y.double().numpy())
    theirs = r2_score(data.test.y.numpy(), sk.predict(data.test.x.double().numpy()))
    assert abs(ours - theirs) < 1e-4
    return ours


def test_ols_matches_sklearn_on_generated_csv(tmp_path):
    assert _ols_r2_matches_sklearn(write_csv(tmp_path / "h.csv", n=400)) > 0.5


def test_ols_matches_sklearn_on_real_csv():
    root = data_dir()
    path = root / "california_housing" / "housing.csv" if root else None
    if path is None or not path.is_file():
        pytest.skip("real housing.csv not available (set MLRUN_DATA_DIR)")
    assert 0.55 < _ols_r2_matches_sklearn(path) < 0.7           # the usual OLS test R² on this data


@pytest.mark.parametrize("value, column, what", [
    ("inf", "total_rooms", "infinite"), ("-inf", "median_income", "infinite"),
    ("1e308", "population", "beyond float32's range"), ("inf", "median_house_value", "infinite"),
    ("1e308", "median_house_value", "beyond float32's range"),
])
def test_non_finite_values_name_file_line_and_column(tmp_path, value, column, what):
    path = write_csv(tmp_path / "h.csv", n=50)
    lines = path.read_text().splitlines()
    j = HEADER.split(",").index(column)
    fields = lines[7].split(",")
    fields[j] = value
    lines[7] = ",".join(fields)                             # line 8 of the file (line 1 is the header)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(UserError, match=rf"h.csv'?: line 8, column {column}: value .* is {what}") as e:
        california_housing(str(path), SPLIT)
    assert "\n" not in str(e.value)


def test_duplicated_column_is_refused(tmp_path):
    path = write_csv(tmp_path / "h.csv", n=20)
    lines = path.read_text().splitlines()
    lines[0] = lines[0].replace("median_income", "median_house_value")     # a second target column: a leak
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(UserError, match=r"h.csv'?: the header names column\(s\) 'median_house_value' more than once"):
        california_housing(str(path), SPLIT)
