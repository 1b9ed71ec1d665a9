"""`user,item` rows to predict for (mlrun.datasets.ratings.pairs, used by `mlrun predict`): ids are read as text,
compression is found by magic bytes, a row without an id is refused in one line."""

from __future__ import annotations

import bz2
import gzip
import logging

import numpy as np
import pandas as pd
import pytest

from mlrun.datasets.ratings.pairs import pair_index, read_pairs
from mlrun.errors import UserError
from mlrun.fit.run import train
from mlrun.infer.predict import Predictor, predict_file
from tests.helpers import make_cfg, mlrun_cli


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """An ALS run on a ratings_csv file with integer ids 1..30 × 1..20 (every user and item in train)."""
    folder = tmp_path_factory.mktemp("pairs")
    rng = np.random.default_rng(0)
    rows = [(u, i, int(rng.integers(1, 6))) for u in range(1, 31) for i in range(1, 21) if rng.random() < 0.6]
    (folder / "r.csv").write_text("userId,movieId,rating\n" + "".join(f"{u},{i},{r}\n" for u, i, r in rows))
    train(make_cfg("model=mf", "optimizer=als", "dataset=ratings_csv", f"dataset.path={folder / 'r.csv'}",
                   "dataset.split={train: 1.0, val: 0.0, test: 0.0}", "model.k=2", "trainer.epochs=3"),
          folder / "run")
    return folder


def _predict(run, name: str, content: bytes) -> np.ndarray:
    (run / name).write_bytes(content)
    predict_file(str(run / "run"), str(run / name), str(run / "p.csv"), overwrite=True)   # one output, replaced
    return pd.read_csv(run / "p.csv")["prediction"].to_numpy()


def test_one_bad_cell_never_changes_the_other_rows(run, caplog):
    clean = _predict(run, "clean.csv", b"userId,movieId\n1,1\n2,2\n3,3\n")
    assert len(clean) == 3 and len(set(clean.round(6))) == 3
    with pytest.raises(UserError, match=r"input='.*empty.csv': line 4: missing item id \('3,'\); every row needs"):
        _predict(run, "empty.csv", b"userId,movieId\n1,1\n2,2\n3,\n")
    with caplog.at_level(logging.WARNING, logger="mlrun"):
        odd = _predict(run, "float.csv", b"userId,movieId\n1,1\n2,2\n1.5,3\n")
    assert np.allclose(odd[:2], clean[:2], atol=1e-6)             # "1" is still user 1, not "1.0"
    p = Predictor.load(run / "run")
    cold = p.model(p.encode(pd.DataFrame({"u": ["nobody"], "i": ["3"]}))).item()
    assert odd[2] == pytest.approx(cold, abs=1e-6)                 # the id "1.5" is unknown: cold start
    assert "1 of 3 row(s) name a user or item not seen in training (e.g. row 3: 1.5,3)" in caplog.text


def test_compression_is_found_by_magic_bytes_not_the_name(run):
    plain = _predict(run, "plain.csv", b"1,2\n2,2\n3,3\n")
    assert len(plain) == 3                                         # no header: the first line is a row
    assert np.allclose(_predict(run, "b.csv", bz2.compress(b"1,2\n2,2\n3,3\n")), plain, atol=1e-6)
    assert np.allclose(_predict(run, "g.txt", gzip.compress(b"1,1\n2,2\n3,3\n"))[1:], plain[1:], atol=1e-6)
    assert np.allclose(_predict(run, "not_gzip.csv.gz", b"1,2\n2,2\n3,3\n"), plain, atol=1e-6)


@pytest.mark.slow                                                  # a subprocess: ≈ 8 s on 2 busy cores
def test_the_command_refuses_a_row_without_an_item_in_one_line(run):
    (run / "bad.csv").write_text("userId,movieId\n1,1\n2,2\n3,\n")
    done = mlrun_cli("predict", f"checkpoint={run / 'run'}", f"input={run / 'bad.csv'}",
                     f"output={run / 'never.csv'}", cwd=run)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert [line for line in done.stderr.splitlines() if line.strip()][-1].endswith(
        "line 4: missing item id ('3,'); every row needs a user and an item (1 such row(s))")
    assert not (run / "never.csv").exists()


def test_read_pairs_keeps_ids_as_text(tmp_path):
    f = tmp_path / "x.tsv"
    f.write_text("\n007\t 1 \n7\t1.0\n\n-3\tx\n")
    frame = read_pairs(f, "input")
    assert frame.to_numpy().tolist() == [["007", "1"], ["7", "1.0"], ["-3", "x"]]
    f.write_text("u1,i1\nu2,i2\n")
    assert len(read_pairs(f, "input")) == 1                        # "u1" reads as a header ...
    assert len(read_pairs(f, "input", user_ids=["u1", "u2"])) == 2  # ... unless it is a training user id
    f.write_text("3\n4\n")
    with pytest.raises(UserError, match="has one column; needs two, user and item"):
        read_pairs(f, "input")


def test_a_frame_with_float_ids_is_refused(caplog):
    users, items = ["1", "2", "10"], ["5", "6"]
    index = pair_index(pd.DataFrame({"u": [1, 10, 3], "i": ["5", " 6", "5"]}), users, items)
    assert index.tolist() == [[0, 0], [2, 1], [-1, 0]]
    with pytest.raises(UserError, match=r"column 'u' holds floats \(e.g. 1.0\); user ids are text or integers"):
        pair_index(pd.DataFrame({"u": [1.0, 2.0], "i": ["5", "6"]}), users, items)
    with pytest.raises(UserError, match=r"row 2: missing item id in column 'i'"):
        pair_index(pd.DataFrame({"u": ["1", "2"], "i": ["5", None]}), users, items)
