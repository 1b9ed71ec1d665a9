"""What travels with an exported model (ONNX metadata_props, TorchScript extra files) and `GET /metadata` of
`mlrun serve`: the inputs it takes, the outputs it gives, class names, feature names, the target's scale, and the
run it came from.

    meta = describe(opened, predictor)   # JSON-safe dict; json.dumps(meta) is the "mlrun" metadata entry

Keys: format (1), kind (table | images | pairs), task, inputs (per kind: numeric/categorical column names, the
image shape and dtype, or user/item), categories (per categorical column: the names in code order), missing (how
to write a missing cell), features (the model's encoded inputs), classes, target (name, shift, scale: predictions
are already in its units), outputs, config_digest (sha256 of the stored config as sorted JSON), provenance (run
folder, checkpoint file and its sha256, epoch, the mlrun versions that trained and exported).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path

from mlrun.export.graph import columns_of, kind_of
from mlrun.version import VERSION

FORMAT = 1


def config_digest(config: dict) -> str:
    """sha256 of the stored config as JSON with sorted keys: two runs with equal configs have equal digests."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def outputs(task: str) -> list[str]:
    return ["label", "probabilities"] if task in ("binary", "multiclass") else ["prediction"]


def describe(opened, predictor) -> dict:
    """The metadata of the run `opened` (mlrun.infer.validate.Opened) served or exported through `predictor`."""
    spec, kind = predictor.spec, kind_of(predictor)
    meta = {"format": FORMAT, "kind": kind, "task": spec.task, "dataset": spec.name}
    if kind == "table":
        numeric, categorical = columns_of(predictor.transform)
        meta["inputs"] = {"numeric": [c["name"] for c in numeric], "categorical": [c["name"] for c in categorical]}
        meta["categories"] = {c["name"]: c["categories"] for c in categorical}
        meta["missing"] = "numeric: NaN; categorical: empty text"
    elif kind == "pairs":
        meta["inputs"] = {"user": "text id as in the ratings file", "item": "text id as in the ratings file"}
        meta["missing"] = "an id not seen in training gets the cold-start prediction (mean + known biases)"
    else:
        split = predictor.source.test if len(predictor.source.test) else predictor.source.train
        meta["inputs"] = {"images": {"shape": list(split.x.shape[1:]), "dtype": str(split.x.dtype).split(".")[-1]}}
    target = predictor.transform.get("target") if predictor.transform else None
    classes = list(spec.classes) or [str(i) for i in range(max(spec.n_outputs, 2 if spec.task == "binary" else 0))]
    meta |= {"features": list(spec.features), "classes": classes if spec.task in ("binary", "multiclass") else [],
             "target": {k: target[k] for k in ("name", "shift", "scale") if k in target} if target else None,
             "outputs": outputs(spec.task)}
    payload = opened.payload
    file = Path(opened.file)
    run = file.parent.parent if file.parent.name == "checkpoints" else file.parent
    meta["config_digest"] = config_digest(payload["config"])
    meta["provenance"] = {"run": str(run.resolve()), "checkpoint": str(file.resolve()),
                          "checkpoint_sha256": file_digest(file), "epoch": payload.get("epoch"),
                          "trained_with": f"mlrun {payload.get('mlrun_version', '?')}",
                          "exported_with": f"mlrun {VERSION}",
                          "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    return meta
