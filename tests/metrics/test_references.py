import pytest
from omegaconf import OmegaConf

from mlrun.datasets.spec import DataSpec
from mlrun.metrics.references import closest, load, model_family, reference_for

ISSUE = {   # (dataset, family, test error %) that the published table must hold, from the issue
    ("mnist", "logistic", 12.0), ("mnist", "mlp", 4.7), ("mnist", "mlp", 4.5), ("mnist", "mlp", 3.05),
    ("mnist", "mlp", 1.6), ("mnist", "cnn", 0.95), ("mnist", "cnn", 0.75), ("mnist", "resnet", 0.41),
    ("mnist", "rknet", 0.47), ("mnist", "odenet", 0.42), ("fashion_mnist", "cnn", 7.5), ("svhn", "cnn", 4.9),
    ("digits", "svm", 3.0), ("digits", "logistic", 6.7),
}


def test_every_entry_parses_and_cites_a_source():
    entries = load()
    assert len(entries) == 16
    for e in entries:
        assert e["source"].strip() and e["model"].strip() and 0 < e["test_error"] < 100
    assert ISSUE <= {(e["dataset"], e["family"], e["test_error"]) for e in entries}
    assert sum(e["dataset"] == "mnist" and e["test_error"] == 1.6 for e in entries) == 3   # Simard, Keras MLP, ODE paper
    assert any("Neural Ordinary Differential Equations" in e["source"] and e["family"] == "mlp" for e in entries)


def test_closest_gives_only_the_model_it_was_published_for():
    lenet = closest("mnist", "cnn", "lenet5", 1.2)
    assert lenet["match"] == "variant" and lenet["published_test_error"] == 0.95
    assert lenet["difference"] == pytest.approx(0.25)
    mlp = closest("mnist", "mlp", "64", 4.0)                # no 64-unit entry: the family's own (variant null)
    assert mlp["match"] == "family" and mlp["published_test_error"] == 1.6 and "1-layer MLP" in mlp["model"]
    assert closest("mnist", "mlp", "64", 1.0) == mlp | {"test_error": 1.0, "difference": pytest.approx(-0.6)}
    assert closest("digits", "mlp", "128", 2.0) is None     # an SVC / logistic number is no MLP's reference
    assert closest("digits", "logistic", None, 5.0)["published_test_error"] == 6.7
    assert closest("iris", "mlp", None, 5.0) is None


def test_model_family_from_the_config():
    assert model_family(OmegaConf.create({"_target_": "mlrun.models.CNN", "arch": "lenet5"})) == ("cnn", "lenet5")
    assert model_family(OmegaConf.create({"_target_": "mlrun.models.MLP", "hidden": [300, 100]})) == \
        ("mlp", "300-100")
    assert model_family(OmegaConf.create({"_target_": "mlrun.models.Logistic"})) == ("logistic", None)


def test_reference_for_a_run_notes_a_carved_split():
    cfg = OmegaConf.create({"model": {"_target_": "mlrun.models.MLP", "hidden": [800]},
                            "dataset": {"train_prefix": "t10k", "test_prefix": None, "limit_train": None}})
    spec = DataSpec((1, 28, 28), 10, "multiclass", name="mnist")
    ref = reference_for(cfg, spec, {"acc": 0.98})
    assert ref["published_test_error"] == 1.6 and ref["difference"] == pytest.approx(0.4)
    assert "carved" in ref["note"] and "t10k files" in ref["note"]
    assert reference_for(cfg, DataSpec((3,), 1, "regression", name="mnist"), {"r2": 0.5}) is None
