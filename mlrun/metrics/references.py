"""Published results next to a run: the closest entry of `mlrun/metrics/references.yaml` and the difference.

    from mlrun.metrics.references import load, closest
    closest("mnist", "cnn", "lenet5", test_error=1.1)   # → LeNet-5's 0.95%, difference +0.15 points
    closest("digits", "mlp", "128", test_error=2.0)     # → None: nothing was published for an MLP on digits

`closest` gives a published number only for the model it was published for: the entry of the run's dataset with
the same family and variant, else the dataset's entry for the family as a whole (variant null), else none — never
another model's number (an MLP sweep on digits is not compared with an SVC). `match` in the answer says which
("variant" or "family"). Errors are in percent; difference = run − published (positive: the run is worse than the
published number).
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

FIELDS = ("dataset", "family", "variant", "test_error", "model", "source")


@lru_cache(maxsize=1)
def load() -> tuple[dict, ...]:
    """Every entry of references.yaml (shipped inside the package), checked for its fields."""
    import yaml

    entries = yaml.safe_load(resources.files("mlrun.metrics").joinpath("references.yaml").read_text(encoding="utf-8"))
    for i, entry in enumerate(entries):
        missing = [f for f in FIELDS if f not in entry]
        if missing or not str(entry["source"]).strip():
            raise ValueError(f"references.yaml entry {i} ({entry.get('model')}): missing {missing or ['source']}")
    return tuple(entries)


def closest(dataset: str, family: str, variant: str | None, test_error: float) -> dict | None:
    """The published entry for a run of `family`/`variant` on `dataset` with `test_error` (percent), or None when
    no entry was published for that model (module docstring); of several, the first listed."""
    same = [e for e in load() if e["dataset"] == dataset and e["family"] == family]
    exact = [e for e in same if variant is not None and e["variant"] == variant]
    whole = [e for e in same if e["variant"] is None]
    match, pool = ("variant", exact) if exact else ("family", whole)
    if not pool:
        return None
    entry = pool[0]
    return {"model": entry["model"], "family": entry["family"], "match": match, "source": entry["source"],
            "published_test_error": entry["test_error"], "test_error": round(test_error, 4),
            "difference": round(test_error - entry["test_error"], 4), "units": "percent"}


def model_family(model_cfg) -> tuple[str, str | None]:
    """(family, variant) of a model config: family = the target's class name lower-cased (mlrun.models.CNN →
    cnn); variant = model.arch for CNNs, the hidden widths joined by '-' for MLPs (e.g. 300-100), else None."""
    family = str(model_cfg.get("_target_", "")).rsplit(".", 1)[-1].lower()
    if model_cfg.get("arch") is not None:
        return family, str(model_cfg.get("arch"))
    hidden = model_cfg.get("hidden")
    if hidden is not None:
        return family, "-".join(str(h) for h in hidden)
    return family, None


def reference_for(cfg, spec, test: dict) -> dict | None:
    """summary.json's "reference" for a finished run: None unless the task is classification and the dataset
    has published numbers. Notes when the run's data differ from the published protocol."""
    if spec.task not in ("binary", "multiclass") or test.get("acc") is None:
        return None
    family, variant = model_family(cfg.model)
    found = closest(spec.name, family, variant, 100.0 * (1.0 - test["acc"]))
    if found is None:
        return None
    dataset = cfg.dataset
    notes = []
    if "test_prefix" in dataset and dataset.get("test_prefix") is None or "test_file" in dataset and \
            dataset.get("test_file") is None:
        notes.append("test split carved from one file pair, not the official test set")
    if dataset.get("limit_train") is not None:
        notes.append(f"train limited to {dataset.get('limit_train')} examples")
    if spec.name in ("mnist", "fashion_mnist") and dataset.get("train_prefix", "train") != "train":
        notes.append(f"trained on the {dataset.get('train_prefix')} files, not the 60k train set")
    return found | ({"note": "; ".join(notes)} if notes else {})
