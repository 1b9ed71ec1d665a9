"""mlrun.config.comments: end-of-line comments of a YAML file put back beside the keys of a printed config."""

from mlrun.config.comments import annotate, key_comments


def test_comments_of_top_level_keys_with_continuations_and_quotes(tmp_path):
    f = tmp_path / "opt.yaml"
    f.write_text("_target_: x.Y\nsep: '#'       # the separator\nlong: 1   # first part\n"
                 "                # second part\nplain: 2\nnested:       # a block\n  inner: 3   # not top-level\n")
    assert key_comments(f) == {"sep": "the separator", "long": "first part second part", "nested": "a block"}


def test_annotate_puts_group_comments_under_their_group():
    text = "seed: 0\noptimizer:\n  lr: 0.1\n  betas:\n  - 0.9\nother:\n  lr: 5\n"
    out = annotate(text, {"optimizer": "adam"}).splitlines()
    assert out[0].startswith("seed: 0 ") and "# seeds the split" in out[0]
    assert out[2].startswith("  lr: 0.1 ") and out[2].endswith("# step size (> 0)")
    assert out[4] == "  - 0.9" and out[6] == "  lr: 5"                # list items, unknown groups: unchanged
