"""Packaging promises: nothing compiles (or even imports Numba) at import; the on-disk cache (on by default)
works; `warmup` compiles every kernel ahead."""

import os
import subprocess
import sys

import numpy as np
import pytest

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


def test_the_cache_writes_numba_cache_files_by_default(tmp_path):
    code = (
        "import numpy as np, numbaconv; "
        "numbaconv.depthwise_conv2d(np.ones((1, 2, 5, 5)), np.ones((2, 1, 3, 3)), padding=1)"
    )
    env = {k: v for k, v in os.environ.items() if k != "NUMBACONV_CACHE"}
    subprocess.run([sys.executable, "-c", code], check=True, env={**env, "NUMBA_CACHE_DIR": str(tmp_path / "on")})
    cached = [f for _, _, files in os.walk(tmp_path / "on") for f in files]
    assert any(f.endswith(".nbi") for f in cached), cached
    _run(code, NUMBACONV_CACHE="0", NUMBA_CACHE_DIR=str(tmp_path / "off"))
    assert not (tmp_path / "off").exists()


def test_warmup_runs_every_cpu_convolution_kernel(monkeypatch):
    from numbaconv import _launch_conv
    from numbaconv.warmup import plan

    ran = set()
    for key, real in list(_launch_conv.LAUNCHERS.items()):

        def counting(*args, _real=real, _kernel=key[0]):
            ran.add(_kernel)
            return _real(*args)

        monkeypatch.setitem(_launch_conv.LAUNCHERS, key, counting)
    for _, call in plan(["conv"], ["float32"], ["first", "last"]):
        call()
    assert ran == {key[0] for key in _launch_conv.LAUNCHERS if key[1] == "cpu"}


def test_warmup_command_and_its_errors(capsys):
    from numbaconv.__main__ import main
    from numbaconv.warmup import plan

    assert main(["warmup", "--ops", "shuffle", "--dtypes", "float64", "--layouts", "first"]) == 0
    assert "2 steps compiled" in capsys.readouterr().out
    with pytest.raises(ValueError, match=r"warmup: ops='convs' is not one of 'conv', 'transpose'"):
        plan(["convs"])
    with pytest.raises(ValueError, match=r"warmup: dtypes='float16' is not one of 'float32', 'float64'"):
        plan(["conv"], ["float16"])


def test_info_reports_versions_and_threads():
    from numbaconv.__main__ import info

    facts = info(probe=True)
    assert facts["numbaconv"] == numbaconv.__version__
    assert facts["numpy"] == np.__version__
    assert facts["numba threads"] >= 1
    assert facts["threading layer"] in ("omp", "tbb", "workqueue")


def test_info_command_runs_no_kernel_and_version_flag():
    out = _run("from numbaconv.__main__ import main; main(['info'])")
    assert "chosen at the first parallel kernel launch" in out  # no kernel ran, none compiled
    done = subprocess.run([sys.executable, "-m", "numbaconv", "--version"], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == f"numbaconv {numbaconv.__version__}"
