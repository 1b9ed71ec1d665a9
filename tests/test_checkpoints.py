import pytest
import torch

from mlrun import checkpoints
from mlrun.errors import UserError


def test_round_trip_weights_only(tmp_path):
    payload = {"model": {"w": torch.ones(2)}, "config": {"a": 1}, "spec": {"task": "binary"}, "epoch": 3}
    checkpoints.save(tmp_path / "c" / "x.pt", payload)
    got = checkpoints.load(tmp_path / "c" / "x.pt")
    assert got["epoch"] == 3 and torch.equal(got["model"]["w"], torch.ones(2))
    assert [p.name for p in (tmp_path / "c").iterdir()] == ["x.pt"]          # no temporary file left


def test_a_run_dir_means_its_best_checkpoint(tmp_path):
    checkpoints.save(tmp_path / "checkpoints" / "best.pt", {"model": {}, "config": {}, "spec": {}, "epoch": 1})
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
