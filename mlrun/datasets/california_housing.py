"""California housing (1990 census, 20,640 block groups) from the common `housing.csv`.

The CSV has 9 numeric columns and `ocean_proximity` (5 categories, one-hot encoded here);
`total_bedrooms` has 207 missing values, imputed with the train split's median. A value that float32 cannot hold
(inf, 1e308) or a column named twice in the header is refused at load, naming the line and column.
Target: `median_house_value` in dollars, divided by `target_scale` (default 1e5: units of $100k); with
target_scaling=standardize (default) the model learns it as (y − mean) / std of train, and rmse/mae and
predictions are reported in units of target_scale dollars.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from mlrun.datasets._checks import check_data_file, check_finite, check_unique_columns
from mlrun.datasets.spec import Data, DataSpec
from mlrun.datasets.splits import tabular
from mlrun.errors import UserError

TARGET = "median_house_value"
CATEGORICAL = "ocean_proximity"


def california_housing(path: str, split: dict, scaling: str = "standardize", seed: int = 0,
                       target_scale: float = 1e5, download: bool = False,
                       target_scaling: str = "standardize") -> Data:
    """Read `path` (housing.csv); if it is missing and `download` is true, use scikit-learn's fetcher
    (its 8-feature version, without `ocean_proximity`)."""
    if target_scale <= 0:
        raise UserError(f"dataset.target_scale={target_scale}: must be > 0 (the target is divided by it)")
    file = Path(str(path)).expanduser()
    if os.path.lexists(file):                    # anything there (a link, a FIFO, a folder) must be a regular file
        x, y, names = read_housing_csv(check_data_file(file, f"dataset.path={str(file)!r}"))
    elif download:
        x, y, names = _fetch()
    else:
        raise UserError(f"dataset.path={str(file)!r}: file not found; put housing.csv there, set MLRUN_DATA_DIR "
                        f"to a folder with california_housing/housing.csv, or pass dataset.download=true")
    spec = DataSpec(input_shape=(x.shape[1],), n_outputs=1, task="regression", name="california_housing",
                    features=list(map(str, names)))
    return tabular(x, y / target_scale, spec, split, scaling, seed, target_scaling)


def read_housing_csv(file: Path):
    """(x (N, 13) float64 with NaN where missing, y (N,) dollars, feature names)."""
    import pandas as pd

    name = f"dataset.path={str(file)!r}"
    try:
        header = pd.read_csv(file, header=None, nrows=1, dtype=str, keep_default_na=False)
        check_unique_columns(header.iloc[0].tolist() if len(header) else [], name)   # pandas would rename a copy
        df = pd.read_csv(file)
    except UserError:
        raise
    except Exception as e:  # noqa: BLE001 - any parse failure is the file's fault
        raise UserError(f"{name}: not a readable CSV ({type(e).__name__}: {e})") from None
    missing = [c for c in (TARGET, CATEGORICAL) if c not in df.columns]
    if missing:
        raise UserError(f"dataset.path={str(file)!r}: missing column(s) {', '.join(missing)}; "
                        f"expected the housing.csv columns incl. {TARGET} and {CATEGORICAL}")
    numeric = df.drop(columns=[CATEGORICAL])
    bad = numeric.apply(pd.to_numeric, errors="coerce").isna() & numeric.notna()
    if bad.any().any():                                  # name the first bad cell: line (1 = header), column
        rows, cols = np.nonzero(bad.to_numpy())           # row-major: the first bad cell comes first
        row, column = int(rows[0]), bad.columns[cols[0]]
        raise UserError(f"dataset.path={str(file)!r}: line {row + 2}, column {column}: non-numeric value "
                        f"{str(numeric.iloc[row][column])[:40]!r}")
    numeric = numeric.apply(pd.to_numeric)
    check_finite(numeric.to_numpy(np.float64), name, numeric.columns, first_line=2)   # inf, 1e308 → one line
    numeric = numeric.drop(columns=[TARGET])
    y = pd.to_numeric(df[TARGET]).to_numpy(np.float64)
    onehot = pd.get_dummies(df[CATEGORICAL].astype(str), prefix=CATEGORICAL, dtype=np.float64)
    x = np.concatenate([numeric.to_numpy(np.float64), onehot.to_numpy()], axis=1)
    if np.isnan(y).any():
        raise UserError(f"dataset.path={str(file)!r}: {int(np.isnan(y).sum())} rows lack {TARGET}")
    return x, y, list(numeric.columns) + list(onehot.columns)


def _fetch():
    try:
        from sklearn.datasets import fetch_california_housing

        bunch = fetch_california_housing()
    except Exception as e:  # noqa: BLE001 - network, proxy or cache failures all end the same way
        raise UserError(f"dataset.download=true: scikit-learn's fetch_california_housing failed "
                        f"({type(e).__name__}); put housing.csv under the data root instead") from None
    return bunch.data.astype(np.float64), bunch.target.astype(np.float64) * 1e5, list(bunch.feature_names)
