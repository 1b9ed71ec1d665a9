"""`mlrun recommend`: top-k unrated items with titles from a model=mf checkpoint; one-line errors."""

from __future__ import annotations

import json

import pytest

from mlrun.errors import UserError
from mlrun.cli.recommend import main
from mlrun.infer.recommend import recommend
from mlrun.fit.run import train
from tests.helpers import make_cfg, mlrun_cli


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """An ml-100k-shaped folder (u.data + u.item) and an ALS run on it."""
    root = tmp_path_factory.mktemp("data") / "ml-100k"
    root.mkdir()
    import numpy as np

    rng = np.random.default_rng(0)
    rows = [(u, i, int(rng.integers(1, 6))) for u in range(1, 31) for i in range(1, 21) if rng.random() < 0.5]
    (root / "u.data").write_text("".join(f"{u}\t{i}\t{r}\t0\n" for u, i, r in rows))
    (root / "u.item").write_text("".join(f"{i}|Movie {i} (1999)|01-Jan-1999||http://x|0\n" for i in range(1, 21)))
    run_dir = tmp_path_factory.mktemp("run")
    train(make_cfg("model=mf", "optimizer=als", "dataset=movielens_100k", f"dataset.root={root}", "model.k=2",
                   "model.reg=1.0"), run_dir)
    return run_dir, rows


def test_top_k_unrated_items_with_titles(run):
    run_dir, rows = run
    out = recommend(str(run_dir / "checkpoints" / "best.pt"), "3", k=5)
    rated = {str(i) for u, i, _ in rows if u == 3}
    assert len(out) == 5 and [r["rank"] for r in out] == [1, 2, 3, 4, 5]
    assert not {r["item"] for r in out} & rated
    assert all(r["title"] == f"Movie {r['item']} (1999)" for r in out)
    scores = [r["score"] for r in out]
    assert scores == sorted(scores, reverse=True)


def test_cli_prints_json_and_fails_in_one_line(run, tmp_path, capsys):
    run_dir, _ = run
    ok = mlrun_cli("recommend", f"checkpoint={run_dir}", "user=3", "k=3", "format=json", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert len(json.loads(ok.stdout)) == 3
    with pytest.raises(SystemExit) as exit_info:
        main([f"checkpoint={run_dir}", "user=999"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.count("\n") == 1 and "user='999': not in movielens_100k" in err
    with pytest.raises(SystemExit) as exit_info:
        main([f"checkpoint={run_dir}"])
    assert exit_info.value.code == 2 and "user= is required" in capsys.readouterr().err


def test_refuses_a_non_ratings_checkpoint(tmp_path):
    train(make_cfg("model=linear", "dataset=diabetes", "trainer.epochs=1"), tmp_path)
    with pytest.raises(UserError, match="mlrun recommend needs a model=mf checkpoint"):
        recommend(str(tmp_path), "1")


def test_the_user_is_matched_as_text(run):
    """Ids are text: `3.0` and `03` are not user 3 (one line each), however numeric the file's ids are."""
    run_dir, _ = run
    for user in ("3.0", "03"):
        with pytest.raises(UserError, match=rf"user='{user}': not in movielens_100k \(ids look like 1, 2, 3"):
            recommend(str(run_dir / "checkpoints" / "best.pt"), user, k=3)


def test_implicit_model_leaves_out_what_the_user_has_and_shows_raw_scores(tmp_path):
    import numpy as np

    root = tmp_path / "ml-100k"
    root.mkdir()
    rng = np.random.default_rng(1)
    rows = [(u, i, int(rng.integers(1, 6))) for u in range(1, 41) for i in range(1, 31) if rng.random() < 0.4]
    (root / "u.data").write_text("".join(f"{u}\t{i}\t{r}\t0\n" for u, i, r in rows))
    train(make_cfg("model=mf", "optimizer=als", "dataset=movielens_100k", f"dataset.root={root}", "model.k=2",
                   "model.reg=1.0", "model.implicit=true", "model.threshold=4", "dataset.metric=ndcg@5",
                   "dataset.ranking.k=[5]"), tmp_path / "run")
    out = recommend(str(tmp_path / "run" / "checkpoints" / "best.pt"), "3", k=30)
    had = {str(i) for u, i, _ in rows if u == 3}          # every rated item, those below the threshold too
    assert out and not {r["item"] for r in out} & had
    assert len(out) == 30 - len(had)
    assert max(r["score"] for r in out) < 1.0            # preference scores x·y (≈ p ≤ 1), not clipped to [1, 5]
