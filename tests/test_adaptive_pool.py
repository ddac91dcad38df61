"""Adaptive max and average pooling against tests/reference.py (and torch) over named shape cases x dtypes x
layouts, on the CPU and CUDA backends (CUDA: batch-1 cases, small blocks)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import numbaconv

import reference as ref
from helpers import (
    BACKEND_SETTINGS,
    LAYOUTS,
    Case,
    assert_close,
    full,
    ids,
    over_backends,
    rand,
    run,
    to_backend,
    to_channels_last,
    to_host,
)

MAX = {1: numbaconv.adaptive_max_pool1d, 2: numbaconv.adaptive_max_pool2d, 3: numbaconv.adaptive_max_pool3d}
AVG = {1: numbaconv.adaptive_avg_pool1d, 2: numbaconv.adaptive_avg_pool2d, 3: numbaconv.adaptive_avg_pool3d}

CASES = [
    Case("1d_divides", (2, 3, 12), kw=dict(output_size=4)),
    Case("1d_uneven", (2, 2, 10), kw=dict(output_size=3)),
    Case("1d_larger_than_input", (1, 2, 3), kw=dict(output_size=7)),
    Case("1d_global", (2, 3, 9), kw=dict(output_size=1)),
    Case("2d_divides", (2, 3, 8, 6), kw=dict(output_size=(4, 3))),
    Case("2d_uneven", (1, 2, 7, 10), kw=dict(output_size=(3, 4))),
    Case("2d_none", (2, 2, 5, 7), kw=dict(output_size=(None, 3))),
    Case("2d_larger_and_smaller", (1, 2, 3, 5), kw=dict(output_size=[5, 2])),
    Case("2d_global", (2, 3, 5, 6), kw=dict(output_size=1)),
    Case("3d_uneven", (1, 2, 5, 6, 7), kw=dict(output_size=(2, 4, 3))),
    Case("3d_none_larger", (2, 2, 3, 4, 2), kw=dict(output_size=(None, 6, 3))),
    Case("3d_global", (1, 3, 4, 5, 3), kw=dict(output_size=1)),
]
IDS = ids(CASES)


def out_spatial(case):
    """The case's output size with None entries resolved (the reference takes plain ints)."""
    size = case.kw["output_size"]
    size = [size] * case.nd if isinstance(size, int) else size
    return tuple(n if s is None else s for s, n in zip(size, case.x[2:]))


def ties(shape, dtype, seed):
    """Values on a coarse grid, so windows often hold equal maxima and the first-maximum rule is exercised."""
    return ((np.random.default_rng(seed).integers(0, 7, shape) - 3) * 0.5).astype(dtype)


# CPU: every case in float32 and float64, both layouts. CUDA: every case in float32, both layouts, and three cases
# in float64.
@over_backends(
    "case,dtype,layout",
    [(c, d, lay) for c in CASES for d in (np.float32, np.float64) for lay in LAYOUTS],
    [(c, np.float32, lay) for c in CASES for lay in LAYOUTS] + [(CASES[i], np.float64, "last") for i in (1, 5, 10)],
)
def test_adaptive_pool_matches_reference(backend, case, dtype, layout):
    case = case.on(backend)
    x = ties(case.x, dtype, 1)
    want, want_idx = ref.adaptive_pool(x, out_spatial(case), "max")
    values, indices = run(backend, MAX[case.nd], x, layout=layout, return_indices=True, **case.kw)
    assert values.dtype == dtype and indices.dtype == np.int64
    np.testing.assert_array_equal(values, want)
    np.testing.assert_array_equal(indices, want_idx)
    np.testing.assert_array_equal(run(backend, MAX[case.nd], x, layout=layout, **case.kw), values)
    x = rand(case.x, dtype, 2)
    got = run(backend, AVG[case.nd], x, layout=layout, **case.kw)
    assert got.dtype == dtype
    assert_close(got, ref.adaptive_pool(x, out_spatial(case), "avg"), dtype)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_nan_propagates_with_the_last_nan_index(backend, layout):
    """A window holding a NaN gives NaN and the index of its last NaN (torch's rule), overlapping windows too."""
    x = rand((1, 2, 5, 7), np.float64, 3)
    x[0, 0, 1, 0] = x[0, 0, 1, 1] = x[0, 1, 4, 6] = np.nan
    want, want_idx = ref.adaptive_pool(x, (3, 4), "max")
    values, indices = run(backend, numbaconv.adaptive_max_pool2d, x, (3, 4), layout=layout, return_indices=True)
    assert np.isnan(values).sum() == np.isnan(want).sum() > 0
    np.testing.assert_array_equal(values, want)
    np.testing.assert_array_equal(indices, want_idx)
    assert indices[0, 0, 0, 0] == 1 * 7 + 1  # the later of the two NaNs in window [0, 2) x [0, 2)
    avg = run(backend, numbaconv.adaptive_avg_pool2d, x, (3, 4), layout=layout)
    np.testing.assert_array_equal(np.isnan(avg), np.isnan(want))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_all_minus_inf_window_points_at_its_first_element(backend, layout):
    x = np.full((1, 1, 5), -np.inf)
    x[0, 0, 4] = -1.0
    values, indices = run(backend, numbaconv.adaptive_max_pool1d, x, 3, layout=layout, return_indices=True)
    np.testing.assert_array_equal(values[0, 0], [-np.inf, -np.inf, -1.0])  # windows [0, 2), [1, 4), [3, 5)
    np.testing.assert_array_equal(indices[0, 0], [0, 1, 4])


