"""The pooling family's launch layer: `select` as a pure function of the params, the launcher table, and the
table caches (CPU: bounded, per geometry; CUDA: per geometry and per device)."""

import numpy as np
import pytest

import numbaconv
from numbaconv import _cuda, _launch_pool
from numbaconv._launch_pool import BACKENDS, CPU_CACHE_SIZE, LAUNCHERS, OP_KINDS, select
from numbaconv._params_pool import interpolate_params, max_unpool_params, pool_params, unpool_params

import reference
from helpers import assert_close, rand, run


def _params(channels_last: bool):
    """One params object of each kind, in one layout."""
    layout, shape = ("NHWC", (1, 6, 6, 2)) if channels_last else ("NCHW", (1, 2, 6, 6))
    pooled = (1, 3, 3, 2) if channels_last else (1, 2, 3, 3)
    return {
        "max": pool_params("max_pool2d", 2, shape, 2, layout=layout),
        "avg": pool_params("avg_pool2d", 2, shape, 3, stride=2, padding=1, layout=layout),
        "gather": unpool_params("unpool2d", 2, shape, 2, "bed_of_nails", layout),
        "max_unpool": max_unpool_params("max_unpool2d", 2, pooled, np.dtype(np.int64), pooled, 2, layout=layout),
        "interpolate": interpolate_params(shape, scale_factor=1.5, mode="bilinear", layout=layout),
    }


@pytest.mark.parametrize("channels_last", [False, True])
def test_select_names_a_launcher_of_its_backend(channels_last):
    suffix = "_cl" if channels_last else "_cf"
    for op_kind, params in _params(channels_last).items():
        one_kernel = op_kind in ("max_unpool", "interpolate")  # either layout on the CPU too
        want = {"cpu": op_kind if one_kernel else op_kind + suffix, "cuda": op_kind}
        for backend in BACKENDS:
            kernel = select(params, op_kind, backend)
            assert kernel == want[backend]
            assert (kernel, backend) in LAUNCHERS


def test_select_is_pure_and_covers_the_table():
    """Same params, same answer; every selectable launcher is reachable, and interpolate selects as unpool."""
    chosen = set()
    for channels_last in (False, True):
        for op_kind, params in _params(channels_last).items():
            for backend in BACKENDS:
                assert select(params, op_kind, backend) == select(params, op_kind, backend)
                chosen.add((select(params, op_kind, backend), backend))
    assert chosen == {key for key in LAUNCHERS if key[0] != "first_outside"}
    resize = interpolate_params((1, 5, 5, 3), size=(7, 2), layout="NHWC")
    assert select(resize, "gather", "cpu") == "gather_cl" and select(resize, "gather", "cuda") == "gather"


def test_select_rejects_an_unknown_kind_or_backend():
    params = _params(False)["max"]
    with pytest.raises(
        ValueError,
        match=r"select: op_kind='min' is not one of 'max', 'avg', 'gather', "
        r"'max_unpool', 'interpolate'",
    ):
        select(params, "min", "cpu")
    with pytest.raises(ValueError, match=r"select: backend='rocm' is not one of 'cpu', 'cuda'"):
        select(params, "max", "rocm")
    assert set(OP_KINDS) == {"max", "avg", "gather", "max_unpool", "interpolate"}


def test_cpu_tables_are_cached_per_geometry_and_bounded():
    caches = (
        _launch_pool.cpu_index_maps,
        _launch_pool.cpu_divisors,
        _launch_pool.cpu_tables,
        _launch_pool.cpu_interpolation_tables,
    )
    for cache in caches:
        cache.cache_clear()
        assert cache.cache_info().maxsize == CPU_CACHE_SIZE
    first = [pool_params("avg_pool1d", 1, (1, 1, n), 2) for n in range(2, CPU_CACHE_SIZE + 7)]
    for params in first:
        _launch_pool.cpu_index_maps(params)
        _launch_pool.cpu_divisors(params, True, None, "float32")
        _launch_pool.cpu_tables((tuple(range(params.in_spatial[0])),))
        _launch_pool.cpu_interpolation_tables(interpolate_params((1, 1, params.in_spatial[0]), 3, mode="linear"), "f4")
    for cache in caches:
        assert cache.cache_info().currsize == CPU_CACHE_SIZE
    maps = _launch_pool.cpu_index_maps(first[-1])
    assert _launch_pool.cpu_index_maps(first[-1]) is maps  # the same arrays, not rebuilt
    assert not any(m.flags.writeable for m in maps)  # shared by every call: nobody may write them
    resize = interpolate_params((1, 1, 4, 4), 3, mode="bicubic")
    tables = _launch_pool.cpu_interpolation_tables(resize, "float32")
    assert _launch_pool.cpu_interpolation_tables(resize, "float32") is tables
    assert _launch_pool.cpu_interpolation_tables(resize, "float64")[1].dtype == np.float64  # weights per dtype
    assert not any(t.flags.writeable for t in tables)


