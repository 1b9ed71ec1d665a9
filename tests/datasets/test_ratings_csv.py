"""ratings_csv: header names or column indices, separators, a separate test file, bad rows."""

from __future__ import annotations

import pytest

from mlrun.datasets import ratings_csv
from mlrun.datasets.ratings import diagnose, read
from mlrun.errors import UserError

ALL_TRAIN = {"train": 1.0, "val": 0.0, "test": 0.0}


def test_header_names_and_string_ids(tmp_path):
    f = tmp_path / "r.csv"
    f.write_text("rating,who,what\n4.5,alice,x\n2,bob,y\n3,alice,y\n")
    data = ratings_csv(str(f), ALL_TRAIN, user_col="who", item_col="what", rating_col="rating")
    assert data.user_ids == ["alice", "bob"] and data.item_ids == ["x", "y"]
    assert sorted(data.train.y.tolist()) == [2.0, 3.0, 4.5] and data.spec.rating_range == [2.0, 4.5]


def test_indices_without_header_and_a_tab_typed_as_backslash_t(tmp_path):
    f = tmp_path / "r.tsv"
    f.write_text("7\t1\t4\n8\t1\t2\n")
    data = ratings_csv(str(f), ALL_TRAIN, sep="\\t", header=False, user_col=0, item_col=1, rating_col=2)
    assert data.spec.n_users == 2 and data.spec.n_items == 1


def test_separate_test_file_is_the_test_split_and_unseen_ids_are_minus_one(tmp_path):
    (tmp_path / "r.csv").write_text("userId,movieId,rating\n1,10,4\n1,11,3\n2,10,5\n2,11,1\n")
    (tmp_path / "t.csv").write_text("userId,movieId,rating\n1,12,2\n3,10,4\n")
    data = ratings_csv(str(tmp_path / "r.csv"), {"train": 0.8, "val": 0.0, "test": 0.2},
                       test_path=str(tmp_path / "t.csv"))
    assert len(data.train) == 4 and len(data.test) == 2
    assert data.test.x.tolist() == [[0, -1], [-1, 0]]         # item 12 and user 3 never appear in train
    assert data.test.y.tolist() == [2.0, 4.0]


def test_bad_rows_and_columns(tmp_path):
    f = tmp_path / "r.csv"
    f.write_text("userId,movieId,rating\n1,10,4\n1,11,abc\n")
    with pytest.raises(UserError, match=r"r\.csv.*line 3: rating 'abc' is not a number"):
        ratings_csv(str(f), ALL_TRAIN)
    f.write_text("userId,movieId,rating\n1,10,4\n1,11\n")
    with pytest.raises(UserError, match=r"line 3: missing user, item or rating column"):
        ratings_csv(str(f), ALL_TRAIN)
    with pytest.raises(UserError, match=r"dataset.user_col='uid': not a column of r.csv; columns are userId"):
        ratings_csv(str(f), ALL_TRAIN, user_col="uid")
    with pytest.raises(UserError, match="file not found"):
        ratings_csv(str(tmp_path / "none.csv"), ALL_TRAIN)


# ---- the id rule, encodings, out-of-range ratings, Parquet, the fast pass and the row-by-row diagnosis


def test_plain_integer_ids_are_numbers_and_anything_else_is_text(tmp_path):
    f = tmp_path / "r.csv"
    f.write_text("userId,movieId,rating\n10,5,4\n9,5,3\n-2,6,1\n")
    data = ratings_csv(str(f), ALL_TRAIN)
    assert data.user_ids == ["-2", "9", "10"]                 # int64: sorted as numbers
    f.write_text("userId,movieId,rating\n007,5,4\n7,5,3\n+7,6,1\n")
    data = ratings_csv(str(f), ALL_TRAIN)
    assert data.user_ids == ["+7", "007", "7"] and data.spec.n_users == 3    # three different users, as text
    f.write_text("userId,movieId,rating\n 7 ,5,4\n7,6,3\n")
    assert ratings_csv(str(f), ALL_TRAIN).user_ids == ["7"]   # surrounding spaces are not part of an id


