"""mlrun.serve.fast: the quick path gives predict's numbers, and hands anything unusual back (None) to predict."""

from __future__ import annotations

import numpy as np

from mlrun.fit.run import train
from mlrun.infer.predict import Predictor
from mlrun.serve.fast import TableFast
from tests.helpers import make_cfg


def test_table_rows_and_built_in_rows_match_predict(table_run, tmp_path):
    run, new = table_run
    predictor = Predictor.load(run)
    rows = [{k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in r.items()}
            for r in new.to_dict("records")]
    fast, want = TableFast(predictor).answer(rows, True), predictor.predict(new, proba=True)
    assert fast["predictions"] == list(want["prediction"])
    assert np.allclose(fast["probabilities"], want[["p_no", "p_yes"]].to_numpy(), atol=1e-7)
    for odd in ({"a": "1.5", "b": 0.0, "colour": "red"}, {"a": True, "b": 0.0, "colour": "red"},
                {"a": 1e308, "b": 0.0, "colour": "red"}, {"b": 0.0, "colour": "red"}, {"a": 1, "b": 0, "colour": [1]}):
        assert TableFast(predictor).answer([odd], False) is None, odd          # predict answers these itself

    train(make_cfg("dataset=iris", "model=logistic"), tmp_path / "iris")
    predictor = Predictor.load(tmp_path / "iris")
    rows = [[5.1, None, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]
    fast = TableFast(predictor).answer(rows, True)
    want = predictor.predict(np.array(rows, dtype=float), proba=True)
    assert fast["predictions"] == list(want["prediction"]) and fast["predictions"][1] == "virginica"
    assert np.allclose(fast["probabilities"], want[[f"p_{c}" for c in fast["classes"]]].to_numpy(), atol=1e-7)
    assert TableFast(predictor).answer([{"a": 1}], False) is None
    assert TableFast(predictor).answer([[1, 2]], False) is None
