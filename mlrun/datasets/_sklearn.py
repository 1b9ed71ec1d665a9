"""Shared helper for the small tables that ship inside scikit-learn (no download)."""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

import numpy as np

from mlrun.datasets.spec import Data, DataSpec
from mlrun.datasets.splits import tabular

# loader → scikit-learn's bundled file, read directly: importing sklearn.datasets costs ~1–2.5 s of start-up
# (scipy, pandas), more than the rest of a small run. Files with a header "n_samples,n_features,class names...".
BUNDLED = {"load_digits": "digits.csv.gz", "load_iris": "iris.csv", "load_breast_cancer": "breast_cancer.csv",
           "load_wine": "wine_data.csv"}
# diabetes stays with sklearn.datasets: its bundled file holds the raw features, load_diabetes() the scaled ones

# The feature names scikit-learn's loaders give (`load_iris().feature_names`, ...), kept in the spec so that
# `mlrun predict` takes a file's columns by name (a frame of `load_iris(as_frame=True)` in any column order).
_CANCER = ["radius", "texture", "perimeter", "area", "smoothness", "compactness", "concavity", "concave points",
           "symmetry", "fractal dimension"]
FEATURES = {
    "load_iris": ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"],
    "load_wine": ["alcohol", "malic_acid", "ash", "alcalinity_of_ash", "magnesium", "total_phenols", "flavanoids",
                  "nonflavanoid_phenols", "proanthocyanins", "color_intensity", "hue", "od280/od315_of_diluted_wines",
                  "proline"],
    "load_breast_cancer": [f"mean {c}" for c in _CANCER] + [f"{c} error" for c in _CANCER]
                          + [f"worst {c}" for c in _CANCER],
    "load_digits": [f"pixel_{r}_{c}" for r in range(8) for c in range(8)],
}


def bundled(loader: str) -> tuple[np.ndarray, np.ndarray, list[str]] | None:
    """(x, y, class names) from the CSV inside the installed scikit-learn, without importing it; None when the
    file is not where this scikit-learn keeps it (then the caller uses sklearn.datasets)."""
    spec = importlib.util.find_spec("sklearn")
    if loader not in BUNDLED or spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / BUNDLED[loader]
    if not path.is_file():
        return None
    with (gzip.open(path, "rt") if path.suffix == ".gz" else open(path)) as f:
        text = f.read()
    if loader == "load_digits":                          # no header: 64 pixels then the digit
        table = np.loadtxt(text.splitlines(), delimiter=",")
        return table[:, :-1], table[:, -1].astype(int), [str(c) for c in range(10)]
    header, _, body = text.partition("\n")
    table = np.loadtxt(body.splitlines(), delimiter=",", ndmin=2)
    return table[:, :-1], table[:, -1].astype(int), header.strip().split(",")[2:]


def sklearn_table(name: str, loader: str, task: str, split: dict, scaling: str, seed: int,
                  target_scaling: str = "none") -> Data:
    """A bundled table split by `split`; target_scaling: see mlrun.datasets.splits.tabular (regression only)."""
    found = bundled(loader)
    features = FEATURES.get(loader, [])
    if found is not None:
        x, y, names = found
    else:
        import sklearn.datasets  # imported here: ~1 s that runs without it never pay

        bunch = getattr(sklearn.datasets, loader)()
        x, y = bunch.data, np.asarray(bunch.target)
        names = [str(c) for c in getattr(bunch, "target_names", [])]
        features = [str(c) for c in getattr(bunch, "feature_names", features)]
    x = np.asarray(x, dtype=np.float64)
    classes = names if task != "regression" else []
    n_outputs = {"regression": 1, "binary": 1, "multiclass": len(np.unique(y))}[task]
    spec = DataSpec(input_shape=(x.shape[1],), n_outputs=n_outputs, task=task, name=name, classes=classes,
                    features=features if len(features) == x.shape[1] else [])
    return tabular(x, y, spec, split, scaling, seed, target_scaling)
