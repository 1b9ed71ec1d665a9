"""Property: any value for any key of any group either trains (exit 0) or ends in exactly one stderr line with
exit 2 and no run folder left behind (or exit 3 when the value is legal but the run diverges, e.g.
optimizer.eps=0: the folder stays with error.txt) — never a traceback.

Values are drawn at and beyond the limits (0, -1, 2**63, 2**70, inf, nan, 1e308), of the wrong type (strings,
lists, booleans, null) and as text with path separators, quotes and unicode. Each example runs `mlrun train`
in-process with one batch (trainer.fast_dev_run=true) on digits. A few examples by default; many under `slow`.
Left out on purpose: keys that size data or models (a width of 10**9 is a legal request for 4 GB that this
machine may or may not grant) get integers up to 10**4 plus 2**70.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tests.helpers import make_cfg  # noqa: E402
from mlrun.config.compose import flatten  # noqa: E402

SIZES = ("hidden", "width", "channels", "k", "n_samples", "n_features", "n_users", "n_items", "rank", "head",
         "steps", "max_iter", "eval_batch_size", "batch_size", "epochs", "device_data_mb", "workers",
         "checkpoint_every_steps", "step_size", "cv_folds", "convs_per_block", "kernel", "pca_components",
         "n_classes", "n_points", "n_informative", "burn_in")
GROUPS = {"model": ("mlp", "logistic", "cnn", "pca"), "optimizer": ("adam", "sgd", "momentum", "nesterov",
                                                                    "adagrad", "rmsprop", "adamw"),
          "trainer": ("default",), "device": ("cpu",), "dataset": ("digits",)}
SKIP = ("_target_", "trainer.strategy", "trainer.cv_folds", "dataset.folds", "dataset.fold", "device.type",
        "trainer.fast_dev_run", "trainer.workers", "trainer.data_on_device", "trainer.compile")


def keys() -> list[tuple[str, str]]:
    """(group=option override, dotted key) for every leaf key of the options above, and the top-level keys."""
    out = [("", k) for k in ("seed", "name", "loss")]
    for group, options in GROUPS.items():
        for option in options:
            cfg = make_cfg(f"{group}={option}", shrink=False)
            out += [(f"{group}={option}", f"{group}.{k}") for k in flatten(cfg[group])
                    if f"{group}.{k}" not in SKIP and not k.endswith("_target_")]
    return out


KEYS = keys()
TEXT = st.text(alphabet=st.sampled_from(list("ab/\\.'\" é∂-_,=:0[]{}$")), min_size=0, max_size=12)
VALUES = st.one_of(
    st.sampled_from([0, -1, 1, 2, 2**31, 2**63, 2**70, -(2**70)]),
    st.sampled_from([0.0, -0.5, 0.5, 1.0, 1.5, 1e308, -1e308, 1e-300, float("inf"), float("-inf"), float("nan")]),
    st.sampled_from([True, False, None, [], [1, 2], [0], "full", "auto", "none", "../x", "a/b"]),
    TEXT,
)


def override(key: str, value) -> str:
    """`key=value` in Hydra's grammar (strings single-quoted with escapes)."""
    if value is None:
        return f"{key}=null"
    if isinstance(value, bool):
        return f"{key}={str(value).lower()}"
    if isinstance(value, float):
        text = "nan" if math.isnan(value) else {math.inf: "inf", -math.inf: "-inf"}.get(value, repr(value))
        return f"{key}={text}"
    if isinstance(value, (int, list)):
        return f"{key}={value}".replace(" ", "")
    return f"{key}='" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def run(tmp: Path, *overrides: str) -> tuple[int, str]:
    from mlrun.cli import main

    err = io.StringIO()
    code = 0
    cwd = os.getcwd()
    os.chdir(tmp)
    from mlrun.api import own_logging

    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()), own_logging():
            main(["train", "device=cpu", "trainer.fast_dev_run=true", f"output_root={tmp / 'outputs'}",
                  *overrides])
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    finally:
        os.chdir(cwd)
    return code, err.getvalue()


def check(tmp: Path, choice: str, key: str, value) -> None:
    args = [a for a in (choice, override(key, value)) if a]
    if key.split(".")[-1] in SIZES and isinstance(value, int) and not isinstance(value, bool) \
            and 10**4 < abs(value) < 2**70:
        return                                             # see the module docstring
    folders = lambda: set((tmp / "outputs").glob("*/*")) if (tmp / "outputs").exists() else set()  # noqa: E731
    before = folders()
    code, err = run(tmp, *args)
    assert "Traceback" not in err, (args, err)
    new = folders() - before
    if code == 0:
        assert len(new) == 1 and (new.pop() / "summary.json").is_file(), args      # a complete run
        return
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mlrun train: error: "), (args, err)
    if code == 3:                                           # diverged (e.g. optimizer.eps=0): one line, the
        assert len(new) == 1 and (new.pop() / "error.txt").is_file(), args    # folder kept with error.txt
        return
    assert code == 2, (args, code, err)
    assert new == set(), (args, new)                        # no half-made folder


def _property(examples: int):
    @settings(max_examples=examples, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(st.sampled_from(KEYS), VALUES)
    def prop(tmp_path, picked, value):
        check(tmp_path, picked[0], picked[1], value)
    return prop


test_any_override_trains_or_fails_in_one_line = _property(12)
test_any_override_trains_or_fails_in_one_line_many = pytest.mark.slow(_property(150))
