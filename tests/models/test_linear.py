import numpy as np
import pytest
import torch

from tests.helpers import make_cfg
from mlrun.datasets import diabetes
from mlrun.errors import UserError
from mlrun.models import Linear
from mlrun.fit.run import train

SPLIT = {"train": 0.7, "val": 0.15, "test": 0.15}


def sklearn_r2(data, model_cls=None, **kw):
    from sklearn.linear_model import LinearRegression
    from sklearn.metrics import r2_score

    est = (model_cls or LinearRegression)(**kw).fit(data.train.x.double().numpy(), data.train.y.double().numpy())
    return r2_score(data.test.y.numpy(), est.predict(data.test.x.double().numpy())), est


def test_lstsq_matches_sklearn_r2_through_the_trainer(tmp_path):
    import json

    train(make_cfg("model=linear", "dataset=diabetes", "model.solver=lstsq"), tmp_path)
    summary = json.loads((tmp_path / "summary.json").read_text())
    theirs, _ = sklearn_r2(diabetes(SPLIT, seed=0))
    assert abs(summary["test_r2"] - theirs) < 1e-4


def test_gradient_path_within_001_of_sklearn(tmp_path):
    import json

    train(make_cfg("model=linear", "dataset=diabetes", "optimizer=sgd", "optimizer.lr=0.2",
                   "trainer.batch_size=full", "trainer.epochs=300", "trainer.patience=0"), tmp_path)
    summary = json.loads((tmp_path / "summary.json").read_text())
    theirs, _ = sklearn_r2(diabetes(SPLIT, seed=0))
    assert abs(summary["test_r2"] - theirs) < 0.01


def test_closed_form_weights_and_ridge():
    from sklearn.linear_model import Ridge

    data = diabetes(SPLIT, seed=0)
    model = Linear(data.spec, solver="lstsq")
    model.fit_closed_form(data.train.x, data.train.y)
    _, ols = sklearn_r2(data)
    assert np.allclose(model.linear.weight.detach().numpy(), ols.coef_, rtol=1e-4, atol=1e-3)
    # mean squared error + l2·‖w‖² ≡ scikit-learn's ‖Xw − y‖² + alpha‖w‖² with alpha = l2·N
    l2 = 0.1
    model.fit_closed_form(data.train.x, data.train.y, l2=l2)
    _, ridge = sklearn_r2(data, Ridge, alpha=l2 * len(data.train))
    assert np.allclose(model.linear.weight.detach().numpy(), ridge.coef_, rtol=1e-4, atol=1e-3)
    assert np.allclose(model.linear.bias.detach().numpy(), ridge.intercept_, rtol=1e-5)


def test_linear_refuses_classification_and_bad_solver():
    from mlrun.datasets import digits

    from mlrun.fit.build import model

    with pytest.raises(UserError, match=r"model=linear: learns regression datasets; dataset=digits is multiclass "
                                        r"\(models for multiclass: cnn, logistic, mlp, node, pca, resnet_euler\)"):
        model(make_cfg("model=linear").model, digits(SPLIT).spec)
    with pytest.raises(UserError, match="model.solver='svd': valid choices are gradient, lstsq"):
        Linear(diabetes(SPLIT).spec, solver="svd")


def test_forward_shape_multi_target():
    from mlrun.datasets.spec import DataSpec

    model = Linear(DataSpec(input_shape=(3, 2), n_outputs=2, task="regression"))
    assert model(torch.zeros(5, 3, 2)).shape == (5, 2)