def test_matches_torch():
    """Values and indices equal torch's (NaN included), in torch's channels-first and channels-last kernels."""
    torch = pytest.importorskip("torch")
    functional = torch.nn.functional
    cases = [
        ((2, 3, 11), 4),
        ((2, 3, 5), 8),
        ((2, 3, 9, 11), (4, 3)),
        ((1, 2, 6, 7), (None, 10)),
        ((2, 4, 7, 5), 1),
        ((1, 2, 5, 6, 7), (3, None, 2)),
        ((2, 3, 3, 4, 5), 1),
    ]
    for shape, size in cases:
        nd = len(shape) - 2
        for dtype in (np.float32, np.float64):
            x = rand(shape, dtype, nd)
            x.reshape(-1)[[5, 6, 17]] = np.nan
            t = torch.from_numpy(x)
            t_values, t_indices = getattr(functional, f"adaptive_max_pool{nd}d")(t, size, return_indices=True)
            t_avg = getattr(functional, f"adaptive_avg_pool{nd}d")(t, size).numpy()
            values, indices = MAX[nd](x, size, return_indices=True)
            np.testing.assert_array_equal(values, t_values.numpy())
            np.testing.assert_array_equal(indices, t_indices.numpy())
            np.testing.assert_allclose(AVG[nd](x, size), t_avg, rtol=1e-5, atol=1e-6)
            if nd == 1:
                continue
            layout = "NHWC" if nd == 2 else "NDHWC"
            fmt = torch.channels_last if nd == 2 else torch.channels_last_3d
            t_last = t.contiguous(memory_format=fmt)
            t_values, t_indices = getattr(functional, f"adaptive_max_pool{nd}d")(t_last, size, return_indices=True)
            values, indices = MAX[nd](to_channels_last(x), size, return_indices=True, layout=layout)
            np.testing.assert_array_equal(np.moveaxis(values, -1, 1), t_values.numpy())
            np.testing.assert_array_equal(np.moveaxis(indices, -1, 1), t_indices.numpy())
            got = np.moveaxis(AVG[nd](to_channels_last(x), size, layout=layout), -1, 1)
            np.testing.assert_allclose(got, t_avg, rtol=1e-5, atol=1e-6)