def test_public_calls_reuse_the_cpu_tables():
    x = np.arange(2 * 3 * 7 * 5, dtype=np.float32).reshape(2, 3, 7, 5)
    numbaconv.avg_pool2d(x, 3, stride=2, padding=1)
    before = _launch_pool.cpu_index_maps.cache_info().hits, _launch_pool.cpu_divisors.cache_info().hits
    numbaconv.avg_pool2d(x + 1, 3, stride=2, padding=1)
    after = _launch_pool.cpu_index_maps.cache_info().hits, _launch_pool.cpu_divisors.cache_info().hits
    assert after == (before[0] + 1, before[1] + 1)
    numbaconv.unpool2d(x, 2)
    hits = _launch_pool.cpu_tables.cache_info().hits
    numbaconv.interpolate(x, scale_factor=2.0)  # the same source tables as nearest unpooling by 2
    assert _launch_pool.cpu_tables.cache_info().hits == hits + 1


@pytest.mark.cuda
def test_device_caches_are_keyed_by_device(monkeypatch, dev):
    """A call on a second device gets tables of its own; the first device's stay cached."""
    device = [0]
    monkeypatch.setattr(_cuda, "device_id", lambda: device[0])
    params = pool_params("avg_pool2d", 2, (1, 2, 5, 5), 3, padding=1)
    tables = ((0, 0, 1, 1), (-1, 0))
    caches = {
        "index_maps": lambda: _launch_pool.device_index_maps(params),
        "divisors": lambda: _launch_pool.device_divisors(params, True, None, "float32"),
        "tables": lambda: _launch_pool.device_tables(tables),
        "no_indices": lambda: _launch_pool.device_no_indices(),
        "interpolation": lambda: _launch_pool.device_interpolation_tables(
            interpolate_params((1, 1, 3, 3), 4, mode="bilinear"), "float32"
        ),
    }
    for name, get in caches.items():
        device[0] = 0
        on_first = get()
        assert get() is on_first, name
        device[0] = 1
        on_second = get()
        assert on_second is not on_first and get() is on_second, name
        first_arrays = on_first if isinstance(on_first, tuple) else (on_first,)
        second_arrays = on_second if isinstance(on_second, tuple) else (on_second,)
        for a, b in zip(first_arrays, second_arrays):
            assert isinstance(b, type(a)) and a is not b
            np.testing.assert_array_equal(a.copy_to_host(), b.copy_to_host())
        device[0] = 0
        assert get() is on_first, name

    # Through a public call: a pooling on "device 1" makes its own index tables.
    x = dev(np.arange(50, dtype=np.float32).reshape(1, 2, 5, 5))
    device[0] = 0
    want = numbaconv.max_pool2d(x, 2).copy_to_host()
    size = _launch_pool.device_index_maps.cache_info().currsize
    device[0] = 1
    np.testing.assert_array_equal(numbaconv.max_pool2d(x, 2).copy_to_host(), want)
    assert _launch_pool.device_index_maps.cache_info().currsize == size + 1


