"""Shared fixtures. CUDA tests (marker `cuda`) run only when asked for: `pytest -m cuda`, on a real GPU or
under NUMBA_ENABLE_CUDASIM=1; the default run deselects them (pyproject addopts)."""

import pytest


@pytest.fixture
def small_blocks(monkeypatch):
    """Tiny thread blocks and GEMM tiles, so many blocks and ragged edges run even on tiny shapes."""
    from numbaconv import _cuda
    monkeypatch.setattr(_cuda, "THREADS_1D", 32)
    monkeypatch.setattr(_cuda, "GEMM_TILE", 4)


@pytest.fixture
def dev():
    """Host -> Numba device array (the simulator's too), for the CUDA tests."""
    from numba import cuda
    return cuda.to_device