def test_float16_matches_torch():
    torch = pytest.importorskip("torch")
    x = rand((2, 3, 7, 9), np.float16, 4)
    t_values, t_indices = torch.nn.functional.adaptive_max_pool2d(torch.from_numpy(x), (3, 4), return_indices=True)
    values, indices = numbaconv.adaptive_max_pool2d(x, (3, 4), return_indices=True)
    np.testing.assert_array_equal(values, t_values.numpy())
    np.testing.assert_array_equal(indices, t_indices.numpy())
    got = numbaconv.adaptive_avg_pool2d(x, (3, 4))
    assert got.dtype == np.float16
    np.testing.assert_allclose(got, torch.nn.functional.adaptive_avg_pool2d(torch.from_numpy(x), (3, 4)), atol=2e-3)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_indices_feed_max_unpool(backend, layout):
    """max_unpool puts each maximum back at its index: where the windows tile the input (8 x 6 to 4 x 3, kernel
    2), and where they overlap (7 to 3: windows [0, 3), [2, 5), [4, 7), one position picked twice)."""
    x = rand((1, 3, 8, 6), np.float32, 5)
    values, indices = run(backend, numbaconv.adaptive_max_pool2d, x, (4, 3), layout=layout, return_indices=True)
    up = run(backend, numbaconv.max_unpool2d, values, indices, 2, layout=layout, layout_args=2)
    np.testing.assert_array_equal(up, ref.max_unpool(values, indices, (8, 6)))
    np.testing.assert_array_equal(up, ref.max_unpool(*ref.max_pool(x, 2), (8, 6)))
    y = np.array([[[0.0, 1.0, 5.0, 2.0, 0.5, 3.0, 1.0]]], np.float32)
    values, indices = run(backend, numbaconv.adaptive_max_pool1d, y, 3, layout=layout, return_indices=True)
    np.testing.assert_array_equal(indices, [[[2, 2, 5]]])
    up = run(backend, numbaconv.max_unpool1d, values, indices, 2, output_size=(7,), layout=layout, layout_args=2)
    np.testing.assert_array_equal(up, [[[0, 0, 5, 0, 0, 3, 0]]])


@pytest.mark.parametrize("layout", LAYOUTS)
def test_out_argument_is_filled_and_returned(backend, layout):
    last = layout == "last"
    x = rand((1 if backend == "cuda" else 2, 3, 6, 7), np.float32, 6)
    xin = to_backend(backend, x, last)
    kw = dict(layout="NHWC") if last else {}
    shape = (x.shape[0], 4, 3, 3) if last else (x.shape[0], 3, 4, 3)
    out, out_idx = full(backend, shape, np.nan, np.float32), full(backend, shape, -1, np.int64)
    values, indices = numbaconv.adaptive_max_pool2d(xin, (4, 3), return_indices=True, out=(out, out_idx), **kw)
    assert values is out and indices is out_idx
    want, want_idx = ref.adaptive_pool(x, (4, 3), "max")
    np.testing.assert_array_equal(to_host(backend, out, last), want)
    np.testing.assert_array_equal(to_host(backend, out_idx, last), want_idx)
    avg = full(backend, shape, np.nan, np.float32)
    assert numbaconv.adaptive_avg_pool2d(xin, (4, 3), out=avg, **kw) is avg
    assert_close(to_host(backend, avg, last), ref.adaptive_pool(x, (4, 3), "avg"), np.float32)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_unbatched_input_gives_an_unbatched_result(backend, layout):
    """(C, *spatial) (channels-last: (*spatial, C)) runs as a batch of one; an unbatched out= is returned."""
    last = layout == "last"
    x = rand((3, 5, 7), np.float64, 7)
    xin = to_backend(backend, np.moveaxis(x, 0, -1).copy() if last else x)
    kw = dict(layout="NHWC") if last else {}
    values, indices = numbaconv.adaptive_max_pool2d(xin, (2, 3), return_indices=True, **kw)
    want, want_idx = ref.adaptive_pool(x[None], (2, 3), "max")
    back = (lambda a: np.moveaxis(to_host(backend, a), -1, 0)) if last else (lambda a: to_host(backend, a))
    np.testing.assert_array_equal(back(values), want[0])
    np.testing.assert_array_equal(back(indices), want_idx[0])
    out = full(backend, (2, 3, 3) if last else (3, 2, 3), np.nan, np.float64)
    assert numbaconv.adaptive_avg_pool2d(xin, (2, 3), out=out, **kw) is out
    assert_close(back(out), ref.adaptive_pool(x[None], (2, 3), "avg")[0])
    line = to_backend(backend, x[:, 0])
    assert_close(
        to_host(backend, numbaconv.adaptive_avg_pool1d(line, 2)), ref.adaptive_pool(x[None, :, 0], (2,), "avg")[0]
    )


