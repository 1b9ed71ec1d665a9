"""`mlrun export` of the other model kinds: a CNN on IDX images, matrix factorization on user/item ids (unknown
ids → the cold-start prediction), a neural ODE with its fixed-step solver unrolled (adaptive solvers refused), and
torch's torch.export-based ONNX exporter (on the CNN); each file in ONNX and TorchScript gives predict's outputs
within 1e-5 in a process that never imports mlrun."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlrun.errors import UserError
from mlrun.export.write import export_checkpoint
from mlrun.fit.run import train
from mlrun.infer.predict import Predictor, read_rows
from tests.export.conftest import exported, verify_outside_mlrun
from tests.helpers import make_cfg

pytestmark = pytest.mark.slow


def cnn_run(root):
    """A CNN on a generated IDX pair (classes = a bright row) and 37 images to predict, as an IDX file."""
    from mlrun.datasets.idx import write_idx

    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), 30).astype(np.uint8)
    x = (rng.random((120, 12, 12)) * 60).astype(np.uint8)
    x[np.arange(120), y * 3, :] = 255
    (root / "idx").mkdir()
    write_idx(root / "idx" / "train-images-idx3-ubyte.gz", x)
    write_idx(root / "idx" / "train-labels-idx1-ubyte.gz", y)
    write_idx(root / "new-images.gz", x[:37])
    train(make_cfg("dataset=idx", f"dataset.root={root / 'idx'}", "dataset.test_prefix=null", "model=cnn",
                   "model.arch=custom", "model.channels=[4]", "model.head=[]", "trainer.epochs=1"), root / "cnn")
    predictor = Predictor.load(root / "cnn", ["device=cpu"])
    images = read_rows(predictor, str(root / "new-images.gz"))
    return predictor, images.reshape(len(images), 1, 12, 12)


def test_cnn_mf_and_node_round_trip_outside_mlrun(tmp_path, needs_export):
    cases = {}
    predictor, images = cnn_run(tmp_path)
    for fmt in ("onnx", "torchscript"):
        cases[f"cnn-{fmt}"] = (*exported(tmp_path / "cnn", fmt), images, predictor)
    cases["cnn-dynamo"] = (*exported(tmp_path / "cnn", "onnx", output=str(tmp_path / "dynamo.onnx"),
                                     exporter="dynamo"), images, predictor)

    train(make_cfg("model=mf", "optimizer=als", "dataset=synthetic_ratings", "dataset.n_users=60",
                   "dataset.n_items=40", "trainer.epochs=2"), tmp_path / "mf")
    predictor = Predictor.load(tmp_path / "mf", ["device=cpu"])
    users, items = predictor.source.user_ids[:5], predictor.source.item_ids[:5]
    pairs = pd.DataFrame({"user": [*users, "nobody", users[0]], "item": [*items, items[1], "nothing"]})
    for fmt in ("onnx", "torchscript"):
        cases[f"mf-{fmt}"] = (*exported(tmp_path / "mf", fmt), pairs, predictor)

    from mlrun.fit.build import dataset

    iris = dataset(make_cfg("dataset=iris", "dataset.scaling=none")).test.x.double().numpy()
    train(make_cfg("dataset=iris", "model=node", "model.solver=rk4", "model.step_size=0.25", "model.width=8",
                   "trainer.epochs=1"), tmp_path / "node")
    predictor = Predictor.load(tmp_path / "node", ["device=cpu"])
    for fmt in ("onnx", "torchscript"):
        cases[f"node-{fmt}"] = (*exported(tmp_path / "node", fmt), iris, predictor)
    results = verify_outside_mlrun(cases, tmp_path)
    import torch

    model = Predictor.load(tmp_path / "mf").model
    with torch.no_grad():                                # unknown user, unknown item: the cold-start predictions
        cold = model(torch.tensor([[-1, 1], [0, -1]])).numpy()
    assert np.allclose(np.asarray(results["mf-onnx"]["values"])[5:, 0], cold, atol=1e-5)


def test_an_adaptive_solver_is_refused_in_one_line(tmp_path):
    train(make_cfg("dataset=iris", "model=node", "model.width=4", "trainer.epochs=1"), tmp_path / "node")
    with pytest.raises(UserError, match=r"^model.solver=dopri5: an adaptive solver picks its steps from the values"):
        export_checkpoint(str(tmp_path / "node"), "onnx")
    assert not (tmp_path / "node" / "export").exists()