def test_text_and_integer_ids_across_the_test_file_stay_distinct(tmp_path):
    (tmp_path / "r.csv").write_text("userId,movieId,rating\n7,1,4\n8,1,3\n")
    (tmp_path / "t.csv").write_text("userId,movieId,rating\n007,1,2\n7,2,5\n")
    data = ratings_csv(str(tmp_path / "r.csv"), {"train": 1.0, "val": 0.0, "test": 0.0},
                       test_path=str(tmp_path / "t.csv"))
    assert data.user_ids == ["7", "8"]
    assert data.test.x[:, 0].tolist() == [-1, 0]              # 007 is a new (cold) user, 7 is the train user 7


def test_utf8_with_a_byte_order_mark_and_accents(tmp_path):
    f = tmp_path / "r.csv"
    f.write_bytes("\ufeffuserId,movieId,rating\nJosé,Amélie,4\nZoë,Amélie,3\n".encode("utf-8"))
    data = ratings_csv(str(f), ALL_TRAIN)
    assert data.user_ids == ["José", "Zoë"] and data.item_ids == ["Amélie"]


def test_another_encoding_is_named_by_dataset_encoding(tmp_path):
    f = tmp_path / "r.csv"
    f.write_bytes("userId,movieId,rating\nJosé,1,4\nAna,1,3\n".encode("latin-1"))
    with pytest.raises(UserError, match=r"r\.csv.*line 2, byte 4: not valid utf-8 text.*set dataset\.encoding"):
        ratings_csv(str(f), ALL_TRAIN)
    assert ratings_csv(str(f), ALL_TRAIN, encoding="latin-1").user_ids == ["Ana", "José"]
    with pytest.raises(UserError, match=r"dataset\.encoding='klingon': unknown encoding"):
        ratings_csv(str(f), ALL_TRAIN, encoding="klingon")


def test_utf16_and_a_multi_character_separator(tmp_path):
    f = tmp_path / "r.dat"
    f.write_bytes("1::10::4\n2::10::5\n2::11::1\n".encode("utf-16"))
    data = ratings_csv(str(f), ALL_TRAIN, sep="::", header=False, user_col=0, item_col=1, rating_col=2,
                       encoding="utf-16")
    assert data.user_ids == ["1", "2"] and sorted(data.train.y.tolist()) == [1.0, 4.0, 5.0]


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "1e300", "1000001"])
def test_non_finite_or_absurd_ratings_are_refused_naming_file_line_and_column(tmp_path, value):
    f = tmp_path / "r.csv"
    f.write_text(f"userId,movieId,rating\n1,10,4\n2,10,{value}\n")
    with pytest.raises(UserError, match=rf"r\.csv'?: line 3: rating '{value}' is out of range \(ratings must be "
                                        rf"finite numbers with \|r\| ≤ 1e\+06\) in column 'rating'"):
        ratings_csv(str(f), ALL_TRAIN)


def test_a_bad_line_deep_in_a_large_file_is_still_named(tmp_path, monkeypatch):
    """The fast pass reads blocks; its failure hands over to the chunked row-by-row pass, which names the line
    (chunks of 7,000 lines here, so the bad one is in the seventh)."""
    monkeypatch.setattr(diagnose, "DIAGNOSIS_ROWS", 7_000)
    f = tmp_path / "r.csv"
    rows = [f"{u % 997},{u % 101},{1 + u % 5}" for u in range(60_000)]
    rows[45_000] = "5,7,four"
    f.write_text("userId,movieId,rating\n" + "\n".join(rows) + "\n")
    with pytest.raises(UserError, match=r"line 45002: rating 'four' is not a number: '5,7,four'"):
        ratings_csv(str(f), ALL_TRAIN)


def test_lines_of_spaces_and_spaces_around_fields_are_read(tmp_path):
    f = tmp_path / "r.csv"
    f.write_text("userId,movieId,rating\n1, 10, 4\n   \n2,10 ,5\n")
    data = ratings_csv(str(f), ALL_TRAIN)
    assert data.user_ids == ["1", "2"] and data.item_ids == ["10"] and sorted(data.train.y.tolist()) == [4.0, 5.0]


def test_a_header_only_file_has_no_ratings(tmp_path):
    f = tmp_path / "r.csv"
    f.write_text("userId,movieId,rating\n")
    with pytest.raises(UserError, match="no ratings in the file"):
        ratings_csv(str(f), ALL_TRAIN)