def test_launch_cells_blocks_follow_the_layout_and_cap_the_grid(monkeypatch):
    """x along W (channels-first) or C (channels-last) as wide as the row allows, y along the next dim, z the rest;
    every grid dim capped at GRID_MAX (the kernels grid-stride)."""
    monkeypatch.setattr(_cuda, "THREADS_1D", 256)
    assert _cuda.launch_cells((2, 3, 4, 10, 7), False) == ((1, 1, 24), (8, 16, 1))
    assert _cuda.launch_cells((2, 3, 4, 10, 7), True) == ((1, 1, 80), (4, 8, 1))
    assert _cuda.launch_cells((1, 1, 1, 1, 1000), False) == ((4, 1, 1), (256, 1, 1))
    monkeypatch.setattr(_cuda, "GRID_MAX", 2)
    assert _cuda.launch_cells((5, 5, 5, 500, 1000), False) == ((2, 2, 2), (256, 1, 1))


@pytest.mark.cuda
@pytest.mark.parametrize("layout", ["first", "last"])
def test_grid_stride_covers_every_output_with_a_tiny_grid(monkeypatch, layout):
    """One block per grid dim of 4 threads: each thread walks many outputs along x, y and z, in both layouts."""
    monkeypatch.setattr(_cuda, "THREADS_1D", 4)
    monkeypatch.setattr(_cuda, "GRID_MAX", 1)
    x = rand((2, 3, 5, 6), np.float32, seed=3)
    values, indices = run("cuda", numbaconv.max_pool2d, x, 3, 2, 1, return_indices=True, layout=layout)
    want_values, want_indices = reference.max_pool(x, 3, 2, 1)
    assert_close(values, want_values)
    np.testing.assert_array_equal(indices, want_indices)
    assert_close(run("cuda", numbaconv.avg_pool2d, x, 2, layout=layout), reference.avg_pool(x, 2))
    assert_close(run("cuda", numbaconv.unpool2d, x, 2, layout=layout), reference.unpool(x, 2))
    got = run("cuda", numbaconv.interpolate, x, (7, 4), mode="bilinear", layout=layout)
    assert_close(got, reference.interpolate(x, (7, 4), "linear"))
    got = run("cuda", numbaconv.max_unpool2d, want_values, want_indices, 3, 2, 1, (5, 6), layout=layout, layout_args=2)
    assert_close(got, reference.max_unpool(want_values, want_indices, (5, 6)))


@pytest.mark.cuda
def test_arrays_past_the_uint32_kernels_limit_are_refused(monkeypatch, dev):
    """The 3-D-grid kernels index in uint32: a sample of MAX_ELEMENTS elements or more, or as many rows (batch ×
    every axis but the last), is a NotImplementedError naming the op and the array, raised before any kernel runs
    (the limit is lowered here; 2**31 in use). A large batch of small samples passes."""
    monkeypatch.setattr(_cuda, "MAX_ELEMENTS", 50)
    x = dev(np.ones((1, 2, 5, 5), np.float32))  # 50 elements per sample
    for op, args in [
        (numbaconv.max_pool2d, (2,)),
        (numbaconv.avg_pool2d, (2,)),
        (numbaconv.unpool2d, (2,)),
        (numbaconv.interpolate, (None, 1.5, "bilinear")),
    ]:
        with pytest.raises(
            NotImplementedError, match=rf"{op.__name__}: x of shape \(1, 2, 5, 5\) is too large for the CUDA"
        ):
            op(x, *args)
    small = dev(np.ones((1, 2, 3, 3), np.float32))
    with pytest.raises(NotImplementedError, match=r"unpool2d: out of shape \(1, 2, 6, 6\) is too large"):
        numbaconv.unpool2d(small, 2)
    rows = dev(np.ones((60, 1, 1, 2), np.float32))  # 2 elements per sample, 60 rows
    with pytest.raises(NotImplementedError, match=r"max_pool2d: x of shape \(60, 1, 1, 2\) is too large"):
        numbaconv.max_pool2d(rows, (1, 2))
    many = dev(np.ones((12, 1, 2, 2), np.float32))  # 48 elements in all: 4 per sample, 24 rows
    assert numbaconv.max_pool2d(many, 2).shape == (12, 1, 1, 1)
    idx = dev(np.zeros((1, 2, 3, 3), np.int64))
    with pytest.raises(NotImplementedError, match=r"max_unpool2d: out of shape \(1, 2, 6, 6\) is too large"):
        numbaconv.max_unpool2d(small, idx, 2)
