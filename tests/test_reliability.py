"""Threads, fork and the on-disk kernel cache: each case in a subprocess of its own, with a timeout.

A crash (SIGABRT from Numba's workqueue layer), a hang (a forked child of an OpenMP process) or a cache that
fails every later process would take the test runner down with it, so the work runs in a fresh interpreter and
the test reads its exit status and output. The subprocesses share one on-disk kernel cache (a folder of this
module's own) so that each compiles only what an earlier one has not.
"""

import logging
import os
import re
import subprocess
import sys
import textwrap

import numba
import numpy as np
import pytest

import numbaconv
from numbaconv.kernels import _jit

LAYERS = ["workqueue", "omp", "tbb"]
TIMEOUT = 300

# Ops whose CPU kernels are parallel (the plane kernel, pooling, the transpose gather) or share per-thread
# workspaces with BLAS (Winograd, GEMM), with results compared bitwise against the result computed first.
WORKLOAD = """
import numpy as np, numbaconv, numba
rng = np.random.default_rng(0)
x = rng.standard_normal((2, 4, 12, 12)).astype(np.float32)
w = rng.standard_normal((4, 4, 3, 3)).astype(np.float32)
x32 = rng.standard_normal((1, 32, 12, 12)).astype(np.float32)
w32 = rng.standard_normal((32, 32, 3, 3)).astype(np.float32)
OPS = [
    lambda: numbaconv.conv2d(x, w, padding=1),
    lambda: numbaconv.max_pool2d(x, 2),
    lambda: numbaconv.conv_transpose2d(x, w, stride=2),
    lambda: numbaconv.conv2d(x32, w32, padding=1, algorithm="fast"),  # Winograd: per-thread workspaces, BLAS
    lambda: numbaconv.conv2d(x32, w32, padding=1, stride=2),  # im2col + BLAS
]
WANT = [op() for op in OPS]
"""

THREADS = (
    WORKLOAD
    + """
import threading
bad = []
def work():
    for _ in range(10):
        for op, want in zip(OPS, WANT):
            if not np.array_equal(op(), want):
                bad.append(op)
threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
print("layer", numba.threading_layer(), "mismatches", len(bad))
assert not bad
"""
)

FORK = (
    WORKLOAD
    + """
import multiprocessing
def job(i):
    return [op() for op in OPS]
if __name__ == "__main__":
    with multiprocessing.get_context("fork").Pool(2) as pool:
        results = pool.map(job, range(4))
    print("layer", numba.threading_layer(), "children", len(results))
    assert all(np.array_equal(g, w) for got in results for g, w in zip(got, WANT))
"""
)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("kernel-cache")


def run_python(code: str, env: dict[str, str], cwd) -> subprocess.CompletedProcess:
    script = cwd / "script.py"
    script.write_text(textwrap.dedent(code))
    base = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_", "NUMBACONV_"))}
    return subprocess.run(
        [sys.executable, str(script)], env={**base, **env}, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT
    )


def run_on_layer(code, layer, cache_dir, tmp_path) -> subprocess.CompletedProcess:
    env = {"NUMBA_THREADING_LAYER": layer, "NUMBACONV_CACHE": "1", "NUMBA_CACHE_DIR": str(cache_dir)}
    if layer == "tbb":  # pip's tbb wheel puts libtbb.so.12 in <prefix>/lib, where the loader does not look
        env["LD_LIBRARY_PATH"] = os.pathsep.join(filter(None, [f"{sys.prefix}/lib", os.environ.get("LD_LIBRARY_PATH")]))
    done = run_python(code, env, tmp_path)
    if done.returncode != 0 and "No threading layer could be loaded" in done.stderr:
        pytest.skip(f"Numba cannot load the {layer!r} threading layer in this environment")
    return done