def test_float16_and_dtype_argument(backend):
    """float16 pools in float32 and comes back float16; dtype= picks the average's result dtype."""
    x = ties((1, 2, 5, 6), np.float16, 8)
    for layout in LAYOUTS:
        values, indices = run(backend, numbaconv.adaptive_max_pool2d, x, (2, 4), layout=layout, return_indices=True)
        want, want_idx = ref.adaptive_pool(x, (2, 4), "max")
        assert values.dtype == np.float16
        np.testing.assert_array_equal(values, want)
        np.testing.assert_array_equal(indices, want_idx)
        got = run(backend, numbaconv.adaptive_avg_pool2d, x, (2, 4), layout=layout)
        assert got.dtype == np.float16
        assert_close(got, ref.adaptive_pool(x, (2, 4), "avg"), np.float16)
    y = rand((1, 2, 7), np.float32, 9)
    got = run(backend, numbaconv.adaptive_avg_pool1d, y, 3, dtype=np.float64)
    assert got.dtype == np.float64
    assert_close(got, ref.adaptive_pool(y, (3,), "avg"), np.float32)


def test_non_contiguous_input_and_empty_arrays(backend):
    big = rand((1, 6, 10, 12), np.float32, 10)
    view, sub = to_backend(backend, big)[:, ::2, 1::2, ::3], big[:, ::2, 1::2, ::3]
    np.testing.assert_array_equal(
        to_host(backend, numbaconv.adaptive_max_pool2d(view, 3)), ref.adaptive_pool(sub, (3, 3), "max")[0]
    )
    assert_close(to_host(backend, numbaconv.adaptive_avg_pool2d(view, (2, 3))), ref.adaptive_pool(sub, (2, 3), "avg"))
    values, indices = numbaconv.adaptive_max_pool2d(
        to_backend(backend, np.zeros((0, 3, 8, 8), np.float32)), 2, return_indices=True
    )
    assert values.shape == indices.shape == (0, 3, 2, 2)
    empty = to_backend(backend, np.zeros((2, 5, 4, 0)))
    assert numbaconv.adaptive_avg_pool2d(empty, (3, None), layout="NHWC").shape == (2, 3, 4, 0)


@BACKEND_SETTINGS
@given(data=st.data())
def test_random_geometry_matches_reference(backend, data):
    """Random 1-D to 3-D sizes, smaller and larger than the input, on the CPU; 1-D and 2-D on CUDA."""
    nd = data.draw(st.integers(1, 3 if backend == "cpu" else 2))
    spatial = data.draw(st.lists(st.integers(1, 7), min_size=nd, max_size=nd))
    size = data.draw(st.lists(st.one_of(st.none(), st.integers(1, 9)), min_size=nd, max_size=nd))
    layout = data.draw(st.sampled_from(LAYOUTS))
    x = ties((2 if backend == "cpu" else 1, 2, *spatial), np.float64, data.draw(st.integers(0, 100)))
    resolved = tuple(n if s is None else s for s, n in zip(size, spatial))
    values, indices = run(backend, MAX[nd], x, tuple(size), layout=layout, return_indices=True)
    want, want_idx = ref.adaptive_pool(x, resolved, "max")
    np.testing.assert_array_equal(values, want)
    np.testing.assert_array_equal(indices, want_idx)
    assert_close(run(backend, AVG[nd], x, size, layout=layout), ref.adaptive_pool(x, resolved, "avg"))


@given(
    nd=st.integers(1, 3),
    spatial=st.lists(st.integers(1, 6), min_size=3, max_size=3),
    layout=st.sampled_from(LAYOUTS),
    seed=st.integers(0, 100),
)
def test_identity_and_global_pooling(nd, spatial, layout, seed):
    """output_size = the input's size (all None) is the identity, indices the positions themselves; output_size 1
    is the maximum / mean over the spatial axes, the index the flat argmax."""
    x = rand((2, 3, *spatial[:nd]), np.float64, seed)
    axes = tuple(range(2, 2 + nd))
    values, indices = run("cpu", MAX[nd], x, [None] * nd, layout=layout, return_indices=True)
    np.testing.assert_array_equal(values, x)
    np.testing.assert_array_equal(indices, np.broadcast_to(np.arange(x[0, 0].size).reshape(x.shape[2:]), x.shape))
    np.testing.assert_array_equal(run("cpu", AVG[nd], x, [None] * nd, layout=layout), x)
    values, indices = run("cpu", MAX[nd], x, 1, layout=layout, return_indices=True)
    np.testing.assert_array_equal(values, x.max(axis=axes, keepdims=True))
    np.testing.assert_array_equal(indices.reshape(2, 3), x.reshape(2, 3, -1).argmax(axis=-1))
    assert_close(run("cpu", AVG[nd], x, 1, layout=layout), x.mean(axis=axes, keepdims=True))


