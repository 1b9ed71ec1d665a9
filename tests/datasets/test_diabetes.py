import json

import numpy as np
import pytest

from tests.helpers import make_cfg
from mlrun.datasets import diabetes
from mlrun.datasets.splits import split_indices
from mlrun.fit.run import train

SPLIT = {"train": 0.7, "val": 0.15, "test": 0.15}


def test_diabetes_is_regression_with_column_targets():
    data = diabetes({"train": 0.8, "val": 0.0, "test": 0.2}, seed=0)
    assert data.spec.task == "regression" and data.spec.n_outputs == 1 and data.spec.metric == "r2"
    assert data.train.y.shape == (len(data.train), 1) and data.train.x.shape[1] == 10
    assert len(data.val) == 0 and len(data.train) + len(data.test) == 442


def _sklearn_split():
    """scikit-learn's diabetes, its train and test rows as dataset=diabetes splits them (seed 0), and the
    LinearRegression fitted on the train rows."""
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import LinearRegression

    x, y = load_diabetes(return_X_y=True)
    tr, _, te = split_indices(np.zeros(len(y)), (0.7, 0.15, 0.15), seed=0, stratify=False)
    return x, y, tr, te, LinearRegression().fit(x[tr], y[tr])


def test_the_target_is_learnt_standardized_and_kept_in_its_units():
    _, y, tr, te, _ = _sklearn_split()
    data = diabetes(SPLIT, seed=0)
    assert float(data.train.y.mean()) == pytest.approx(0.0, abs=1e-5)
    assert float(data.train.y.std(unbiased=False)) == pytest.approx(1.0, abs=1e-5)
    target = data.spec.transform["target"]
    assert target["shift"] == pytest.approx(y[tr].mean()) and target["scale"] == pytest.approx(y[tr].std())
    assert data.test.y_scale == pytest.approx(y[tr].std())
    back = data.test.y[:, 0].double().numpy() * target["scale"] + target["shift"]
    assert np.allclose(back, y[te], atol=1e-3)                          # the same rows, in the target's units
    raw = diabetes(SPLIT, seed=0, target_scaling="none")
    assert raw.test.y_scale == 1.0 and "target" not in raw.spec.transform
    assert np.allclose(raw.test.y[:, 0].numpy(), y[te])


def test_lstsq_equals_sklearn_in_the_targets_units(tmp_path):
    """The closed-form fit on the standardized target gives scikit-learn's R², rmse/mae and predictions."""
    import mlrun

    x, y, _, te, fit = _sklearn_split()
    train(make_cfg("dataset=diabetes", "model=linear", "model.solver=lstsq"), tmp_path / "run")
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    theirs = fit.predict(x[te])
    assert summary["test_r2"] == pytest.approx(fit.score(x[te], y[te]), abs=1e-4)
    assert summary["test_rmse"] == pytest.approx(np.sqrt(np.mean((theirs - y[te]) ** 2)), rel=1e-4)
    assert summary["test_mae"] == pytest.approx(np.mean(np.abs(theirs - y[te])), rel=1e-4)
    ours = mlrun.load(tmp_path / "run").predict(x[te])["prediction"].to_numpy()
    assert np.allclose(ours, theirs, rtol=1e-4)


@pytest.mark.parametrize("model", ["linear", "mlp"])
def test_defaults_beat_the_mean(tmp_path, one_thread, model):
    """`mlrun train model=linear|mlp dataset=diabetes` with every default (30 epochs, Adam lr 0.001): a positive
    test R² (the raw target, mean 152, gave −4.90 for linear and −4.10 for mlp), beside scikit-learn's LinearRegression."""
    x, y, _, te, fit = _sklearn_split()
    train(make_cfg("dataset=diabetes", f"model={model}", "device=cpu", shrink=False), tmp_path / "run")
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    best = fit.score(x[te], y[te])                                       # ≈ 0.5 on this split
    assert 0.0 < summary["test_r2"] <= best + 0.1
    assert summary["test_rmse"] < np.std(y[te]) * 1.01                    # in the target's units: beats the mean
