"""model=logistic: solved exactly by default through the train path, to scikit-learn's optimum (same penalty:
C = 1/(2·N·trainer.l2)); the gradient loop on request; one line for separable classes without L2."""

import json

import numpy as np
import pytest
import torch
from scipy.special import logsumexp

from tests.helpers import make_cfg
from mlrun.datasets import diabetes, digits
from mlrun.errors import UserError
from mlrun.fit import build
from mlrun.fit.run import train
from mlrun.models import Logistic

SPLIT = {"train": 0.7, "val": 0.15, "test": 0.15}


def numpy_objective(coef, intercept, x, y, l2) -> float:
    """mean CE + l2·‖coef‖² (coef (K, D), K = 1 for binary), independent of mlrun's code."""
    z = x @ coef.T + intercept
    ce = np.logaddexp(0, z[:, 0]) - y * z[:, 0] if coef.shape[0] == 1 else logsumexp(z, 1) - z[np.arange(len(y)), y]
    return float(ce.mean() + l2 * np.sum(coef ** 2))


@pytest.mark.parametrize("name", ["iris", "wine", "breast_cancer",
                                  pytest.param("digits", marks=pytest.mark.slow)])
def test_default_run_reaches_sklearn_objective(name, tmp_path, one_thread):
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    cfg = make_cfg("model=logistic", f"dataset={name}")
    train(cfg, tmp_path)
    summary = json.loads((tmp_path / "summary.json").read_text())
    weights = torch.load(tmp_path / "checkpoints" / "best.pt", weights_only=False)["model"]
    data = build.dataset(cfg)                                 # the run's own split and scaling
    x, y = data.train.x.double().numpy(), data.train.y.numpy().astype(int).ravel()
    l2 = cfg.trainer.l2
    assert summary["solver"] == "exact" and l2 == 1e-3        # model=logistic's default_l2
    with threadpool_limits(1):
        sk = LogisticRegression(C=1 / (2 * len(x) * l2), tol=1e-10, max_iter=10_000,
                                solver="newton-cholesky").fit(x, y)
    theirs = numpy_objective(sk.coef_, sk.intercept_, x, y, l2)
    ours = numpy_objective(weights["linear.weight"].double().numpy(), weights["linear.bias"].double().numpy(), x, y, l2)
    assert ours == pytest.approx(theirs, rel=1e-6) and summary["optimum"] == pytest.approx(theirs, rel=1e-6)
    assert summary["test_acc"] == pytest.approx(sk.score(data.test.x.double().numpy(),
                                                         data.test.y.numpy().ravel()), abs=1 / len(data.test))


def test_gradient_on_request_logs_a_gap_to_the_optimum(tmp_path):
    import pandas as pd

    train(make_cfg("model=logistic", "dataset=breast_cancer", "model.solver=gradient", "optimizer=sgd",
                   "optimizer.lr=0.5", "trainer.batch_size=full", "trainer.epochs=40", "trainer.patience=0"),
          tmp_path)
    summary = json.loads((tmp_path / "summary.json").read_text())
    gap = pd.read_csv(tmp_path / "metrics.csv")["gap"].to_numpy()
    assert summary["solver"] == "gradient" and summary["optimum"] > 0
    assert (gap >= 0).all() and gap[-1] < 0.2 * gap[0]
    assert (np.diff(gap) <= 1e-9).mean() > 0.9                # full-batch descent: (nearly) monotone


def test_separable_without_l2_is_one_line():
    with pytest.raises(UserError, match=r"trainer.l2=0: the train classes are linearly separable.*trainer.l2"):
        parts = build.assemble(make_cfg("model=logistic", "dataset=breast_cancer", "trainer.l2=0"))
        list(parts.fitter.records())


def test_exact_refuses_hinge_and_auto_trains_it_by_gradient():
    with pytest.raises(UserError, match="model.solver=exact: .*not loss=hinge; use model.solver=gradient"):
        build.assemble(make_cfg("model=logistic", "dataset=breast_cancer", "model.solver=exact", "loss=hinge"))
    assert build.assemble(make_cfg("model=logistic", "dataset=breast_cancer", "loss=hinge")).model.solver == "gradient"


def test_binary_has_one_logit_multiclass_has_c():
    from mlrun.datasets import breast_cancer

    assert Logistic(breast_cancer(SPLIT).spec)(torch.zeros(4, 30)).shape == (4, 1)
    assert Logistic(digits(SPLIT).spec)(torch.zeros(4, 64)).shape == (4, 10)


def test_logistic_refuses_regression_and_bad_options():
    with pytest.raises(UserError, match="model=logistic: learns binary, multiclass datasets; dataset=diabetes is "
                                        "regression"):
        build.model(make_cfg("model=logistic").model, diabetes(SPLIT).spec)
    with pytest.raises(UserError, match="model.solver='newton': valid choices are auto, exact, lstsq, gradient"):
        Logistic(digits(SPLIT).spec, solver="newton")
    with pytest.raises(UserError, match="model.default_l2"):
        Logistic(digits(SPLIT).spec, default_l2=-1.0)
