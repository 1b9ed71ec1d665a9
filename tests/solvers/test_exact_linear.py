"""mlrun.solvers.exact_linear: least squares and ridge against scikit-learn (alpha = N·T·l2), the minimum-norm
answer with constant and collinear columns, and which columns those are."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.preprocessing import StandardScaler

from mlrun.errors import UserError
from mlrun.solvers.exact_linear import dependent_columns, fit, objective, optimum


def diabetes():
    x, y = load_diabetes(return_X_y=True)
    return StandardScaler().fit_transform(x), y


def numpy_objective(coef, intercept, x, y, l2):
    """mean squared error over rows and targets + l2·‖coef‖², written out (sklearn layout: coef (T, D))."""
    coef = np.atleast_2d(coef)
    err = x @ coef.T + intercept - y.reshape(len(y), -1)
    return float(np.mean(err ** 2) + l2 * np.sum(coef ** 2))


def test_least_squares_equals_linear_regression():
    x, y = diabetes()
    sk = LinearRegression().fit(x, y)
    solution = fit(torch.tensor(x), torch.tensor(y))
    np.testing.assert_allclose(solution.weight.numpy()[0], sk.coef_, rtol=1e-9, atol=1e-9)
    assert float(solution.bias[0]) == pytest.approx(sk.intercept_, rel=1e-12)
    assert solution.rank == x.shape[1]
    assert solution.objective == pytest.approx(numpy_objective(sk.coef_, sk.intercept_, x, y, 0.0), rel=1e-12)


@pytest.mark.parametrize("l2", [1e-3, 0.1, 10.0])
def test_ridge_equals_scikit_learn_with_alpha_n_l2(l2):
    x, y = diabetes()
    sk = Ridge(alpha=len(x) * l2).fit(x, y)
    solution = fit(torch.tensor(x), torch.tensor(y), l2)
    np.testing.assert_allclose(solution.weight.numpy()[0], sk.coef_, rtol=1e-8, atol=1e-10)
    assert solution.objective == pytest.approx(numpy_objective(sk.coef_, sk.intercept_, x, y, l2), rel=1e-12)
    assert optimum(torch.tensor(x), torch.tensor(y), l2) == pytest.approx(solution.objective, rel=1e-12)


def test_several_targets_use_alpha_n_t_l2():
    x, _ = diabetes()
    y = np.random.default_rng(0).normal(size=(len(x), 3)) + x[:, :3]
    sk = Ridge(alpha=len(x) * 3 * 0.01).fit(x, y)
    solution = fit(torch.tensor(x), torch.tensor(y), 0.01)
    np.testing.assert_allclose(solution.weight.numpy(), sk.coef_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(solution.bias.numpy(), sk.intercept_, rtol=1e-10)


def test_constant_and_collinear_columns_get_the_minimum_norm_answer():
    x, y = diabetes()
    rng = np.random.default_rng(1)
    wide = np.column_stack([x, np.full(len(x), 3.0), x[:, 2], 2 * x[:, 0] - x[:, 4], rng.normal(size=len(x))])
    sk = LinearRegression().fit(wide, y)                       # gelsd on centred data: minimum norm too
    solution = fit(torch.tensor(wide), torch.tensor(y))
    assert solution.rank == x.shape[1] + 1                     # 10 + the noise column
    np.testing.assert_allclose(solution.weight.numpy()[0], sk.coef_, rtol=1e-7, atol=1e-9)
    assert solution.objective == pytest.approx(numpy_objective(sk.coef_, sk.intercept_, wide, y, 0.0), rel=1e-10)
    # the duplicated column shares the weight equally with its twin; the constant column gets none
    w = solution.weight.numpy()[0]
    assert w[10] == pytest.approx(0.0, abs=1e-12) and w[11] == pytest.approx(w[2], rel=1e-8)
    assert dependent_columns(torch.tensor(wide)) == ([10], [11, 12])


def test_dependent_columns_edge_cases():
    x = torch.tensor([[1.0, 0.0, 5.0, 2.0], [2.0, 0.0, 5.0, 4.0], [4.0, 0.0, 5.0, 8.0]])
    assert dependent_columns(x) == ([1, 2], [3])
    assert dependent_columns(torch.randn(50, 4, dtype=torch.float64)) == ([], [])


def test_objective_and_bad_l2():
    x, y = diabetes()
    w, b = torch.randn(1, 10, dtype=torch.float64), torch.randn(1, dtype=torch.float64)
    assert objective(w, b, torch.tensor(x), torch.tensor(y), 0.3) == pytest.approx(
        numpy_objective(w.numpy(), b.numpy(), x, y, 0.3), rel=1e-12)
    with pytest.raises(UserError, match="trainer.l2"):
        fit(torch.tensor(x), torch.tensor(y), -0.1)
