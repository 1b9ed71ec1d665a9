"""mlrun.solvers.exact_logistic: the optimum of mean CE + l2·‖W‖² equals scikit-learn's LogisticRegression optimum
(C = 1/(2·N·l2)) on iris, wine, breast_cancer and digits, binary and multinomial; the separable case is refused."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.special import logsumexp
from threadpoolctl import threadpool_limits
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from mlrun.errors import UserError
from mlrun.solvers.exact_logistic import fit, objective, optimum

LOADERS = {"iris": load_iris, "wine": load_wine, "breast_cancer": load_breast_cancer, "digits": load_digits}
CASES = [("iris", "multinomial"), ("iris", "binary"), ("wine", "multinomial"), ("wine", "binary"),
         ("breast_cancer", "binary"), ("digits", "multinomial"), ("digits", "binary")]


def standardized(name: str, kind: str):
    x, y = LOADERS[name](return_X_y=True)
    x = StandardScaler().fit_transform(x)
    if kind == "binary" and len(np.unique(y)) > 2:
        y = (y == y.max()).astype(int)                     # the last class against the rest
    return x, y


def numpy_objective(coef: np.ndarray, intercept: np.ndarray, x: np.ndarray, y: np.ndarray, l2: float) -> float:
    """mean CE + l2·‖coef‖², written out independently of the module (sklearn's layout: coef (K, D))."""
    z = x @ coef.T + intercept
    if coef.shape[0] == 1:
        ce = np.logaddexp(0, z[:, 0]) - y * z[:, 0]
    else:
        ce = logsumexp(z, axis=1) - z[np.arange(len(y)), y]
    return float(ce.mean() + l2 * np.sum(coef ** 2))


@pytest.mark.parametrize("name,kind", CASES)
@pytest.mark.parametrize("l2", [1e-2, 1e-4])
def test_optimum_matches_scikit_learn(name, kind, l2, one_thread):
    x, y = standardized(name, kind)
    k = 1 if kind == "binary" else len(np.unique(y))
    with threadpool_limits(1):       # BLAS threads on a shared 2-core machine: 25 s instead of 0.5 s for digits
        sk = LogisticRegression(C=1 / (2 * len(x) * l2), tol=1e-10, max_iter=10_000,
                                solver="newton-cholesky").fit(x, y)
    reference = numpy_objective(sk.coef_, sk.intercept_, x, y, l2)
    solution = fit(torch.tensor(x), torch.tensor(y), k, l2)
    assert solution.converged and solution.weight.shape == (k, x.shape[1])
    assert solution.objective == pytest.approx(reference, rel=1e-6)
    assert solution.objective <= reference * (1 + 1e-9)          # never worse than scikit-learn's answer
    mine = numpy_objective(solution.weight.numpy(), solution.bias.numpy(), x, y, l2)
    assert mine == pytest.approx(solution.objective, rel=1e-12)  # the reported objective is f at the weights


@pytest.mark.parametrize("method", ["newton", "lbfgs"])
def test_both_methods_reach_the_same_optimum(method, one_thread):
    x, y = standardized("wine", "multinomial")
    solution = fit(torch.tensor(x), torch.tensor(y), 3, 1e-3, method=method)
    assert solution.converged and solution.method == method
    assert solution.objective == pytest.approx(optimum(torch.tensor(x), torch.tensor(y), 3, 1e-3), rel=1e-9)


def test_no_l2_matches_scikit_learn_without_penalty():
    x, y = standardized("wine", "binary")
    x = x[:, :3]                                          # 3 features: the classes overlap, a finite optimum
    sk = LogisticRegression(C=np.inf, tol=1e-10, max_iter=10_000, solver="newton-cholesky").fit(x, y)
    solution = fit(torch.tensor(x), torch.tensor(y), 1, 0.0)
    assert solution.objective == pytest.approx(numpy_objective(sk.coef_, sk.intercept_, x, y, 0.0), rel=1e-6)


@pytest.mark.parametrize("method", ["newton", "lbfgs"])
@pytest.mark.parametrize("kind", ["binary", "multinomial"])
def test_separable_without_l2_is_one_line_error(method, kind, one_thread):
    if kind == "binary":
        x, y = standardized("iris", "multinomial")
        y = (y == 0).astype(int)                          # setosa vs the rest: linearly separable
    else:
        x, y = standardized("wine", "multinomial")        # the 3 wines, 13 features: separable
    k = 1 if kind == "binary" else 3
    with pytest.raises(UserError, match="trainer.l2") as err:
        fit(torch.tensor(x), torch.tensor(y), k, 0.0, method=method)
    assert "\n" not in str(err.value)
    assert fit(torch.tensor(x), torch.tensor(y), k, 1e-3, method=method).converged    # with L2 it solves


def test_objective_function_and_bad_options():
    x, y = standardized("iris", "multinomial")
    w, b = torch.randn(3, 4, dtype=torch.float64), torch.randn(3, dtype=torch.float64)
    assert objective(w, b, torch.tensor(x), torch.tensor(y), 0.5) == pytest.approx(
        numpy_objective(w.numpy(), b.numpy(), x, y, 0.5), rel=1e-12)
    with pytest.raises(UserError, match="trainer.l2"):
        fit(torch.tensor(x), torch.tensor(y), 3, -1.0)
    with pytest.raises(UserError, match="method"):
        fit(torch.tensor(x), torch.tensor(y), 3, 1.0, method="sgd")
