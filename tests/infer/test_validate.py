"""mlrun.infer.validate: a checkpoint is untrusted input. Tampered fields (spec, transform, config, weights) end in one
line before anything is built, for predict, eval and recommend alike; a Hypothesis fuzz over random edits."""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlrun.errors import UserError
from mlrun.infer.predict import Predictor, predict_file
from mlrun.infer.saved import evaluate_checkpoint
from mlrun.runtime import checkpoints


def tampered(payload: dict, edit, folder: Path, name: str = "t.pt") -> Path:
    """`payload` re-saved with `edit(copy)` applied (checkpoints.save, as a run writes it)."""
    p = copy.deepcopy(payload)
    edit(p)
    checkpoints.save(folder / name, p)
    return folder / name


def column(i: int, key: str, value):
    return lambda p: p["spec"]["transform"]["columns"][i].__setitem__(key, value)


def spec(key: str, value):
    return lambda p: p["spec"].__setitem__(key, value)


def one_line(e) -> str:
    text = str(e.value)
    assert "\n" not in text and "Traceback" not in text, text
    return text


@pytest.mark.parametrize("edit, match", [                                  # D7: the transform schema
    (column(0, "kind", "evil"), r"columns\[0\]: kind='evil': valid choices are numeric, categorical"),
    (column(0, "scale", 0), r"columns\[0\]: scale=0: must be a finite number > 0"),
    (column(0, "scale", "x"), r"columns\[0\]: scale='x': must be a finite number > 0"),
    (column(1, "shift", float("nan")), r"columns\[1\]: shift=nan: must be a finite number"),
    (column(0, "indicator", "yes"), r"indicator='yes': must be true or false"),
    (column(0, "name", 3), r"columns\[0\]: not a mapping with a name"),
    (lambda p: p["spec"]["transform"].__setitem__("columns", []), "columns: must be a non-empty list"),
    (spec("transform", "standardize"), "spec.transform is a str, not a mapping"),
    (lambda p: p["spec"]["transform"].__setitem__("version", 2), "transform.version=2: this mlrun reads version 1"),
    (lambda p: p["spec"]["transform"].__setitem__("scaling", "log"), "transform.scaling='log'"),
    (lambda p: p["spec"]["transform"]["columns"].append(dict(p["spec"]["transform"]["columns"][0])),
     "a column name repeats"),
    (lambda p: p["spec"]["transform"].__setitem__("features", ["b", "a"]), "must be the inputs the columns encode"),
    (lambda p: p["spec"]["transform"]["target"].__setitem__("classes", ["no", "maybe"]), "must be the spec's classes"),
    (lambda p: p["spec"]["transform"]["target"].__setitem__("scale", 0.0), "standardized regression target"),
    (spec("input_shape", [3]), r"spec.input_shape=\[3\]: the transform encodes 2 inputs"),
    (spec("task", "multiclass"), "spec.task=multiclass with n_outputs=1 and 2 classes"),    # D27
    (spec("task", "regression"), "spec.task=regression with n_outputs=1 and 2 classes"),
    (spec("task", "evil"), "spec.task='evil': valid choices are regression, binary"),
    (spec("n_outputs", 10**9), "spec.task=binary with n_outputs=1000000000"),                # D8: before building
    (spec("n_outputs", 2**70), r"spec.n_outputs=\d+: must be an integer in \[0, 2\*\*40\]"),
    (spec("classes", ["no", "no"]), "spec.transform.target.classes|repeats a name"),
    (spec("input_shape", "2"), "spec.input_shape='2': must be a list"),
    (spec("evil", 1), "spec.evil: not a DataSpec field"),
    (lambda p: p["model"]["net.1.weight"].__setitem__((0, 0), float("nan")), "net.1.weight holds 1 NaN/Inf"),  # D9
    (lambda p: p["model"]["net.3.bias"].fill_(float("inf")), "net.3.bias holds 1 NaN/Inf"),
    (lambda p: p["model"].__setitem__("net.3.bias", -torch.full((1,), float("inf"))), "NaN/Inf"),
    (lambda p: p["model"].__setitem__("net.3.bias", torch.zeros(1, dtype=torch.complex64)), "not real numbers"),
])
def test_a_tampered_checkpoint_is_one_line_before_anything_is_built(binary_run, tmp_path, edit, match):
    run, new_csv, payload = binary_run
    path = tampered(payload, edit, tmp_path)
    with pytest.raises(UserError, match=f"checkpoint='{path}': not a valid mlrun checkpoint \\(.*{match}") as e:
        predict_file(str(path), str(new_csv), str(tmp_path / "p.csv"))
    one_line(e)
    assert not (tmp_path / "p.csv").exists()


