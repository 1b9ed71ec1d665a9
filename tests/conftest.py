"""Fixtures over tests/helpers.py (the one place test helpers live; tests import them as `tests.helpers`)."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

import pytest

from tests.helpers import make_cfg, mlrun_cli

# mlrun's caches (data fingerprints, decoded image folders) go to a folder of this test session, not the user's
# ~/.cache/mlrun; subprocesses inherit it. One per process: pytest-xdist workers each get their own.
os.environ["MLRUN_CACHE_DIR"] = tempfile.mkdtemp(prefix="mlrun-test-cache-")
atexit.register(shutil.rmtree, os.environ["MLRUN_CACHE_DIR"], True)


@pytest.fixture
def cfg():
    return make_cfg


@pytest.fixture
def cli():
    return mlrun_cli


@pytest.fixture
def one_thread():
    """Tiny tensors, many small solver steps: on a shared 2-core machine intra-op thread hand-offs cost far more
    than the work (25× slower under load), so such tests run on one thread."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
