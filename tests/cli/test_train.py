"""`mlrun train --help` and `--cfg job` show each key's comment from conf/*.yaml (units, allowed values)."""

from __future__ import annotations

import re

from mlrun.cli.train import main


def test_help_shows_the_comment_of_each_key(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    main(["--help"])
    out = capsys.readouterr().out
    assert re.search(r"^  lr: 0\.001 +# step size \(> 0\)$", out, re.M)                     # conf/optimizer/adam.yaml
    assert re.search(r"^seed: 0 +# seeds the split, the init and the shuffles", out, re.M)   # conf/config.yaml
    assert "== Config groups (group=option) ==" in out and "Examples:" in out               # the rest of the help


def test_cfg_job_comments_follow_the_chosen_options(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    main(["--cfg", "job", "model=cnn", "dataset=image_folder"])
    out = capsys.readouterr().out
    assert re.search(r"^  arch: convnet +# lenet5 \| convnet \| svhn \| custom", out, re.M)
    assert re.search(r"^  grayscale: false +# true = 1 channel", out, re.M)
    assert not (tmp_path / "outputs").exists()                                                # nothing trained
