"""mlrun.config.compose: the one compose, override-key reader and flattener every command uses."""

import pytest

from mlrun.config.compose import compose, flatten, one_line, override_key
from mlrun.errors import UserError


def test_compose_is_what_mlrun_train_runs():
    cfg = compose(["model=logistic", "dataset=iris", "hydra.job.name=x", "trainer.epochs=3"])
    assert cfg.model._target_ == "mlrun.models.Logistic" and cfg.trainer.epochs == 3 and "hydra" not in cfg


def test_compose_failure_is_one_line():
    with pytest.raises(UserError, match=r"^cannot compose model=nope: .*model/nope") as e:
        compose(["model=nope"])
    assert "\n" not in str(e.value) and "Config search path" not in str(e.value)


@pytest.mark.parametrize("text, key", [("a.b=1", "a.b"), ("+a.b=1", "a.b"), ("~a.b", "a.b"), ("++x=2", "x"),
                                       ("hydra/launcher=joblib", "hydra/launcher")])
def test_override_key(text, key):
    assert override_key(text) == key


def test_flatten_keeps_lists_as_values_and_resolves():
    from omegaconf import OmegaConf

    cfg = OmegaConf.create({"a": {"b": 1, "c": [1, 2], "d": {}}, "e": "${a.b}"})
    assert flatten(cfg) == {"a.b": 1, "a.c": [1, 2], "a.d": {}, "e": 1}


def test_one_line_drops_the_search_path_dump():
    assert one_line(ValueError("bad\n  thing\nConfig search path:\n x")) == "bad thing"
