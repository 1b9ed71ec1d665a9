"""The bundled-file reader returns exactly what scikit-learn's loaders return, without importing sklearn.datasets."""

import subprocess
import sys

import numpy as np
import pytest

from mlrun.datasets._sklearn import BUNDLED, FEATURES, bundled


@pytest.mark.parametrize("loader", sorted(BUNDLED))
def test_bundled_equals_sklearn(loader):
    import sklearn.datasets

    bunch = getattr(sklearn.datasets, loader)()
    x, y, names = bundled(loader)
    np.testing.assert_array_equal(x, bunch.data)
    np.testing.assert_array_equal(y, bunch.target)
    assert names == [str(c) for c in bunch.target_names]
    assert FEATURES[loader] == [str(c) for c in bunch.feature_names]      # the spec's names: predict reads by name


def test_digits_builds_without_importing_sklearn_datasets():
    code = ("import sys; from mlrun.datasets import digits; "
            "d = digits({'train': 0.7, 'val': 0.15, 'test': 0.15}); "
            "print(len(d.train), 'sklearn.datasets' in sys.modules, 'pandas' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["1258", "False", "False"]       # 70% of 1,797, rounded per class


def test_unknown_loader_falls_back():
    assert bundled("load_diabetes") is None
