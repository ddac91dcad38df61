"""The memory-bound CUDA kernels compiled for sm_90 (scripts/sass_report.py): no 64-bit integer division, no
spills, registers within budget. Needs ptxas, nvdisasm, NVVM and NVRTC (the nvidia wheels), not a GPU; skipped
where they are missing (as in CI)."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "sass_report.py"
REGISTER_BUDGET = 64  # today 24-54; a rise past this is a regression worth a look


def _report_module():
    spec = importlib.util.spec_from_file_location("sass_report", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _missing() -> str | None:
    """Checked in a child process: the check loads numba-cuda's compiler, which must not see the simulator."""
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    code = f"import sys; sys.path.insert(0, {str(SCRIPT.parent)!r}); import sass_report; print(sass_report.missing() or '')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    if done.returncode:
        return f"sass_report could not run: {done.stderr.strip().splitlines()[-1:]}"
    return done.stdout.strip() or None


def test_memory_bound_kernels_have_no_64bit_division(tmp_path):
    if _report_module().find_tool("ptxas") is None:
        pytest.skip("ptxas missing (pip install nvidia-cuda-nvcc)")
    problem = _missing()
    if problem:
        pytest.skip(problem)
    out = tmp_path / "sass.json"
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    subprocess.run([sys.executable, str(SCRIPT), "--memory-bound", "--json", str(out)], check=True, env=env)
    results = json.loads(out.read_text())
    kernels = {name: row for name, row in results.items() if name != "_meta"}
    assert set(kernels) == set(_report_module().MEMORY_BOUND)
    for name, row in kernels.items():
        assert row["div64_calls"] == 0 and row["div64_ptx"] == 0, (name, row)
        assert row["spill_stores"] == 0 and row["spill_loads"] == 0, (name, row)
        assert 0 < row["registers"] <= REGISTER_BUDGET, (name, row)
        assert row["instructions"] > 0, (name, row)