@pytest.mark.parametrize("edit, overrides, match", [                     # D6 and D8 through the config
    (lambda p: p["config"]["trainer"].__setitem__("eval_batch_size", 0), [], "trainer.eval_batch_size=0: must be"),
    (lambda p: p["config"]["trainer"].__setitem__("eval_batch_size", "abc"), [], "eval_batch_size='abc': must be"),
    (lambda p: p["config"]["trainer"].__setitem__("eval_batch_size", -5), [], "eval_batch_size=-5: must be an int"),
    (lambda p: None, ["trainer.eval_batch_size=0"], "trainer.eval_batch_size=0: must be an integer ≥ 1"),
    (lambda p: None, ["trainer.eval_batch_size=abc"], "trainer.eval_batch_size='abc': must be an integer ≥ 1"),
    (lambda p: None, ["trainer.eval_batch_size=-5"], "trainer.eval_batch_size=-5: must be an integer ≥ 1"),
    (lambda p: p["config"]["trainer"].__setitem__("epochs", 0), [], "trainer.epochs=0: must be an integer ≥ 1"),
    (lambda p: p["config"]["model"].__setitem__("hidden", [10**9]), [], r"model.hidden=\[1000000000\].*needs at "
                                                                           r"least .* GB"),
    (lambda p: None, ["model.hidden=[1000000000]"], r"model.hidden=\[1000000000\].*needs at least .* GB"),
    (lambda p: p["config"]["model"].__setitem__("hidden", [1e9]), [], r"model.hidden=\[1000000000.0\]: must be"),
    (lambda p: p["config"].__setitem__("seed", -1), [], "seed=-1: must be an integer"),
])
def test_stored_and_typed_values_are_checked_like_train(binary_run, tmp_path, monkeypatch, edit, overrides, match):
    """A huge model is refused by the memory pre-check before torch allocates it (nn.Linear never runs)."""
    run, new_csv, payload = binary_run
    path = tampered(payload, edit, tmp_path)
    built = []
    real = torch.nn.Linear.reset_parameters
    monkeypatch.setattr(torch.nn.Linear, "reset_parameters",
                        lambda self: built.append(self.weight.device.type) or real(self))
    with pytest.raises(UserError, match=match) as e:
        predict_file(str(path), str(new_csv), str(tmp_path / "p.csv"), overrides=overrides)
    one_line(e)
    assert "cpu" not in built                       # only the meta-device count ran, if anything


def test_eval_and_predict_say_the_same_about_a_bad_batch_size(binary_run, tmp_path):
    run, new_csv, payload = binary_run
    lines = []
    for call in (lambda: evaluate_checkpoint(str(run), "test", ["trainer.eval_batch_size=0"]),
                 lambda: predict_file(str(run), str(new_csv), str(tmp_path / "p.csv"),
                                      overrides=["trainer.eval_batch_size=0"])):
        with pytest.raises(UserError) as e:
            call()
        lines.append(one_line(e))
    assert lines[0] == lines[1] == "trainer.eval_batch_size=0: must be an integer ≥ 1"


def test_eval_refuses_non_finite_weights_and_a_bad_transform(binary_run, tmp_path):
    """eval rebuilds the data from the config, but opens the checkpoint through the same checks."""
    run, _, payload = binary_run
    nan = tampered(payload, lambda p: p["model"]["net.1.bias"].fill_(float("nan")), tmp_path, "nan.pt")
    with pytest.raises(UserError, match="net.1.bias holds 4 NaN/Inf"):
        evaluate_checkpoint(str(nan))
    bad = tampered(payload, column(0, "scale", -1.0), tmp_path, "bad.pt")
    with pytest.raises(UserError, match=r"scale=-1.0: must be a finite number > 0"):
        evaluate_checkpoint(str(bad))
    assert evaluate_checkpoint(str(run))["n"] > 0


def test_weights_that_do_not_fit_a_consistent_spec(binary_run, tmp_path):
    """D27 with the spec made consistent (multiclass, 2 outputs, target task too): the weights' shapes still say
    binary, and load_state_dict compares them before any row is predicted."""
    def to_multiclass(p):
        p["spec"] |= {"task": "multiclass", "n_outputs": 2}
        p["spec"]["transform"]["target"]["task"] = "multiclass"

    path = tampered(payload := binary_run[2], to_multiclass, tmp_path)
    assert payload["spec"]["task"] == "binary"
    with pytest.raises(UserError, match="its weights do not fit mlrun.models.MLP") as e:
        Predictor.load(path)
    one_line(e)


