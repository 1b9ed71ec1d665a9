"""mlrun.fit.launch: what `mlrun train` settles before Hydra starts, as one record (no module state)."""

from pathlib import Path

import pytest

from mlrun.errors import UserError
from mlrun.fit.launch import prepare


def test_a_single_run_claims_its_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    launch = prepare(["device=cpu", "name=demo"], None)
    assert launch.run_dir.is_dir() and launch.run_dir.name.endswith("_demo") and launch.claimed
    assert launch.argv[-1] == f"hydra.run.dir='{launch.run_dir}'" and launch.owner and launch.resume is None


def test_a_sweep_claims_its_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    launch = prepare(["-m", "seed=1,2"], None)
    assert launch.sweep_dir.is_dir() and launch.sweep_dir.parent.parent.name == "multirun"
    assert launch.run_dir is None and launch.argv[-1].startswith("hydra.sweep.dir=")


@pytest.mark.parametrize("argv, match", [
    (["name=../../x"], "must be one folder-name component"),
    (["output_root=null"], "output_root='None': must be a folder path"),
    (["-m", "resume=x"], "resume=x: continues one run; it cannot be combined with -m"),
])
def test_refused_before_any_folder_exists(tmp_path, monkeypatch, argv, match):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError, match=match):
        prepare(argv, None)
    assert list(Path(tmp_path).iterdir()) == []


def test_a_user_placed_folder_is_not_ours_to_remove(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine").mkdir()
    launch = prepare([f"hydra.run.dir={tmp_path / 'mine'}"], None)
    assert launch.run_dir == tmp_path / "mine" and not launch.claimed
    (tmp_path / "mine" / "metrics.csv").write_text("epoch\n")
    with pytest.raises(UserError, match="already holds a run; continue it with `mlrun train resume="):
        prepare([f"hydra.run.dir={tmp_path / 'mine'}"], None)


def test_a_named_empty_folder_is_held_until_the_run_ends(tmp_path, monkeypatch):
    """Two commands naming the same empty folder: the first holds its lock, the second is refused."""
    import os

    monkeypatch.chdir(tmp_path)
    (tmp_path / "shared").mkdir()
    first = prepare(["hydra.run.dir=shared"], None)
    assert first.lock is not None and not first.claimed
    with pytest.raises(UserError, match=f"is in use by pid {os.getpid()}"):
        prepare(["hydra.run.dir=shared"], None)
    first.release()
    prepare(["hydra.run.dir=shared"], None).release()      # free again: nothing but the lock file in it
    with pytest.raises(UserError, match="hydra.sweep.dir='sw': already holds a sweep"):
        (tmp_path / "sw").mkdir()
        (tmp_path / "sw" / "sweep_summary.csv").write_text("job\n")
        prepare(["-m", "seed=1,2", "hydra.sweep.dir=sw"], None)
