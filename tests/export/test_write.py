"""mlrun.export.write (`mlrun export`): table runs as ONNX and TorchScript files that take raw rows and give
`mlrun predict`'s outputs, checked in a fresh process that never imports mlrun."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlrun.errors import UserError
from mlrun.export.write import export_checkpoint
from mlrun.fit.run import train
from mlrun.infer.predict import Predictor
from tests.export.conftest import exported, verify_outside_mlrun
from tests.helpers import make_cfg


def mixed(n: int, seed: int) -> pd.DataFrame:
    """Numbers with gaps, a colour with gaps and a rare value, a binary label and a value to regress."""
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=n), rng.normal(size=n)
    colour = rng.choice(["red", "green", "blue", "teal"], p=[0.4, 0.3, 0.25, 0.05], size=n).astype(object)
    label = np.where(a + b + (colour == "red") > 0.3, "yes", "no")
    value = 50 + 10 * b + 3 * a + 5 * (colour == "red")
    a[rng.random(n) < 0.1] = np.nan
    colour[rng.random(n) < 0.1] = None
    return pd.DataFrame({"id": [f"r{i}" for i in range(n)], "a": a, "b": b, "colour": colour, "y": label,
                         "v": value})


@pytest.fixture(scope="module")
def runs(tmp_path_factory, needs_export):
    """Three table runs: MLP on a binary target with categories (other, missing indicators), linear regression
    with a standardized target, logistic on iris (a built-in table: raw feature columns)."""
    root = tmp_path_factory.mktemp("export")
    mixed(240, 0).to_csv(root / "train.csv", index=False)
    common = ("dataset=table", f"dataset.path={root / 'train.csv'}", "dataset.max_categories=3",
              "dataset.missing_indicators=true")
    train(make_cfg(*common, "dataset.target=y", "dataset.drop=[id,v]", "model=mlp", "model.hidden=[4]",
                   "trainer.epochs=1"), root / "mlp")
    train(make_cfg(*common, "dataset.target=v", "dataset.drop=[id,y]", "model=linear", "trainer.l2=0.1"),
          root / "linear")
    train(make_cfg("dataset=iris", "model=logistic"), root / "iris")
    return root


def table_cases(runs, formats):
    """{run-format: (file, meta, rows, predictor)}: raw rows with gaps, a category never seen, a missing category."""
    rows = mixed(37, 1)
    rows.loc[2, "colour"] = "purple"                     # outside the categories: the "other" input
    from mlrun.fit.build import dataset

    iris = dataset(make_cfg("dataset=iris", "dataset.scaling=none")).test.x.double().numpy()
    iris[0, 1] = np.nan                                  # a gap: the train median
    cases = {}
    for run, data in (("mlp", rows), ("linear", rows), ("iris", iris)):
        predictor = Predictor.load(runs / run, ["device=cpu"])
        for fmt in formats:
            path, meta = exported(runs / run, fmt)
            cases[f"{run}-{fmt}"] = (path, meta, data, predictor)
    return cases


def test_table_runs_round_trip_through_onnxruntime_alone(runs, tmp_path):
    """ONNX: predict's class names and probabilities, and regression values in the target's units, within 1e-5, in
    a process that imports neither mlrun nor torch."""
    results = verify_outside_mlrun(table_cases(runs, ("onnx",)), tmp_path)
    assert results["mlp-onnx"]["classes"] == ["no", "yes"]
    assert results["iris-onnx"]["classes"] == ["setosa", "versicolor", "virginica"]


@pytest.mark.slow
def test_table_runs_round_trip_through_torchscript(runs, tmp_path):
    """TorchScript (text columns as List[List[str]]): the same numbers, in a process without mlrun."""
    results = verify_outside_mlrun(table_cases(runs, ("torchscript",)), tmp_path)
    assert results["iris-torchscript"]["classes"] == ["setosa", "versicolor", "virginica"]


def test_metadata_and_default_output(runs):
    """The file lands in <run>/export/; its metadata names the columns, categories, features, classes, the target's
    scale and the run."""
    path, meta = exported(runs / "linear", "onnx")
    assert path == runs / "linear" / "export" / "model.onnx"
    predictor = Predictor.load(runs / "linear")
    assert meta["inputs"] == {"numeric": ["a", "b"], "categorical": ["colour"]}
    assert meta["categories"] == {"colour": ["green", "red"]} and meta["features"] == list(predictor.spec.features)
    assert meta["features"][:3] == ["a", "a:missing", "b"] and "colour=other" in meta["features"]
    target = predictor.transform["target"]
    assert meta["target"] == {"name": "v", "shift": target["shift"], "scale": target["scale"]}
    assert meta["outputs"] == ["prediction"] and meta["classes"] == [] and len(meta["config_digest"]) == 64
    assert meta["provenance"]["run"] == str((runs / "linear").resolve()) and meta["provenance"]["epoch"] >= 1


def test_bad_requests_are_one_line(runs, tmp_path, cli):
    with pytest.raises(UserError, match=r"^format='pdf': valid choices are onnx, torchscript$"):
        export_checkpoint(str(runs / "iris"), "pdf")
    with pytest.raises(UserError, match=r"^output='.*m.onnx.pt': a format=onnx file ends in .onnx$"):
        export_checkpoint(str(runs / "iris"), "onnx", str(tmp_path / "m.onnx.pt"))
    with pytest.raises(UserError, match=r"^checkpoint='nope': file not found$"):
        export_checkpoint("nope", "onnx", str(tmp_path / "m.onnx"))
    r = cli("export", f"checkpoint={runs / 'iris'}", "format=onnnx", cwd=tmp_path)
    assert (r.returncode, r.stderr) == (2, "mlrun export: error: format='onnnx': valid choices are onnx, "
                                           "torchscript\n")
    assert list(tmp_path.iterdir()) == []


def test_an_export_never_replaces_a_runs_checkpoint_or_a_users_file(runs, tmp_path, cli):
    """A probe replaced <run>/checkpoints/best.pt with a TorchScript file (exit 0), which broke the run."""
    best = runs / "iris" / "checkpoints" / "best.pt"
    before = best.read_bytes()
    for run in ("iris", "linear"):                   # this run's checkpoint, and another run's
        r = cli("export", f"checkpoint={runs / 'iris'}", "format=torchscript",
                f"output={runs / run / 'checkpoints' / 'best.pt'}", "overwrite=true", cwd=tmp_path)
        assert r.returncode == 2 and "a run's own files are not outputs" in r.stderr and r.stderr.count("\n") == 1
    assert best.read_bytes() == before
    theirs = tmp_path / "theirs.onnx"
    theirs.write_text("x")
    with pytest.raises(UserError, match="the file exists; pass overwrite=true"):
        export_checkpoint(str(runs / "iris"), "onnx", str(theirs))
    assert theirs.read_text() == "x"
    assert export_checkpoint(str(runs / "iris"), "onnx", str(theirs), overwrite=True) == theirs
