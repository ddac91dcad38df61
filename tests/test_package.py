"""Packaging promises: nothing compiles (or even imports Numba) at import; the opt-in on-disk cache works."""

import os
import subprocess
import sys

import numpy as np

import numbaconv


def _run(code, **env):
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env={**os.environ, **env}
    ).stdout


def test_import_does_not_import_numba():
    out = _run("import sys, numbaconv; print('numba' in sys.modules, 'numbaconv.kernels' in sys.modules)")
    assert out.split() == ["False", "False"]


def test_kernels_are_installed_as_numbaconv_kernels():
    from numbaconv import kernels

    assert kernels.__name__ == "numbaconv.kernels"


def test_numbaconv_cache_writes_numba_cache_files(tmp_path):
    code = (
        "import numpy as np, numbaconv; "
        "numbaconv.depthwise_conv2d(np.ones((1, 2, 5, 5)), np.ones((2, 1, 3, 3)), padding=1)"
    )
    _run(code, NUMBACONV_CACHE="1", NUMBA_CACHE_DIR=str(tmp_path))
    cached = [f for _, _, files in os.walk(tmp_path) for f in files]
    assert any(f.endswith(".nbi") for f in cached), cached


def test_info_reports_versions_and_threads():
    from numbaconv.__main__ import info

    facts = info()
    assert facts["numbaconv"] == numbaconv.__version__
    assert facts["numpy"] == np.__version__
    assert facts["numba threads"] >= 1
    assert facts["threading layer"] in ("omp", "tbb", "workqueue")