# ---- the fuzz: random edits never give a traceback or a silent wrong answer

def _leaves(tree, prefix=()):
    """Every (path, value) of the nested dicts/lists of `tree` (lists by index)."""
    items = tree.items() if isinstance(tree, dict) else enumerate(tree) if isinstance(tree, list) else ()
    for k, v in items:
        yield prefix + (k,), v
        yield from _leaves(v, prefix + (k,))


VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 5), st.sampled_from([0, 10**9, 2**63, 2**70]),
    st.floats(allow_nan=True, allow_infinity=True, width=64), st.text(max_size=4),
    st.sampled_from(["evil", "numeric", "categorical", "binary", "multiclass", "regression", "array", "${x}"]),
    st.lists(st.integers(-1, 3), max_size=3), st.lists(st.text(max_size=3), max_size=3), st.just({}),
)
DELETE = object()


def _tensor_edits(t: torch.Tensor):
    return st.sampled_from([t.double(), t.long(), t[:0], t.reshape(-1), t * float("nan"), t + float("inf"),
                            torch.zeros(3, 3), t.half(), t.clone()])


@pytest.fixture(scope="module")
def fuzz_base(binary_run):
    run, new_csv, payload = binary_run
    expected = Predictor.load(run).predict(pd.read_csv(new_csv), proba=True)
    return payload, pd.read_csv(new_csv), expected


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(data=st.data())
def test_random_edits_of_a_checkpoint_are_one_line_or_a_sound_prediction(fuzz_base, data):
    payload, rows, expected = fuzz_base
    where = data.draw(st.sampled_from(["spec", "config.model", "config.trainer", "config.device", "model"]))
    p = copy.deepcopy(payload)
    tree = p["config"][where.split(".")[1]] if where.startswith("config.") else p[where]
    paths = [path for path, _ in _leaves(tree)]
    path = data.draw(st.sampled_from(paths))
    parent = tree
    for k in path[:-1]:
        parent = parent[k]
    if where == "model":
        parent[path[-1]] = data.draw(_tensor_edits(parent[path[-1]]))
    else:
        value = data.draw(st.one_of(VALUES, st.just(DELETE)))
        if value is DELETE and isinstance(parent, dict):
            del parent[path[-1]]
        elif value is not DELETE:
            parent[path[-1]] = value
    with tempfile.TemporaryDirectory() as folder:
        checkpoints.save(Path(folder) / "t.pt", p)
        try:
            out = Predictor.load(Path(folder) / "t.pt").predict(rows, proba=True)
        except UserError as e:
            assert "\n" not in str(e) and str(e), (where, path, str(e))
            return
    spec = p["spec"]                                # it loaded: the answer must be a sound one for this spec
    classes = spec["classes"] if len(spec.get("classes", [])) == 2 else ["0", "1"]
    probs = out[[f"p_{c}" for c in classes]].to_numpy()
    assert len(out) == len(rows) and list(out["row"]) == list(range(len(rows)))
    assert np.isfinite(probs).all() and np.allclose(probs.sum(1), 1, atol=1e-5) and ((0 <= probs) & (probs <= 1)).all()
    assert set(out["prediction"]) <= set(classes)
    assert list(out["prediction"]) == list(np.asarray(classes)[probs.argmax(1)])
    if where in ("config.trainer", "config.device"):       # settings that do not change what the model computes
        assert out["prediction"].equals(expected["prediction"]), (where, path)


def test_recommend_and_resume_open_checkpoints_through_the_same_checks(binary_run, tmp_path):
    """recommend: the validation runs before its own checks (a NaN weight is named, not 'not a ratings model');
    resume: checkpoints.load refuses non-finite weights in last.pt."""
    import shutil

    from mlrun.fit import resume
    from mlrun.infer.recommend import recommend

    run, _, payload = binary_run
    nan = tampered(payload, lambda p: p["model"]["net.3.weight"].fill_(float("nan")), tmp_path, "nan.pt")
    with pytest.raises(UserError, match="net.3.weight holds 4 NaN/Inf"):
        recommend(str(nan), "1")
    with pytest.raises(UserError, match="a binary model; mlrun recommend needs a model=mf checkpoint"):
        recommend(str(run), "1")
    shutil.copytree(run, tmp_path / "copy")
    last = tmp_path / "copy" / "checkpoints" / "last.pt"
    state = torch.load(last, weights_only=True)
    state["model"]["net.1.bias"][0] = float("inf")
    checkpoints.save(last, state)
    with pytest.raises(UserError, match=f"resume='{last}': not a valid mlrun checkpoint \\(its weight net.1.bias"):
        resume.load(str(tmp_path / "copy"))
