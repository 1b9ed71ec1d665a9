"""Bounded readers of a run's files (mlrun.report.files): each broken file is refused with its name and why,
without reading more than the bound or recursing per nesting level."""

from __future__ import annotations

import os

import pytest

from mlrun.report.files import (DEPTH_MAX, Unreadable, read_error, read_json_object, read_metrics_csv,
                                read_yaml)


def refused(reader, path, **kwargs) -> str:
    with pytest.raises(Unreadable) as e:
        reader(path, **kwargs)
    assert e.value.path == path and "\n" not in str(e.value)
    return e.value.why


@pytest.mark.parametrize("content, why", [
    (b"[1, 2, 3]", "a JSON list, expected an object {...}"),
    (b'"text"', "a JSON str, expected an object {...}"),
    (b"{nope", "not JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char 1))"),
    (b"", "empty file"),
    (b" \n", "empty file"),
    (b'{"a": "\xff"}', "not UTF-8 text (byte 0xff at offset 7)"),
    (b"[" * 100_000 + b"]" * 100_000, f"nested more than {DEPTH_MAX} levels deep"),
    (b'{"a": ' * 40 + b"1" + b"}" * 40, f"nested more than {DEPTH_MAX} levels deep"),
])
def test_broken_summaries_are_named_with_the_reason(tmp_path, content, why):
    path = tmp_path / "summary.json"
    path.write_bytes(content)
    assert refused(read_json_object, path) == why


def test_brackets_inside_strings_are_not_nesting(tmp_path):
    path = tmp_path / "summary.json"
    path.write_text('{"note": "[[[[' + "[" * 100 + '\\"{{{{", "depth": [[1]]}')
    assert read_json_object(path)["depth"] == [[1]]


def test_a_3_gb_sparse_summary_is_refused_from_its_size_without_reading_it(tmp_path, monkeypatch):
    path = tmp_path / "summary.json"
    with open(path, "wb") as f:
        f.truncate(3 << 30)                             # sparse: no disk used
    opened = []
    monkeypatch.setattr("builtins.open", lambda *a, **k: opened.append(a) or pytest.fail("opened"))
    assert refused(read_json_object, path) == "3,221,225,472 bytes, more than the 4,194,304 a report reads"
    assert opened == []


def test_a_fifo_or_folder_is_not_read(tmp_path):
    os.mkfifo(tmp_path / "summary.json")                # opening it would block until a writer came
    assert refused(read_json_object, tmp_path / "summary.json") == "not a regular file"
    (tmp_path / "metrics.csv").mkdir()
    assert refused(read_metrics_csv, tmp_path / "metrics.csv") == "not a regular file"


@pytest.mark.parametrize("content, why", [
    ("epoch,train_loss\n1,0.5\n2,abc\n", "line 3, column train_loss: not a number: 'abc'"),
    ("step,train_loss\n1,0.5\n", "the header needs an 'epoch' column and no name twice (header: step, train_loss)"),
    ("epoch,loss,loss\n1,0.5,0.5\n", "the header needs an 'epoch' column and no name twice (header: epoch, loss, loss)"),
    ("epoch,train_loss\n1,0.5\n\n2,0.5,7,8\n", "line 4: 4 fields, the header has 2"),
    ("epoch,train_loss\n1,\"0.5\n", "not CSV (line 2: unexpected end of data)"),
    ("", "empty file"),
    (",".join(f"c{i}" for i in range(1001)) + "\n", "more than 1000 columns"),
    ("epoch,train_loss\n" + "1,0.5\n" * 200, "1,217 bytes, more than the 1,000 a report reads"),
])
def test_broken_metrics_are_named_with_the_reason(tmp_path, content, why):
    path = tmp_path / "metrics.csv"
    path.write_text(content)
    assert refused(read_metrics_csv, path, limit=1000 if "bytes" in why else 16 << 20) == why


def test_metrics_are_numbers_and_blanks_are_nan(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text("epoch,train_loss,val_acc\n1,0.5,\n2,0.25,0.9\n")
    df = read_metrics_csv(path)
    assert list(df["epoch"]) == [1, 2] and list(df["train_loss"]) == [0.5, 0.25]
    assert df["val_acc"].isna().tolist() == [True, False]
    assert read_metrics_csv(tmp_path / "missing.csv") is None


@pytest.mark.parametrize("content, why", [
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ("a: " + "{b: " * 40 + "1" + "}" * 40, f"nested more than {DEPTH_MAX} levels deep"),
    ("a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, "
                                                          f"*{p}, *{p}, *{p}]\n" for p, c in zip("abcdefg", "bcdefgh")),
     "more than 200,000 values (repeated YAML aliases?)"),
    ("a: [1, 2\n", "not YAML (while parsing a flow sequence"),
])
def test_broken_yaml_is_named_with_the_reason(tmp_path, content, why):
    path = tmp_path / "config.yaml"
    path.write_text(content)
    assert refused(read_yaml, path).startswith(why)


def test_error_text_is_bounded_and_never_refused(tmp_path):
    path = tmp_path / "error.txt"
    path.write_bytes(b"bad \xff value " + b"x" * 100)
    assert read_error(path, limit=20) == "bad \ufffd value xxxxxxxx …"
    assert read_error(tmp_path / "missing.txt") == ""


def test_deep_yaml_without_libyaml_is_refused_too(tmp_path, monkeypatch):
    import yaml

    monkeypatch.delattr(yaml, "CSafeLoader", raising=False)         # the pure-Python loader recurses per level
    path = tmp_path / "config.yaml"
    path.write_text("[" * 5000 + "]" * 5000)
    assert refused(read_yaml, path) == "nested too deeply"
    path.write_text("a: {b: [1, 2]}\n")
    assert read_yaml(path) == {"a": {"b": [1, 2]}}