def test_warmup_runs_every_cpu_adaptive_kernel(monkeypatch):
    from numbaconv import _launch_adaptive
    from numbaconv.warmup import plan

    ran = set()
    for key, real in list(_launch_adaptive.LAUNCHERS.items()):

        def counting(*args, _real=real, _kernel=key[0]):
            ran.add(_kernel)
            return _real(*args)

        monkeypatch.setitem(_launch_adaptive.LAUNCHERS, key, counting)
    for name, call in plan(["pool"], ["float32"], ["first", "last"]):
        if name.startswith("adaptive"):
            call()
    assert ran == {key[0] for key in _launch_adaptive.LAUNCHERS if key[1] == "cpu"}


X2 = np.zeros((1, 2, 6, 5), np.float32)


@pytest.mark.parametrize(
    "call,err,match",
    [
        (
            lambda: numbaconv.adaptive_avg_pool2d(X2, 0),
            ValueError,
            r"adaptive_avg_pool2d: output_size=0 must be positive \(or None: the input's size\) along every spatial "
            r"dim, got 0 along spatial dim 0",
        ),
        (
            lambda: numbaconv.adaptive_max_pool2d(X2, (3, -1)),
            ValueError,
            r"adaptive_max_pool2d: output_size=\(3, -1\) must be positive .* got -1 along spatial dim 1",
        ),
        (
            lambda: numbaconv.adaptive_avg_pool2d(X2, (2, 2, 2)),
            ValueError,
            r"adaptive_avg_pool2d: output_size=\(2, 2, 2\) must be an int or a sequence of 2 entries \(one per "
            r"spatial dim\), got 3",
        ),
        (
            lambda: numbaconv.adaptive_avg_pool2d(X2, (2,)),
            ValueError,
            r"adaptive_avg_pool2d: output_size=\(2,\) must be an int or a sequence of 2 entries .* got 1",
        ),
        (
            lambda: numbaconv.adaptive_max_pool1d(X2[0], (2, 3)),
            ValueError,
            r"adaptive_max_pool1d: output_size=\(2, 3\) must be an int or a sequence of 1 entries",
        ),
        (
            lambda: numbaconv.adaptive_avg_pool2d(X2, 2.5),
            TypeError,
            r"adaptive_avg_pool2d: output_size=2.5 must be an int or a sequence of 2 entries, each an int or None",
        ),
        (
            lambda: numbaconv.adaptive_max_pool2d(X2, None),
            TypeError,
            r"adaptive_max_pool2d: output_size=None must be an int or a sequence of 2 entries",
        ),
        (
            lambda: numbaconv.adaptive_max_pool2d(X2, (2, True)),
            TypeError,
            r"adaptive_max_pool2d: output_size=\(2, True\) must be an int or a sequence",
        ),
        (
            lambda: numbaconv.adaptive_avg_pool3d(X2, (2, 2**31, 1)),
            ValueError,
            r"adaptive_avg_pool3d: output size along spatial dim 1 = 2147483648 must be at most 2\*\*31 - 1",
        ),
        (
            lambda: numbaconv.adaptive_avg_pool2d(X2[0, 0], 2),
            ValueError,
            r"adaptive_avg_pool2d: input must be 4-d \(NCHW\) or 3-d unbatched, got 2-d shape \(6, 5\)",
        ),
        (
            lambda: numbaconv.adaptive_max_pool3d(X2[0], 2),
            ValueError,
            r"adaptive_max_pool3d: input must be 5-d \(NCDHW\) or 4-d unbatched, got 3-d",
        ),
        (
            lambda: numbaconv.adaptive_max_pool2d(np.zeros((1, 2, 0, 5), np.float32), 2),
            ValueError,
            r"adaptive_max_pool2d: input shape \(1, 2, 0, 5\) \(NCHW\) must have non-empty spatial dims",
        ),
        (
            lambda: numbaconv.adaptive_avg_pool2d(X2, 2, layout="NCW"),
            ValueError,
            r"adaptive_avg_pool2d: layout='NCW' must be 'NCHW' or 'NHWC' for 2-d input",
        ),
        (
            lambda: numbaconv.adaptive_max_pool2d(X2.astype(np.int64), 2),
            TypeError,
            r"adaptive_max_pool2d: input dtype int64 is not supported; use float16, float32 or float64 \(adaptive "
            r"pooling of integers is not defined, as in torch\)",
        ),
        (
            lambda: numbaconv.adaptive_avg_pool2d(X2.astype(np.int32), 2, dtype=np.float32),
            TypeError,
            r"adaptive_avg_pool2d: input dtype int32 is not supported",
        ),
        (
            lambda: numbaconv.adaptive_max_pool2d(X2.astype(bool), 2),
            TypeError,
            r"adaptive_max_pool2d: input dtype bool is not supported",
        ),
        (
            lambda: numbaconv.adaptive_avg_pool2d(X2, 2, dtype=np.int32),
            TypeError,
            r"adaptive_avg_pool2d: dtype=int32 is not supported",
        ),
        (lambda: numbaconv.adaptive_max_pool2d(X2.tolist(), 2), TypeError, r"adaptive_max_pool2d: x must be a NumPy"),
        (
            lambda: numbaconv.adaptive_max_pool2d(X2, 2, return_indices="yes"),
            TypeError,
            r"adaptive_max_pool2d: return_indices='yes' must be a bool",
        ),
        (
            lambda: numbaconv.adaptive_max_pool2d(X2, 2, return_indices=True, out=np.zeros((1, 2, 2, 2), np.float32)),
            TypeError,
            r"adaptive_max_pool2d: with return_indices=True, out must be a \(values, indices\) pair of arrays",
        ),
        (
            lambda: numbaconv.adaptive_avg_pool2d(X2, (2, 3), out=np.zeros((1, 2, 3, 2), np.float32)),
            ValueError,
            r"adaptive_avg_pool2d: out.shape=\(1, 2, 3, 2\) must equal the result shape \(1, 2, 2, 3\)",
        ),
        (
            lambda: numbaconv.adaptive_max_pool2d(X2, 2, out=np.zeros((1, 2, 2, 2))),
            TypeError,
            r"adaptive_max_pool2d: out.dtype=float64 must equal the result dtype float32",
        ),
        (
            lambda: numbaconv.adaptive_max_pool2d(
                X2, 2, return_indices=True, out=(np.zeros((1, 2, 2, 2), np.float32), np.zeros((1, 2, 2, 2), np.int32))
            ),
            TypeError,
            r"adaptive_max_pool2d: out.dtype=int32 must equal the result dtype int64",
        ),
        (lambda: numbaconv.adaptive_avg_pool2d(X2, (6, 5), out=X2), ValueError, r"out overlaps x"),
        (
            lambda: numbaconv.adaptive_avg_pool1d(X2[0], 2, stream=0),
            ValueError,
            r"adaptive_avg_pool1d: stream=0 applies to CUDA arrays only; these are NumPy arrays",
        ),
    ],
)
def test_errors(call, err, match):
    with pytest.raises(err, match=match):
        call()


