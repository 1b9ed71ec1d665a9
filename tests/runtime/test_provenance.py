"""Provenance: data fingerprints (and their cache, untrusted), the files a dataset opens, git state and its patch."""

from __future__ import annotations

import gzip
import importlib
import hashlib
import json
import os
import shutil
import subprocess

import pytest

from mlrun.runtime import provenance

GIT = shutil.which("git")


def test_fingerprint_is_the_sha256_and_one_byte_changes_it(tmp_path):
    data = tmp_path / "train.csv"
    data.write_bytes(b"x,y\n1,2\n")
    first = provenance.fingerprints([str(data)], tmp_path / "cache")[str(data)]
    assert first["sha256"] == hashlib.sha256(b"x,y\n1,2\n").hexdigest() and first["size"] == 8
    data.write_bytes(b"x,y\n1,3\n")                    # same size; mtime moves
    os.utime(data, ns=(1, 2_000_000_000))
    assert provenance.fingerprints([str(data)], tmp_path / "cache")[str(data)]["sha256"] != first["sha256"]


def test_cache_is_used_by_path_size_mtime(tmp_path):
    data = tmp_path / "d.bin"
    data.write_bytes(b"abc")
    provenance.fingerprints([str(data)], tmp_path)
    cache = json.loads((tmp_path / "fingerprints.json").read_text())
    (key,) = cache
    cache[key] = "0" * 64                                 # a re-run takes the cached digest, does not re-hash
    (tmp_path / "fingerprints.json").write_text(json.dumps(cache))
    assert provenance.fingerprints([str(data)], tmp_path)[str(data)]["sha256"] == "0" * 64


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '{"a": 5, "b": "zz"}', "[" * 100_000])
def test_malformed_cache_is_ignored(tmp_path, text):
    data = tmp_path / "d.bin"
    data.write_bytes(b"abc")
    (tmp_path / "fingerprints.json").write_text(text)
    got = provenance.fingerprints([str(data), str(tmp_path / "missing")], tmp_path)
    assert list(got) == [str(data)] and got[str(data)]["sha256"] == hashlib.sha256(b"abc").hexdigest()


def test_recorder_sees_the_data_files_a_reader_opens(tmp_path):
    plain, packed = tmp_path / "a.csv", tmp_path / "b.csv.gz"
    plain.write_text("1\n")
    with gzip.open(packed, "wt") as f:
        f.write("2\n")
    with provenance.Recorder() as read:
        plain.read_text()
        with gzip.open(packed, "rt") as f:
            f.read()
        (tmp_path / "out.txt").write_text("written, not read")
        importlib.import_module("colorsys")              # an import opens code: never recorded
    plain.read_text()                                    # after the recorder closed
    assert read.paths == [str(plain), str(packed)]


@pytest.mark.skipif(GIT is None, reason="git not installed")
def test_dirty_tree_leaves_a_patch_git_apply_accepts(tmp_path):
    repo, run = tmp_path / "repo", tmp_path / "run"
    repo.mkdir(), run.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], check=True)
    (repo / "code.py").write_text("a = 1\n")
    subprocess.run([*git, "add", "code.py"], check=True)
    subprocess.run([*git, "commit", "-qm", "one"], check=True)
    assert provenance.git_state(repo, run)["dirty"] is False and not (run / provenance.PATCH).exists()
    (repo / "code.py").write_text("a = 2\n")
    (repo / "new.txt").write_text("untracked\n")
    state = provenance.git_state(repo, run)
    assert state["dirty"] and state["patch"] == provenance.PATCH and list(state["changed"]) == ["code.py"]
    assert state["untracked"] == ["new.txt"]
    subprocess.run([*git, "checkout", "-q", "code.py"], check=True)          # back to the commit, then re-apply
    subprocess.run([*git, "apply", str(run / provenance.PATCH)], check=True)
    assert (repo / "code.py").read_text() == "a = 2\n"


def test_collect_outside_a_repository(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    got = provenance.collect(tmp_path, None, [], tmp_path / "cache")
    assert got["git"] is None and got["python"].count(".") == 2 and got["torch"]
    assert "torch" in got["packages"] and "numpy" in got["packages"]


def test_recorder_puts_open_back():
    import builtins
    import io

    before = builtins.open, io.open
    with provenance.Recorder():
        with provenance.Recorder():
            assert builtins.open is not before[0]
    assert (builtins.open, io.open) == before
