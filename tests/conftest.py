"""Fixtures over tests/helpers.py (the one place test helpers live; tests import them as `tests.helpers`)."""

from __future__ import annotations

import pytest

from tests.helpers import make_cfg, mlrun_cli


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
