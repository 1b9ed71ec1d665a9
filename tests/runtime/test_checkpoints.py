import os

import pytest
import torch

from mlrun.runtime import checkpoints
from mlrun.errors import UserError

CONFIG = {group: {} for group in checkpoints.CONFIG_KEYS}     # the smallest config a checkpoint may carry


def test_round_trip_weights_only(tmp_path):
    payload = {"model": {"w": torch.ones(2)}, "config": CONFIG, "spec": {"task": "binary"}, "epoch": 3}
    checkpoints.save(tmp_path / "c" / "x.pt", payload)
    got = checkpoints.load(tmp_path / "c" / "x.pt")
    assert got["epoch"] == 3 and torch.equal(got["model"]["w"], torch.ones(2))
    assert [p.name for p in (tmp_path / "c").iterdir()] == ["x.pt"]          # no temporary file left


def test_a_run_dir_means_its_best_checkpoint(tmp_path):
    checkpoints.save(tmp_path / "checkpoints" / "best.pt", {"model": {}, "config": CONFIG, "spec": {"task": "binary"},
                                                                  "epoch": 1})
    assert checkpoints.load(tmp_path)["epoch"] == 1


class Payload:                                       # anything that is not plain data must be refused
    def __reduce__(self):
        return (print, ("this would run on load",))


@pytest.mark.parametrize("make, match", [
    (lambda p: None, "file not found"),
    (lambda p: p.write_bytes(b"not a checkpoint"), "corrupt or not a torch checkpoint"),
    (lambda p: torch.save({"model": {}, "config": {}, "spec": {}, "x": Payload()}, p), "refused: it holds pickled"),
    (lambda p: torch.save({"weights": torch.ones(1)}, p), "not an mlrun checkpoint \\(needs keys model, config, spec\\)"),
])
def test_bad_checkpoints_are_one_line(tmp_path, make, match):
    path = tmp_path / "c.pt"
    make(path)
    with pytest.raises(UserError, match=match):
        checkpoints.load(path)


def test_truncated_checkpoint(tmp_path):
    path = tmp_path / "c.pt"
    checkpoints.save(path, {"model": {"w": torch.ones(1000)}, "config": {}, "spec": {}})
    path.write_bytes(path.read_bytes()[:-600])
    with pytest.raises(UserError, match="corrupt or not a torch checkpoint"):
        checkpoints.load(path)


@pytest.mark.parametrize("change, match", [
    ({"config": "seed: 1"}, "its config is a str, not a mapping"),
    ({"config": [1, 2]}, "its config is a list, not a mapping"),
    ({"config": {k: v for k, v in CONFIG.items() if k != "device"}}, "its config has no device section"),
    ({"config": {**CONFIG, "seed": "${oc.env:HOME}"}}, r"config.seed='\$\{oc.env:HOME\}': interpolations are not"),
    ({"config": {**CONFIG, "dataset": {"path": "${mlrun_run_dir:/tmp/x,y}"}}}, "interpolations are not allowed"),
    ({"model": None}, "its model weights are not a mapping of tensors"),
    ({"model": {"w": [1.0]}}, "its model weights are not a mapping of tensors"),
    ({"spec": "multiclass"}, "its spec is not a mapping with a task"),
])
def test_a_loadable_checkpoint_with_bad_contents_is_one_line(tmp_path, change, match):
    payload = {"model": {"w": torch.ones(2)}, "config": CONFIG, "spec": {"task": "binary"}, "epoch": 1} | change
    torch.save(payload, tmp_path / "x.pt")
    with pytest.raises(UserError, match=f"not a valid mlrun checkpoint \\(.*{match}"):
        checkpoints.load(tmp_path / "x.pt")


def test_a_full_disk_is_an_oserror_naming_the_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    """torch reports ENOSPC as a RuntimeError ('unexpected pos 576 vs 534'); the previous checkpoint stays."""
    import errno
    import shutil
    from collections import namedtuple

    target = tmp_path / "c" / "last.pt"
    checkpoints.save(target, {"model": {"w": torch.ones(2)}, "config": CONFIG, "spec": {"task": "binary"}})
    before = target.read_bytes()

    def full(*args, **kwargs):
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 576 vs 534")

    monkeypatch.setattr(torch, "save", full)
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(10**9, 10**9, 0))
    with pytest.raises(OSError) as e:
        checkpoints.save(target, {"model": {}})
    assert e.value.errno == errno.ENOSPC and e.value.filename == str(target)
    assert target.read_bytes() == before and [p.name for p in target.parent.iterdir()] == ["last.pt"]


def test_a_real_full_filesystem(tmp_path):
    """The same on a 200 KB tmpfs, where the machine lets root mount one (skipped elsewhere)."""
    import errno
    import subprocess

    mnt = tmp_path / "tiny"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(mnt)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        with pytest.raises(OSError) as e:
            checkpoints.save(mnt / "c" / "last.pt", {"model": {"w": torch.zeros(100_000)}})
        assert e.value.errno == errno.ENOSPC
        assert list((mnt / "c").iterdir()) == []
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


@pytest.mark.parametrize("weights, match", [
    ({"w": torch.tensor([1.0, float("nan")])}, "its weight w holds 1 NaN/Inf value\\(s\\) of 2"),
    ({"w": torch.ones(2), "v": torch.full((2, 2), float("inf"))}, "its weight v holds 4 NaN/Inf"),
    ({"w": -torch.full((3,), float("inf"), dtype=torch.float64)}, "its weight w holds 3 NaN/Inf"),
    ({"w": torch.ones(2, dtype=torch.complex64)}, "its weight w is a torch.strided torch.complex64 tensor"),
])
def test_non_finite_or_non_real_weights_are_refused(tmp_path, weights, match):
    """A NaN weight made every prediction NaN, which argmax turned into class 0 without a word (D9)."""
    torch.save({"model": weights, "config": CONFIG, "spec": {"task": "binary"}}, tmp_path / "x.pt")
    with pytest.raises(UserError, match=f"not a valid mlrun checkpoint \\({match}"):
        checkpoints.load(tmp_path / "x.pt")


def test_integer_and_half_weights_load(tmp_path):
    weights = {"w": torch.ones(2, dtype=torch.float16), "n": torch.tensor(3), "mask": torch.tensor([True, False])}
    torch.save({"model": weights, "config": CONFIG, "spec": {"task": "binary"}}, tmp_path / "x.pt")
    assert checkpoints.load(tmp_path / "x.pt")["model"]["n"] == 3


def test_save_removes_temporaries_of_dead_writers_only(tmp_path):
    """kill -9 mid-save leaves `.last.pt.tmp<pid>`; the next save of that file removes those of dead pids."""
    import subprocess
    import sys

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    folder = tmp_path / "c"
    folder.mkdir()
    names = [f".last.pt.tmp{dead.pid}", f".last.pt.tmp{os.getppid()}", f".best.pt.tmp{dead.pid}", "notes.txt"]
    for name in names:
        (folder / name).write_bytes(b"partial")
    checkpoints.save(folder / "last.pt", {"model": {}, "config": CONFIG, "spec": {"task": "binary"}})
    assert sorted(p.name for p in folder.iterdir()) == sorted(["last.pt", *names[1:]])