def test_parquet_round_trip_gives_the_same_data_as_the_csv(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    csv_file = tmp_path / "r.csv"
    csv_file.write_text("userId,movieId,rating\n196,242,3\n186,302,3.5\n22,377,1\n196,302,5\n")
    pq.write_table(pa.table({"userId": [196, 186, 22, 196], "movieId": ["242", "302", "377", "302"],
                             "rating": [3.0, 3.5, 1.0, 5.0]}), tmp_path / "r.parquet")
    a = ratings_csv(str(csv_file), ALL_TRAIN)
    b = ratings_csv(str(tmp_path / "r.parquet"), ALL_TRAIN)
    assert a.user_ids == b.user_ids == ["22", "186", "196"] and a.item_ids == b.item_ids == ["242", "302", "377"]
    assert a.train.x.tolist() == b.train.x.tolist() and a.train.y.tolist() == b.train.y.tolist()
    c = ratings_csv(str(tmp_path / "r.parquet"), ALL_TRAIN, user_col=0, item_col=1, rating_col=2)
    assert c.train.x.tolist() == a.train.x.tolist()


def test_bad_parquet_files_are_one_line_errors(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    f = tmp_path / "r.parquet"
    pq.write_table(pa.table({"userId": [1, 2, None], "movieId": [1, 1, 2], "rating": [4.0, 3.0, 1.0]}), f)
    with pytest.raises(UserError, match=r"r\.parquet'?: row 3: missing user \(null in column 'userId'\)"):
        ratings_csv(str(f), ALL_TRAIN)
    pq.write_table(pa.table({"userId": [1, 2], "movieId": [1, 1], "rating": [4.0, float("inf")]}), f)
    with pytest.raises(UserError, match=r"row 2: rating inf is out of range.*in column 'rating'"):
        ratings_csv(str(f), ALL_TRAIN)
    pq.write_table(pa.table({"userId": [1, 2], "movieId": [1, 1], "rating": ["4", "five"]}), f)
    with pytest.raises(UserError, match=r"row 2: rating 'five' in column 'rating' is not a number"):
        ratings_csv(str(f), ALL_TRAIN)
    with pytest.raises(UserError, match=r"dataset\.item_col='item': not a column of r\.parquet; columns are "
                                        r"userId, movieId, rating"):
        ratings_csv(str(f), ALL_TRAIN, item_col="item")
    f.write_text("userId,movieId,rating\n1,1,4\n")
    with pytest.raises(UserError, match=r"not a readable Parquet file"):
        ratings_csv(str(f), ALL_TRAIN)


def test_a_clean_file_takes_the_fast_pass_only(tmp_path, monkeypatch):
    def no_diagnosis(*args):
        raise AssertionError("the row-by-row pass ran on a clean file")

    monkeypatch.setattr(read, "diagnose", no_diagnosis)
    f = tmp_path / "r.csv"
    f.write_text("userId,movieId,rating,timestamp\n1,10,4,9\n1,11,3.5,9\n\n2,10,5,9\n")
    data = ratings_csv(str(f), ALL_TRAIN)
    assert data.spec.n_train == 3 and data.user_ids == ["1", "2"]
    f.write_text("7\t1\t4\n8\t1\t2\n")
    assert ratings_csv(str(f), ALL_TRAIN, sep="\t", header=False, user_col=0, item_col=1, rating_col=2).spec.n_users == 2


@pytest.mark.slow        # two runs of the command: ≈ 10 s on the shared 2-core machine
def test_dataset_encoding_from_the_command_line(tmp_path, cli):
    f = tmp_path / "r.csv"
    f.write_bytes(b"userId,movieId,rating\n" + "".join(
        f"{u},{i},{1 + (n * i) % 5}\n" for n, u in enumerate(("José", "Zoë", "Ana")) for i in range(1, 8))
        .encode("latin-1"))
    bad = cli("train", "model=mf", "optimizer=als", "dataset=ratings_csv", f"dataset.path={f}", "device=cpu",
              "trainer.epochs=1", cwd=tmp_path)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    assert "line 2, byte 4: not valid utf-8 text" in bad.stderr.strip().splitlines()[-1]
    good = cli("train", "model=mf", "optimizer=als", "dataset=ratings_csv", f"dataset.path={f}", "device=cpu",
               "trainer.epochs=1", "dataset.encoding=latin-1", "hydra.run.dir=run", cwd=tmp_path)
    assert good.returncode == 0, good.stderr[-2000:]
    assert (tmp_path / "run" / "summary.json").is_file()