@pytest.mark.parametrize("layer", LAYERS)
def test_eight_threads_calling_parallel_kernels(layer, cache_dir, tmp_path):
    done = run_on_layer(THREADS, layer, cache_dir, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"layer {layer} mismatches 0" in done.stdout


@pytest.mark.parametrize("layer", LAYERS)
def test_fork_pool_after_parallel_kernels_ran(layer, cache_dir, tmp_path):
    done = run_on_layer(FORK, layer, cache_dir, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"layer {layer} children 4" in done.stdout


# ---- on-disk kernel cache ----

CACHED_CALL = """
import logging
logging.getLogger("numbaconv").setLevel(logging.DEBUG)
logging.getLogger("numbaconv").addHandler(logging.StreamHandler())
import numpy as np, numbaconv
from numbaconv.kernels import shuffle
x = np.arange(16, dtype=np.float32).reshape(1, 4, 2, 2)
y = numbaconv.channel_shuffle(x, 2)  # channels 0, 2, 1, 3: the cheapest parallel kernel to compile
assert y[0, 1, 0, 0] == 8 and y[0, 2, 0, 0] == 4 and y.shape == x.shape
kernel = shuffle.permute_copy_cpu
dispatcher = kernel.serial if kernel._serial is not None else kernel.parallel
print("hits", sum(dispatcher.stats.cache_hits.values()))
"""


def cached_call(cache_dir, tmp_path, serial=False, **extra):
    env = {"NUMBA_CACHE_DIR": str(cache_dir), "NUMBACONV_SERIAL": "1" if serial else "0", **extra}
    done = run_python(CACHED_CALL, env, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def test_the_cache_is_on_by_default_and_keyed_by_the_serial_and_bounds_check_flags(tmp_path):
    cache = tmp_path / "cache"
    assert "hits 0" in cached_call(cache, tmp_path).stdout
    assert "hits 1" in cached_call(cache, tmp_path).stdout
    assert "hits 0" in cached_call(cache, tmp_path, serial=True).stdout  # the parallel kernel is not loaded
    assert "hits 1" in cached_call(cache, tmp_path, serial=True).stdout
    assert "hits 0" in cached_call(cache, tmp_path, serial=True, NUMBA_BOUNDSCHECK="1").stdout
    assert "hits 1" in cached_call(cache, tmp_path).stdout  # and each stays
    assert "hits 0" in cached_call(cache, tmp_path, NUMBACONV_CACHE="0").stdout


def test_cache_key_holds_the_flags_the_version_and_the_kernel_sources(monkeypatch, tmp_path):
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(_jit, "CACHE", True)

    def kernel_body(a):
        return a + 1

    dispatcher = _jit._dispatcher(kernel_body)
    dispatcher(np.float64(1.0))
    (sig,) = dispatcher.signatures
    key = dispatcher._cache._index_key(sig, dispatcher.targetctx.codegen())
    version, digest = _jit.source_key()
    assert key[-2:] == (("parallel", False, "boundscheck", False), (version, digest))
    assert version == numbaconv.__version__ and len(digest) == 16


def _truncate(path):
    path.write_bytes(path.read_bytes()[:20])


def _garble(path):
    data = bytearray(path.read_bytes())
    data[8:72] = b"\xff" * 64
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(("damage", "pattern"), [(_truncate, "*.nbi"), (_garble, "*.nbi"), (_garble, "*.nbc")])
def test_a_corrupt_cache_recompiles_logs_once_and_repairs_itself(tmp_path, damage, pattern):
    cache = tmp_path / "cache"
    cached_call(cache, tmp_path)
    files = list(cache.rglob(pattern))
    assert files
    for path in files:
        damage(path)
    done = cached_call(cache, tmp_path)
    assert "hits 0" in done.stdout
    assert done.stderr.count("corrupt kernel cache entry") == 1, done.stderr  # logged once, at debug level
    repaired = cached_call(cache, tmp_path)
    assert "hits 1" in repaired.stdout and "corrupt" not in repaired.stderr


def test_a_cache_that_cannot_be_written_is_logged_once_and_compiles_in_memory(monkeypatch, tmp_path, caplog):
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(_jit, "CACHE", True)
    monkeypatch.setattr(_jit, "_reported", set())

    def kernel_body(a):
        return a + 1

    dispatcher = _jit._dispatcher(kernel_body)
    cache_file = dispatcher._cache._cache_file

    def refuse(*args):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(cache_file, "save", refuse)
    caplog.set_level(logging.DEBUG, logger="numbaconv")
    assert dispatcher(np.float64(1.0)) == 2.0
    assert dispatcher(np.int64(1)) == 2
    messages = [r.getMessage() for r in caplog.records if r.name == "numbaconv"]
    assert len(messages) == 1 and re.search(r"kernel cache in .* cannot be written", messages[0])


def test_no_usable_cache_folder_is_logged_and_compiles_in_memory(monkeypatch, caplog):
    monkeypatch.setattr(_jit, "CACHE", True)
    monkeypatch.setattr(_jit, "_reported", set())

    def no_locator(self, py_func, parallel):
        raise RuntimeError("cannot cache function: no locator available")

    monkeypatch.setattr(_jit._SafeCache, "__init__", no_locator)
    caplog.set_level(logging.DEBUG, logger="numbaconv")
    dispatcher = _jit._dispatcher(lambda a: a * 2)
    assert any("no kernel cache folder is usable" in r.getMessage() for r in caplog.records)
    assert dispatcher(np.float64(2.0)) == 4.0


# ---- determinism ----

DETERMINISM_CASES = [
    # (op, x shape, weight shape, kwargs): the plane, row, depthwise, gemm, Winograd and FFT paths, pooling
    (numbaconv.conv2d, (2, 4, 17, 19), (6, 4, 3, 3), dict(padding=1)),
    (numbaconv.conv2d, (2, 4, 17, 19), (6, 4, 3, 3), dict(padding=1, stride=2, algorithm="direct")),
    (numbaconv.conv2d, (2, 8, 17, 19), (8, 1, 5, 5), dict(padding=2, groups=8)),
    (numbaconv.conv2d, (2, 16, 17, 19), (24, 16, 3, 3), dict(padding=1, dilation=2, algorithm="gemm")),
    (numbaconv.conv2d, (2, 16, 17, 19), (24, 16, 3, 3), dict(padding=1, algorithm="winograd")),
    (numbaconv.conv2d, (1, 2, 33, 31), (2, 2, 15, 15), dict(padding=7, algorithm="fft")),
    (numbaconv.conv_transpose2d, (2, 8, 9, 10), (8, 4, 3, 3), dict(stride=2)),
    (numbaconv.avg_pool2d, (2, 8, 17, 19), None, dict(kernel_size=3, stride=2, padding=1)),
]


@pytest.mark.parametrize("op,x_shape,w_shape,kw", DETERMINISM_CASES, ids=lambda v: getattr(v, "__name__", None))
def test_results_are_bitwise_identical_across_runs_and_thread_counts(op, x_shape, w_shape, kw):
    rng = np.random.default_rng(11)
    args = [rng.standard_normal(x_shape).astype(np.float32)]
    if w_shape is not None:
        args.append(rng.standard_normal(w_shape).astype(np.float32))
    first = op(*args, **kw)
    for _ in range(3):
        np.testing.assert_array_equal(op(*args, **kw), first)
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        single = op(*args, **kw)
    finally:
        numba.set_num_threads(threads)
    assert threads > 1 or numba.config.NUMBA_NUM_THREADS == 1
    np.testing.assert_array_equal(single, first)
