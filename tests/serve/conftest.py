"""The run the serve tests serve: logistic regression on a small binary table with a text column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlrun.fit.run import train
from tests.helpers import make_cfg


@pytest.fixture(scope="package")
def table_run(tmp_path_factory):
    """(run folder, 5 new rows with a gap, an unseen and a missing category, written as new.csv beside the run)."""
    root = tmp_path_factory.mktemp("serve")
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=160), rng.normal(size=160)
    colour = rng.choice(["red", "blue"], size=160)
    frame = pd.DataFrame({"a": a, "b": b, "colour": colour, "y": np.where(a + (colour == "red") > 0, "yes", "no")})
    frame.to_csv(root / "train.csv", index=False)
    train(make_cfg("dataset=table", f"dataset.path={root / 'train.csv'}", "dataset.target=y", "model=logistic"),
          root / "run")
    new = frame.drop(columns="y").head(5)
    new.loc[1, "a"], new.loc[2, "colour"], new.loc[3, "colour"] = np.nan, "purple", None
    new.to_csv(root / "new.csv", index=False)
    return root / "run", new
