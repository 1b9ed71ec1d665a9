import json

import numpy as np
import pytest
import torch

from tests.helpers import make_cfg
from mlrun.datasets import diabetes
from mlrun.errors import UserError
from mlrun.models import Linear
from mlrun.fit import build
from mlrun.fit.run import train

SPLIT = {"train": 0.7, "val": 0.15, "test": 0.15}


def sklearn_r2(data, model_cls=None, **kw):
    from sklearn.linear_model import LinearRegression
    from sklearn.metrics import r2_score

    est = (model_cls or LinearRegression)(**kw).fit(data.train.x.double().numpy(), data.train.y.double().numpy())
    return r2_score(data.test.y.numpy(), est.predict(data.test.x.double().numpy())), est


def solved(*overrides: str) -> Linear:
    """The model after its fit, as `mlrun train` builds and fits it."""
    parts = build.assemble(make_cfg("model=linear", "dataset=diabetes", *overrides))
    list(parts.fitter.records())
    return parts.model


def test_default_is_exact_and_equals_linear_regression_r2(tmp_path):
    train(make_cfg("model=linear", "dataset=diabetes"), tmp_path)
    summary = json.loads((tmp_path / "summary.json").read_text())
    data = build.dataset(make_cfg("model=linear", "dataset=diabetes"))      # the run's own split and scaling
    theirs, _ = sklearn_r2(data)
    assert summary["solver"] == "exact" and summary["epochs_run"] == 1
    assert abs(summary["test_r2"] - theirs) < 1e-4
    stored = torch.load(tmp_path / "checkpoints" / "best.pt", weights_only=False)
    assert stored["config"]["model"]["solver"] == "exact"                  # the choice, recorded concretely


def test_lstsq_is_accepted_as_exact():
    assert Linear(diabetes(SPLIT).spec, solver="lstsq").solver == "exact"
    assert solved("model.solver=lstsq").solver == "exact"


def test_gradient_path_within_001_of_sklearn_and_logs_its_gap(tmp_path):
    import pandas as pd

    train(make_cfg("model=linear", "dataset=diabetes", "model.solver=gradient", "optimizer=sgd", "optimizer.lr=0.2",
                   "trainer.batch_size=full", "trainer.epochs=300", "trainer.patience=0"), tmp_path)
    summary = json.loads((tmp_path / "summary.json").read_text())
    theirs, _ = sklearn_r2(build.dataset(make_cfg("model=linear", "dataset=diabetes")))
    assert summary["solver"] == "gradient" and abs(summary["test_r2"] - theirs) < 0.01
    gap = pd.read_csv(tmp_path / "metrics.csv")["gap"].to_numpy()
    assert len(gap) == 300 and (gap >= -1e-6 * summary["optimum"]).all()    # never below the optimum
    assert gap[-1] < 1e-3 * gap[0] and (np.diff(gap) <= 1e-9 * gap[0]).mean() > 0.95   # full batch: decreasing


def test_ridge_weights_equal_sklearn_ridge():
    from sklearn.linear_model import Ridge

    data = build.dataset(make_cfg("model=linear", "dataset=diabetes"))
    _, ols = sklearn_r2(data)
    model = solved()
    assert np.allclose(model.linear.weight.detach().numpy(), ols.coef_.reshape(1, -1), rtol=1e-4, atol=1e-3)
    # mean squared error + l2·‖w‖² ≡ scikit-learn's ‖Xw − y‖² + alpha‖w‖² with alpha = l2·N
    l2 = 0.1
    model = solved(f"trainer.l2={l2}")
    _, ridge = sklearn_r2(data, Ridge, alpha=l2 * len(data.train))
    assert np.allclose(model.linear.weight.detach().numpy(), ridge.coef_.reshape(1, -1), rtol=1e-4, atol=1e-3)
    assert np.allclose(model.linear.bias.detach().numpy(), ridge.intercept_, rtol=1e-5)


def test_dependent_columns_are_named_and_min_norm_is_used(caplog):
    import dataclasses

    data = build.dataset(make_cfg("model=linear", "dataset=diabetes"))

    def widen(split):                       # column 10 = column 0 + column 1; column 11 constant
        x = torch.cat([split.x, split.x[:, :1] + split.x[:, 1:2], torch.ones(len(split.x), 1)], 1)
        return dataclasses.replace(split, x=x)

    spec = dataclasses.replace(data.spec, input_shape=(12,), features=[f"f{j}" for j in range(12)])
    wide = dataclasses.replace(data, train=widen(data.train), val=widen(data.val), test=widen(data.test), spec=spec)
    parts = build.assemble(make_cfg("model=linear"), data=wide)
    with caplog.at_level("WARNING", logger="mlrun"):
        list(parts.fitter.records())
    assert "constant: f11" in caplog.text and "linear combinations of earlier columns: f10" in caplog.text
    w = parts.model.linear.weight.detach()[0]
    assert w[11] == 0 and w.abs().max() < 100                               # minimum norm: no huge opposing pair
    ours = parts.model(wide.test.x).detach().numpy().ravel()
    assert np.allclose(ours, solved()(data.test.x).detach().numpy().ravel(), rtol=1e-4, atol=1e-2)


def test_exact_refuses_a_loss_it_does_not_minimise():
    with pytest.raises(UserError, match=r"model.solver=exact: the exact solver minimises least squares.*not "
                                        r"loss=mae; use model.solver=gradient"):
        build.assemble(make_cfg("model=linear", "dataset=diabetes", "model.solver=exact", "loss=mae"))
    parts = build.assemble(make_cfg("model=linear", "dataset=diabetes", "loss=mae"))
    assert parts.model.solver == "gradient"                                 # auto: the loop minimises mae


def test_linear_refuses_classification_and_bad_solver():
    from mlrun.datasets import digits

    with pytest.raises(UserError, match=r"model=linear: learns regression datasets; dataset=digits is multiclass "
                                        r"\(models for multiclass: cnn, logistic, mlp, node, pca, resnet_euler\)"):
        build.model(make_cfg("model=linear").model, digits(SPLIT).spec)
    with pytest.raises(UserError, match="model.solver='svd': valid choices are auto, exact, lstsq, gradient"):
        Linear(diabetes(SPLIT).spec, solver="svd")


def test_forward_shape_multi_target():
    from mlrun.datasets.spec import DataSpec

    model = Linear(DataSpec(input_shape=(3, 2), n_outputs=2, task="regression"))
    assert model(torch.zeros(5, 3, 2)).shape == (5, 2)