# ---- CUDA only ----


@pytest.mark.cuda
@pytest.mark.usefixtures("small_blocks")
def test_cuda_stream_argument_and_device_out(dev):
    from numba import cuda

    x = rand((1, 3, 5, 7), np.float32, 11)
    xl = to_channels_last(x)
    shape = (1, 2, 4, 3)
    out, out_idx = cuda.device_array(shape, np.float32), cuda.device_array(shape, np.int64)
    got = numbaconv.adaptive_max_pool2d(
        dev(xl), (2, 4), return_indices=True, layout="NHWC", out=(out, out_idx), stream=cuda.stream()
    )
    assert got[0] is out and got[1] is out_idx
    want, want_idx = ref.adaptive_pool(x, (2, 4), "max")
    np.testing.assert_array_equal(to_host("cuda", out, channels_last=True), want)
    np.testing.assert_array_equal(to_host("cuda", out_idx, channels_last=True), want_idx)
    with pytest.raises(TypeError, match=r"adaptive_avg_pool2d: out is a host \(NumPy\) array but x is a CUDA array"):
        numbaconv.adaptive_avg_pool2d(dev(x), 2, out=np.zeros((1, 3, 2, 2), np.float32))
    with pytest.raises(TypeError, match=r"adaptive_avg_pool2d: input dtype int64 is not supported"):
        numbaconv.adaptive_avg_pool2d(dev(np.zeros((1, 2, 3, 3), np.int64)), 2)
