"""dataset.pca_components=k: PCA (model=pca's solver) fit on train, every split replaced by its k scores."""

import json
from pathlib import Path

import pytest
import torch
import yaml

from mlrun.datasets import digits
from mlrun.datasets.spec import Data, DataSpec, Split
from mlrun.errors import UserError
from mlrun.models.pca import maybe_project
from mlrun.paths import config_dir

SPLIT = {"train": 0.7, "val": 0.15, "test": 0.15}


def test_none_is_off():
    data = digits(SPLIT, seed=0)
    assert maybe_project(data, None) is data


def test_scores_match_scikit_learn_pca():
    from sklearn.decomposition import PCA as SkPCA

    data = digits(SPLIT, seed=0)
    torch.manual_seed(0)
    out = maybe_project(data, 6)
    assert out.spec.input_shape == (6,) and out.spec.task == "multiclass" and out.spec.n_outputs == 10
    assert [len(s) for s in (out.train, out.val, out.test)] == [len(s) for s in (data.train, data.val, data.test)]
    assert torch.equal(out.test.y, data.test.y) and out.preprocess is None
    sk = SkPCA(6, svd_solver="full").fit(data.train.x.double().numpy())
    ref = torch.as_tensor(sk.transform(data.test.x.double().numpy()))
    got = out.test.x.double()
    cos = (got * ref).sum(0) / (got.norm(dim=0) * ref.norm(dim=0))
    assert cos.abs().min() >= 0.999                                          # same scores up to sign
    assert torch.allclose(out.train.x.var(0).double(), torch.as_tensor(sk.explained_variance_), rtol=1e-3)


def test_preprocess_is_folded_in():
    g = torch.Generator().manual_seed(0)
    x = [torch.randint(0, 256, (n, 1, 4, 4), dtype=torch.uint8, generator=g) for n in (200, 50, 50)]
    y = [torch.zeros(n, dtype=torch.int64) for n in (200, 50, 50)]

    class Scale(torch.nn.Module):
        def forward(self, xb):
            return xb.float() / 255

    spec = DataSpec(input_shape=(1, 4, 4), n_outputs=2, task="multiclass", name="tiny")
    torch.manual_seed(0)
    raw = maybe_project(Data(*(Split(a, b) for a, b in zip(x, y)), spec=spec, preprocess=Scale()), 3)
    torch.manual_seed(0)
    ref = maybe_project(Data(*(Split(a.float() / 255, b) for a, b in zip(x, y)), spec=spec), 3)
    assert raw.train.x.dtype == torch.float32 and raw.spec.input_shape == (3,)
    assert torch.allclose(raw.test.x, ref.test.x, atol=1e-5)


@pytest.mark.parametrize("k", [0, 65, 2.5, "ten"])
def test_bad_values_are_one_line_errors(k):
    with pytest.raises(UserError, match="dataset.pca_components="):
        maybe_project(digits(SPLIT, seed=0), k)


def test_every_dataset_config_has_the_key_off():
    ratings = ("movielens_100k", "movielens_1m", "ratings_csv", "synthetic_ratings",   # ids, not features
               "spiral")                                                            # x is the ODE's state
    for path in sorted(Path(config_dir(), "dataset").glob("*.yaml")):
        if path.stem in ratings:
            assert "pca_components" not in path.read_text(), path.name
            continue
        assert yaml.safe_load(path.read_text()).get("pca_components", "missing") is None, path.name


def test_train_and_eval_with_projection(cfg, tmp_path):
    from mlrun.saved import evaluate_checkpoint
    from mlrun.run import train

    run = tmp_path / "run"
    run.mkdir()
    train(cfg("model=logistic", "dataset.pca_components=8", "trainer.batch_size=full"), run)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["spec"]["input_shape"] == [8] and summary["n_params"] == 8 * 10 + 10
    again = evaluate_checkpoint(str(run))               # eval rebuilds the same projection from the seed
    assert again["test_acc"] == pytest.approx(summary["test_acc"]) and again["test_loss"] == pytest.approx(
        summary["test_loss"], rel=1e-5)
