"""Shared fixtures and the hypothesis profiles.

CUDA tests (marker `cuda`) run only when asked for: `pytest -m cuda`, on a real GPU or under
NUMBA_ENABLE_CUDASIM=1; the default run deselects them (pyproject addopts). Op tests take the `backend` fixture
and run one body on both backends.

Hypothesis profiles: `dev` (the default: few examples) and `ci` (more examples, derandomized, no example
database), chosen with HYPOTHESIS_PROFILE. Neither has a deadline: first calls compile.
"""

import os

import pytest
from hypothesis import settings

settings.register_profile("dev", max_examples=10, deadline=None)
settings.register_profile("ci", max_examples=40, deadline=None, derandomize=True, database=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture
def small_blocks(monkeypatch):
    """Tiny thread blocks and GEMM tiles, so many blocks and ragged edges run even on tiny shapes."""
    from numbaconv import _cuda

    monkeypatch.setattr(_cuda, "THREADS_1D", 32)
    monkeypatch.setattr(_cuda, "GEMM_TILE", 4)


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=pytest.mark.cuda)])
def backend(request):
    """The backend an op test runs on: "cpu", or "cuda" (marked `cuda`, with small blocks). Arrays move with
    helpers.run / to_backend / to_host; helpers.over_backends gives a test a smaller matrix on CUDA."""
    if request.param == "cuda":
        request.getfixturevalue("small_blocks")
    return request.param


@pytest.fixture
def dev():
    """Host -> Numba device array (the simulator's too), for the CUDA-only tests."""
    from numba import cuda

    return cuda.to_device
