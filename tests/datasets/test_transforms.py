"""dataset.pca_components=k (mlrun.datasets.transforms): PCA fit on train only (mlrun.linalg's block method), every
split replaced by its k scores with train's mean and components; deterministic; progress lines."""

import json
import logging
from pathlib import Path

import pytest
import torch
import yaml

from mlrun import linalg
from mlrun.datasets import digits
from mlrun.datasets.spec import Data, DataSpec, Split
from mlrun.datasets.transforms import maybe_project, without_pca
from mlrun.errors import UserError
from mlrun.paths import config_dir

SPLIT = {"train": 0.7, "val": 0.15, "test": 0.15}


def test_none_is_off():
    data = digits(SPLIT, seed=0)
    assert maybe_project(data, None) is data


def test_scores_match_scikit_learn_pca():
    from sklearn.decomposition import PCA as SkPCA

    data = digits(SPLIT, seed=0)
    out = maybe_project(data, 6)
    assert out.spec.input_shape == (6,) and out.spec.task == "multiclass" and out.spec.n_outputs == 10
    assert [len(s) for s in (out.train, out.val, out.test)] == [len(s) for s in (data.train, data.val, data.test)]
    assert torch.equal(out.test.y, data.test.y) and out.preprocess is None
    sk = SkPCA(6, svd_solver="full").fit(data.train.x.double().numpy())
    ref = torch.as_tensor(sk.transform(data.test.x.double().numpy()))
    got = out.test.x.double()
    cos = (got * ref).sum(0) / (got.norm(dim=0) * ref.norm(dim=0))
    assert cos.abs().min() >= 0.99999                                        # same scores up to sign
    assert torch.allclose(out.train.x.var(0).double(), torch.as_tensor(sk.explained_variance_), rtol=1e-4)


def test_statistics_come_from_train_only():
    """Shifting and scaling val/test changes their scores, never the projection: (x − train mean)·train Vᵀ."""
    data = digits(SPLIT, seed=0)
    moved = Data(data.train, Split(data.val.x * 3 + 100, data.val.y), Split(data.test.x - 50, data.test.y),
                 data.spec)
    a, b = maybe_project(data, 4), maybe_project(moved, 4)
    assert torch.equal(a.train.x, b.train.x)                                # the same fit
    mean = data.train.x.mean(0)
    vectors = torch.linalg.eigh(linalg.covariance(data.train.x.double())).eigenvectors
    v = vectors.flip(1)[:, :4].float()                                       # (D, 4) train's directions
    signs = torch.sign((a.train.x * ((data.train.x - mean) @ v)).sum(0))     # ours vs eigh: ± per column
    for split, got in ((moved.test, b.test.x), (moved.val, b.val.x), (data.test, a.test.x)):
        expected = ((split.x - mean) @ v) * signs
        assert torch.allclose(got, expected, atol=1e-3 * expected.abs().max()), split


def test_the_projection_is_deterministic():
    """mlrun eval refits: the fit must not depend on the global RNG (its start block has its own generator)."""
    data = digits(SPLIT, seed=0)
    torch.manual_seed(1)
    a = maybe_project(data, 5)
    torch.manual_seed(2)
    torch.rand(1000)
    b = maybe_project(data, 5)
    for sa, sb in ((a.train, b.train), (a.val, b.val), (a.test, b.test)):
        assert torch.equal(sa.x, sb.x)


def test_progress_lines_without_a_terminal(caplog, monkeypatch):
    data = digits(SPLIT, seed=0)
    with caplog.at_level(logging.INFO, logger="mlrun"):
        maybe_project(data, 3)
    (line,) = [r.getMessage() for r in caplog.records]                     # fast: only the summary line
    assert line.startswith(f"dataset.pca_components=3: PCA fit on {len(data.train)} train rows in ")
    assert "passes), explained variance ratio 0.30" in line
    caplog.clear()
    monkeypatch.setattr(linalg, "PROGRESS_SECONDS", 0.0)
    with caplog.at_level(logging.INFO, logger="mlrun"):
        maybe_project(data, 3)
    lines = [r.getMessage() for r in caplog.records]
    iterations = int(lines[-1].split("(")[1].split(" iterations")[0])
    assert lines[-1].endswith(f"({iterations} iterations, {iterations + 2} passes), explained variance ratio 0.3010")
    assert len(lines) == iterations + 1 and lines[0].startswith("dataset.pca_components=3: iteration 1, 0/3 converged")
    assert all("residual" in line for line in lines[:-1])


def test_without_pca_drops_only_the_key():
    from omegaconf import OmegaConf

    node = OmegaConf.create({"_target_": "mlrun.datasets.digits", "pca_components": 5, "val_fraction": 0.2})
    assert OmegaConf.to_container(without_pca(node)) == {"_target_": "mlrun.datasets.digits", "val_fraction": 0.2}
    plain = OmegaConf.create({"_target_": "mlrun.datasets.digits"})
    assert without_pca(plain) is plain


def test_preprocess_is_folded_in():
    g = torch.Generator().manual_seed(0)
    x = [torch.randint(0, 256, (n, 1, 4, 4), dtype=torch.uint8, generator=g) for n in (200, 50, 50)]
    y = [torch.zeros(n, dtype=torch.int64) for n in (200, 50, 50)]

    class Scale(torch.nn.Module):
        def forward(self, xb):
            return xb.float() / 255

    spec = DataSpec(input_shape=(1, 4, 4), n_outputs=2, task="multiclass", name="tiny")
    raw = maybe_project(Data(*(Split(a, b) for a, b in zip(x, y)), spec=spec, preprocess=Scale()), 3)
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
    from mlrun.infer.saved import evaluate_checkpoint
    from mlrun.fit.run import train

    run = tmp_path / "run"
    run.mkdir()
    train(cfg("model=logistic", "dataset.pca_components=8", "trainer.batch_size=full"), run)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["spec"]["input_shape"] == [8] and summary["n_params"] == 8 * 10 + 10
    again = evaluate_checkpoint(str(run))               # eval refits the same projection (deterministic)
    assert again["test_acc"] == summary["test_acc"] and again["test_loss"] == pytest.approx(summary["test_loss"],
                                                                                             rel=1e-6)
