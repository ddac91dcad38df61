"""Pooling against tests/reference.py over named shape cases x options x dtypes x layouts, on the CPU and CUDA
backends (CUDA: batch-1 cases, small blocks)."""

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
    reference_pads,
    run,
    to_backend,
    to_channels_last,
    to_host,
)

MAX_POOL = {1: numbaconv.max_pool1d, 2: numbaconv.max_pool2d, 3: numbaconv.max_pool3d}
AVG_POOL = {1: numbaconv.avg_pool1d, 2: numbaconv.avg_pool2d, 3: numbaconv.avg_pool3d}
# One signed and one unsigned integer type, one per layout: each dtype x layout is a separate compile.
INTS = {"first": np.int64, "last": np.uint8}
AVG_OPTIONS = [(True, None), (False, None), (True, 3)]  # (count_include_pad, divisor_override)

CASES = [
    Case("1d_basic", (2, 3, 11), kw=dict(kernel_size=3)),
    Case("1d_stride_pad_dilation", (1, 2, 17), kw=dict(kernel_size=3, stride=2, padding=2, dilation=2)),
    Case("1d_ceil", (2, 2, 10), kw=dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    Case("1d_ceil_drops_last_window", (1, 2, 5), kw=dict(kernel_size=2, stride=2, padding=1, ceil_mode=True)),
    Case("2d_basic", (2, 3, 8, 9), kw=dict(kernel_size=2)),
    Case("2d_overlap_pad", (1, 2, 9, 10), kw=dict(kernel_size=3, stride=2, padding=1)),
    Case("2d_rect_pairs", (1, 3, 11, 8), kw=dict(kernel_size=(3, 2), stride=(2, 1), padding=((2, 0), (1, 1)))),
    Case(
        "2d_dilated_ceil", (1, 2, 12, 13), kw=dict(kernel_size=3, stride=2, dilation=(2, 3), padding=1, ceil_mode=True)
    ),
    Case("2d_same", (1, 2, 7, 10), kw=dict(kernel_size=3, stride=2, padding="same")),
    Case("2d_same_lower", (2, 1, 6, 5), kw=dict(kernel_size=2, stride=1, padding="same_lower")),
    Case("2d_full", (1, 1, 5, 6), kw=dict(kernel_size=(2, 3), stride=1, padding="full")),
    Case("2d_window_is_input", (1, 2, 4, 5), kw=dict(kernel_size=(4, 5), padding="valid")),
    Case("3d_basic", (1, 2, 4, 5, 6), kw=dict(kernel_size=2)),
    Case(
        "3d_mixed", (2, 2, 5, 6, 7), kw=dict(kernel_size=(2, 3, 2), stride=(1, 2, 3), padding=(1, 1, 0), ceil_mode=True)
    ),
]
IDS = ids(CASES)


def geometry(case):
    """The reference's pooling geometry of a case, padding strings resolved."""
    kw = case.kw
    stride = kw.get("stride", kw["kernel_size"])
    return dict(
        kernel=kw["kernel_size"],
        stride=kw.get("stride"),
        pads=reference_pads(case.x[2:], kw["kernel_size"], kw.get("padding", 0), stride, kw.get("dilation", 1)),
        dilation=kw.get("dilation", 1),
        ceil_mode=kw.get("ceil_mode", False),
    )


def coarse(shape, dtype, seed):
    """Values on a coarse grid, so windows often hold ties and the first-maximum rule is exercised."""
    grid = np.random.default_rng(seed).integers(0, 7, shape)
    kind = np.dtype(dtype).kind
    if kind == "u":
        return (grid * 40).astype(dtype)
    return ((grid - 3) * (300 if kind == "i" else 0.5)).astype(dtype)


# CPU: every case x float32, float64 and an integer type x layout. CUDA: every case in float32 in both layouts,
# and three cases in the other dtypes, one layout each.
@over_backends(
    "case,dtype,layout",
    [(c, d, lay) for c in CASES for d in (np.float32, np.float64, "int") for lay in LAYOUTS],
    [(c, np.float32, lay) for c in CASES for lay in LAYOUTS]
    + [
        (CASES[i], d, lay)
        for i in (2, 7, 13)
        for d, lay in [(np.float64, "last"), (np.int64, "first"), (np.uint8, "last"), (np.int16, "first")]
    ],
)
def test_max_pool_matches_reference(backend, case, dtype, layout):
    """Coarse values: windows hold ties, so the first-maximum rule is checked along with the geometry; integers
    pool as they are (same dtype out)."""
    case = case.on(backend)
    dtype = INTS[layout] if dtype == "int" else dtype
    x = coarse(case.x, dtype, 1)
    want, want_idx = ref.max_pool(x, **geometry(case))
    values, indices = run(backend, MAX_POOL[case.nd], x, layout=layout, return_indices=True, **case.kw)
    assert values.dtype == dtype and indices.dtype == np.int64
    np.testing.assert_array_equal(values.astype(np.float64), want)
    np.testing.assert_array_equal(indices, want_idx)
    np.testing.assert_array_equal(run(backend, MAX_POOL[case.nd], x, layout=layout, **case.kw), values)


# CPU: every case x divisor option x float32/float64 x layout. CUDA: every case in float32 in both layouts, the
# divisor options in turn, and three cases in float64.
@over_backends(
    "case,count_include_pad,divisor_override,dtype,layout",
    [(c, *o, d, lay) for c in CASES for o in AVG_OPTIONS for d in (np.float32, np.float64) for lay in LAYOUTS],
    [(c, *AVG_OPTIONS[(i + j) % 3], np.float32, lay) for i, c in enumerate(CASES) for j, lay in enumerate(LAYOUTS)]
    + [(CASES[i], True, None, np.float64, lay) for i in (1, 7, 13) for lay in LAYOUTS],
)
def test_avg_pool_matches_reference(backend, case, count_include_pad, divisor_override, dtype, layout):
    case = case.on(backend)
    x = rand(case.x, dtype, 2)
    want = ref.avg_pool(x, **geometry(case), count_include_pad=count_include_pad, divisor_override=divisor_override)
    got = run(
        backend,
        AVG_POOL[case.nd],
        x,
        layout=layout,
        count_include_pad=count_include_pad,
        divisor_override=divisor_override,
        **case.kw,
    )
    assert got.dtype == dtype
    assert_close(got, want, dtype)


def test_pool_float16(backend):
    """float16 (compared and summed in float32) on three cases each in both layouts, and into an `out=` array."""
    for i in (2, 7, 13):
        case = CASES[i].on(backend)
        x = coarse(case.x, np.float16, 2)
        want, want_idx = ref.max_pool(x, **geometry(case))
        for layout in LAYOUTS:
            values, indices = run(backend, MAX_POOL[case.nd], x, layout=layout, return_indices=True, **case.kw)
            assert values.dtype == np.float16
            np.testing.assert_array_equal(values.astype(np.float64), want)
            np.testing.assert_array_equal(indices, want_idx)
            np.testing.assert_array_equal(run(backend, MAX_POOL[case.nd], x, layout=layout, **case.kw), values)
    for i in (1, 7, 13):
        case = CASES[i].on(backend)
        x = rand(case.x, np.float16, 5)
        for layout in LAYOUTS:
            got = run(backend, AVG_POOL[case.nd], x, layout=layout, count_include_pad=False, **case.kw)
            assert got.dtype == np.float16
            assert_close(got, ref.avg_pool(x, **geometry(case), count_include_pad=False), np.float16)
    x = rand((2, 3, 6, 8), np.float32, 4).astype(np.float16)
    out = full(backend, numbaconv.pool_output_shape((2, 6, 8, 3), 2, layout="NHWC"), np.nan, np.float16)
    assert numbaconv.avg_pool2d(to_backend(backend, x, channels_last=True), 2, layout="NHWC", out=out) is out
    assert_close(to_host(backend, out, channels_last=True), ref.avg_pool(x, 2), np.float16)


@over_backends("dtype,layout", [(np.float64, lay) for lay in LAYOUTS], [(np.float32, lay) for lay in LAYOUTS])
def test_nan_propagates_with_torch_index(backend, dtype, layout):
    """A window with a NaN gives NaN and (as torch) the index of its last NaN; other windows are untouched."""
    case = Case("nan", (1, 2, 6, 7), kw=dict(kernel_size=3, stride=2, padding=1))
    x = rand(case.x, dtype, 3)
    x[0, 0, 1, 1] = x[0, 0, 2, 1] = x[0, 1, 5, 6] = np.nan
    want, want_idx = ref.max_pool(x, **geometry(case))
    values, indices = run(backend, numbaconv.max_pool2d, x, layout=layout, return_indices=True, **case.kw)
    assert np.isnan(values).sum() == np.isnan(want).sum() > 0
    np.testing.assert_array_equal(values, want)
    np.testing.assert_array_equal(indices, want_idx)
    assert indices[0, 0, 1, 1] == 2 * 7 + 1  # the later of the two NaNs in that window


@pytest.mark.parametrize("layout", LAYOUTS)
def test_padding_never_wins_and_all_minus_inf_windows_point_at_first_tap(backend, layout):
    x = np.array([[[-np.inf, -np.inf, -5.0, -np.inf, -np.inf]]])
    values, indices = run(backend, numbaconv.max_pool1d, x, 3, layout=layout, stride=2, padding=2, return_indices=True)
    # windows [-2, 0], [0, 2], [2, 4], [4, 6]: padding counts as -inf yet never wins, even over -inf.
    np.testing.assert_array_equal(values[0, 0], [-np.inf, -5.0, -5.0, -np.inf])
    np.testing.assert_array_equal(indices[0, 0], [0, 2, 2, 4])
    low = np.iinfo(np.int64).min
    ints = np.full((1, 1, 5), low, np.int64)
    assert run(backend, numbaconv.max_pool1d, ints, 3, layout=layout, stride=2, padding=2, return_indices=True)[
        1
    ].tolist() == [[[0, 0, 2, 4]]]
    ints[0, 0, 2] = 2**62 + 1  # beyond float64 precision: compared as integers
    values, indices = run(
        backend, numbaconv.max_pool1d, ints, 3, layout=layout, stride=2, padding=2, return_indices=True
    )
    assert values.tolist() == [[[low, 2**62 + 1, 2**62 + 1, low]]]
    assert indices.tolist() == [[[0, 2, 2, 4]]]


def test_integers_pool_exactly_beyond_float_precision(backend):
    x = np.array([[[2**62 + 1, 2**62, 2**62 + 3, 2**62 + 2]]], np.int64)
    assert run(backend, numbaconv.max_pool1d, x, 2).tolist() == [[[2**62 + 1, 2**62 + 3]]]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_out_argument_is_filled_and_returned(backend, layout):
    n = 2 if backend == "cpu" else 1
    x = rand((n, 3, 6, 8), np.float32, 4)
    last = layout == "last"
    xin = to_backend(backend, x, last)
    kw = dict(layout="NHWC") if last else {}
    shape = numbaconv.pool_output_shape(xin.shape, 2, **kw)
    out, out_idx = full(backend, shape, np.nan, np.float32), full(backend, shape, -1, np.int64)
    values, indices = numbaconv.max_pool2d(xin, 2, return_indices=True, out=(out, out_idx), **kw)
    assert values is out and indices is out_idx
    want, want_idx = ref.max_pool(x, 2)
    np.testing.assert_array_equal(to_host(backend, out, last), want)
    np.testing.assert_array_equal(to_host(backend, out_idx, last), want_idx)


def test_avg_pool_integer_input_needs_float_dtype(backend):
    x = np.arange(2 * 3 * 7, dtype=np.int32).reshape(2, 3, 7)
    got = run(backend, numbaconv.avg_pool1d, x, 2, dtype=np.float64)
    assert got.dtype == np.float64
    assert_close(got, ref.avg_pool(x, 2))
    out = full(backend, (2, 3, 3), np.nan, np.float32)
    assert numbaconv.avg_pool1d(to_backend(backend, x), 2, out=out) is out
    assert_close(to_host(backend, out), ref.avg_pool(x, 2), np.float32)
    with pytest.raises(TypeError, match=r"avg_pool1d: integer input \(int32\) needs an explicit accumulate dtype"):
        numbaconv.avg_pool1d(to_backend(backend, x), 2)
    for case in (CASES[1], CASES[7], CASES[13]):
        case = case.on(backend)
        ints = coarse(case.x, np.int32, 7)
        for layout in LAYOUTS:
            got = run(backend, AVG_POOL[case.nd], ints, layout=layout, dtype=np.float64, **case.kw)
            assert got.dtype == np.float64
            assert_close(got, ref.avg_pool(ints, **geometry(case)))


def test_non_contiguous_input_and_empty_batch(backend):
    """A strided view (of a device array on CUDA): the kernels index any strides; and an empty batch."""
    n = 2 if backend == "cpu" else 1
    big = rand((n, 6, 14, 18), np.float32, 5)
    view, sub = to_backend(backend, big)[:, ::2, ::2, 1::2], big[:, ::2, ::2, 1::2]
    assert_close(
        to_host(backend, numbaconv.avg_pool2d(view, 3, stride=2, padding=1)), ref.avg_pool(sub, 3, 2, 1), np.float32
    )
    np.testing.assert_array_equal(to_host(backend, numbaconv.max_pool2d(view, 2)), ref.max_pool(sub, 2)[0])
    empty = to_backend(backend, np.zeros((0, 3, 8, 8), np.float32))
    values, indices = numbaconv.max_pool2d(empty, 2, return_indices=True)
    assert values.shape == indices.shape == (0, 3, 4, 4)
    assert numbaconv.avg_pool2d(to_backend(backend, np.zeros((0, 8, 8, 3))), 2, layout="NHWC").shape == (0, 4, 4, 3)


@pytest.mark.parametrize(
    "shape,kw,want",
    [
        ((1, 64, 112, 112), dict(kernel_size=3, stride=2, padding=1), (1, 64, 56, 56)),
        ((1, 2, 5), dict(kernel_size=2, stride=2, padding=1, ceil_mode=True), (1, 2, 3)),
        ((1, 2, 6), dict(kernel_size=2, stride=2, padding=1, ceil_mode=True), (1, 2, 4)),
        ((1, 2, 10), dict(kernel_size=3, stride=3), (1, 2, 3)),
        ((1, 2, 10), dict(kernel_size=3, stride=3, ceil_mode=True), (1, 2, 4)),
        ((3, 9, 10, 4), dict(kernel_size=3, stride=2, padding="same", layout="NHWC"), (3, 5, 5, 4)),
        ((1, 1, 4, 5, 6), dict(kernel_size=2, dilation=2, padding="full"), (1, 1, 3, 4, 4)),
    ],
)
def test_pool_output_shape(shape, kw, want):
    assert numbaconv.pool_output_shape(shape, **kw) == want


@BACKEND_SETTINGS
@given(data=st.data())
def test_random_geometry_matches_reference(backend, data):
    """Random 1-D to 3-D geometries on the CPU; 1-D on CUDA (the simulator runs one Python thread per output)."""
    nd = data.draw(st.integers(1, 3 if backend == "cpu" else 1))
    spatial = data.draw(st.lists(st.integers(1, 7), min_size=nd, max_size=nd))
    kernel = data.draw(st.lists(st.integers(1, 4), min_size=nd, max_size=nd))
    stride = data.draw(st.lists(st.integers(1, 3), min_size=nd, max_size=nd))
    dilation = data.draw(st.lists(st.integers(1, 3), min_size=nd, max_size=nd))
    pads = [
        (data.draw(st.integers(0, d * (k - 1))), data.draw(st.integers(0, d * (k - 1))))
        for k, d in zip(kernel, dilation)
    ]
    ceil_mode = data.draw(st.booleans())
    x = coarse((2 if backend == "cpu" else 1, 2, *spatial), np.float64, data.draw(st.integers(0, 100)))
    kw = dict(
        kernel_size=tuple(kernel),
        stride=tuple(stride),
        padding=tuple(pads),
        dilation=tuple(dilation),
        ceil_mode=ceil_mode,
    )
    try:
        shape = numbaconv.pool_output_shape(x.shape, **kw)
    except ValueError as err:  # a geometry with no output, or with a window that misses the input
        assert "output size" in str(err) or "reads no input element" in str(err)
        return
    geo = dict(kernel=kernel, stride=stride, pads=pads, dilation=dilation, ceil_mode=ceil_mode)
    values, indices = run(backend, MAX_POOL[nd], x, return_indices=True, **kw)
    want, want_idx = ref.max_pool(x, **geo)
    assert values.shape == shape
    np.testing.assert_array_equal(values, want)
    np.testing.assert_array_equal(indices, want_idx)
    include = data.draw(st.booleans())
    assert_close(
        run(backend, AVG_POOL[nd], x, count_include_pad=include, **kw),
        ref.avg_pool(x, **geo, count_include_pad=include),
    )


def test_matches_torch():
    torch = pytest.importorskip("torch")
    functional = torch.nn.functional
    x = rand((2, 3, 9, 11), np.float32, 6)
    x[0, 1, 4, 4] = np.nan
    for kw in [
        dict(kernel_size=3, stride=2, padding=1),
        dict(kernel_size=2, ceil_mode=True),
        dict(kernel_size=(3, 2), stride=(2, 3), padding=(1, 1), dilation=(2, 1), ceil_mode=True),
        dict(kernel_size=4, stride=3, padding=2, ceil_mode=True),
    ]:
        values, indices = numbaconv.max_pool2d(x, return_indices=True, **kw)
        t_values, t_indices = functional.max_pool2d(torch.from_numpy(x), return_indices=True, **kw)
        np.testing.assert_array_equal(values, t_values.numpy())
        np.testing.assert_array_equal(indices, t_indices.numpy())
        kw.pop("dilation", None)
        for include in (True, False):
            for override in (None, 5):
                got = numbaconv.avg_pool2d(x, count_include_pad=include, divisor_override=override, **kw)
                want = functional.avg_pool2d(
                    torch.from_numpy(x), count_include_pad=include, divisor_override=override, **kw
                )
                np.testing.assert_allclose(got, want.numpy(), rtol=1e-6, atol=1e-6)
    y = rand((1, 2, 5, 6, 7), np.float64, 7)
    values, indices = numbaconv.max_pool3d(y, 3, stride=2, padding=1, return_indices=True)
    t_values, t_indices = functional.max_pool3d(torch.from_numpy(y), 3, stride=2, padding=1, return_indices=True)
    np.testing.assert_array_equal(values, t_values.numpy())
    np.testing.assert_array_equal(indices, t_indices.numpy())
    z = rand((2, 3, 10), np.float64, 8)
    np.testing.assert_allclose(
        numbaconv.avg_pool1d(z, 4, stride=3, padding=2, ceil_mode=True),
        functional.avg_pool1d(torch.from_numpy(z), 4, stride=3, padding=2, ceil_mode=True).numpy(),
        rtol=1e-12,
    )


X2 = np.zeros((1, 1, 6, 6), np.float32)


@pytest.mark.parametrize(
    "call,err,match",
    [
        (lambda: numbaconv.max_pool2d(X2, 0), ValueError, r"max_pool2d: kernel_size=0 must be positive"),
        (
            lambda: numbaconv.max_pool2d(X2, (2, 2, 2)),
            ValueError,
            r"max_pool2d: kernel_size=\(2, 2, 2\) must be an int or a sequence of 2 ints",
        ),
        (lambda: numbaconv.max_pool2d(X2, 2.0), TypeError, r"max_pool2d: kernel_size=2.0 must be an int"),
        (
            lambda: numbaconv.max_pool2d(X2, 2, stride=(1, 0)),
            ValueError,
            r"max_pool2d: stride=\(1, 0\) must be positive",
        ),
        (lambda: numbaconv.max_pool2d(X2, 2, dilation=0), ValueError, r"max_pool2d: dilation=0 must be positive"),
        (lambda: numbaconv.max_pool2d(X2, 2, padding=-1), ValueError, r"max_pool2d: padding=-1 must be >= 0"),
        (
            lambda: numbaconv.max_pool2d(X2, 2, padding="circle"),
            ValueError,
            r"max_pool2d: padding='circle' is not one of 'valid', 'same', 'same_lower', 'full'",
        ),
        (
            lambda: numbaconv.max_pool2d(X2, 3, padding=(3, 0)),
            ValueError,
            r"max_pool2d: padding \(3, 3\) along spatial dim 0 must be smaller than the dilated kernel extent "
            r"dilation \* \(kernel - 1\) \+ 1 = 3",
        ),
        (
            lambda: numbaconv.avg_pool2d(X2, 2, padding=((0, 0), (0, 2))),
            ValueError,
            r"avg_pool2d: padding \(0, 2\) along spatial dim 1 must be smaller than the dilated kernel extent",
        ),
        (
            lambda: numbaconv.max_pool2d(X2, 7),
            ValueError,
            r"max_pool2d: output size < 1 along spatial dim 0: out = floor\(\(in \+ pad_lo \+ pad_hi - dilation \* "
            r"\(kernel - 1\) - 1\) / stride\) \+ 1 .* with in=6, pad=\(0, 0\), dilation=1, kernel=7, stride=7",
        ),
        (
            lambda: numbaconv.max_pool1d(np.zeros((1, 1, 2)), 2, stride=1, dilation=3, padding=2),
            ValueError,
            r"max_pool1d: window 1 along spatial dim 0 reads no input element: its taps at \[-1, 2\] all miss the "
            r"input \[0, 2\)",
        ),
        (
            lambda: numbaconv.max_pool2d(X2, 2, ceil_mode="yes"),
            TypeError,
            r"max_pool2d: ceil_mode='yes' must be a bool",
        ),
        (
            lambda: numbaconv.max_pool2d(X2, 2, return_indices=1),
            TypeError,
            r"max_pool2d: return_indices=1 must be a bool",
        ),
        (
            lambda: numbaconv.avg_pool2d(X2, 2, count_include_pad=None),
            TypeError,
            r"avg_pool2d: count_include_pad=None must be a bool",
        ),
        (
            lambda: numbaconv.avg_pool2d(X2, 2, divisor_override=0),
            ValueError,
            r"avg_pool2d: divisor_override=0 must be None or a positive int",
        ),
        (
            lambda: numbaconv.avg_pool2d(X2, 2, divisor_override=2.5),
            ValueError,
            r"avg_pool2d: divisor_override=2.5 must be None or a positive int",
        ),
        (
            lambda: numbaconv.max_pool2d(X2[0, 0], 2),
            ValueError,
            r"max_pool2d: input must be 4-d \(NCHW\) or 3-d unbatched, got 2-d",
        ),
        (
            lambda: numbaconv.max_pool3d(X2[0], 2),
            ValueError,
            r"max_pool3d: input must be 5-d \(NCDHW\) or 4-d unbatched, got 3-d",
        ),
        (
            lambda: numbaconv.max_pool2d(X2, 2, layout="NWC"),
            ValueError,
            r"max_pool2d: layout='NWC' must be 'NCHW' or 'NHWC' for 2-d input",
        ),
        (
            lambda: numbaconv.max_pool2d(np.zeros((1, 1, 0, 4)), 1),
            ValueError,
            r"max_pool2d: input shape \(1, 1, 0, 4\) \(NCHW\) must have non-empty spatial dims",
        ),
        (
            lambda: numbaconv.max_pool2d(X2.astype(bool), 2),
            TypeError,
            r"max_pool2d: input dtype bool is not supported; use float16, float32, float64 or an integer dtype",
        ),
        (lambda: numbaconv.max_pool2d(X2.astype(np.complex64), 2), TypeError, r"max_pool2d: input dtype complex64"),
        (
            lambda: numbaconv.avg_pool2d(X2.astype(bool), 2, dtype=np.float32),
            TypeError,
            r"avg_pool2d: input dtype bool is not supported",
        ),
        (lambda: numbaconv.avg_pool2d(X2, 2, dtype=np.int32), TypeError, r"avg_pool2d: dtype=int32 is not supported"),
        (lambda: numbaconv.max_pool2d(X2.tolist(), 2), TypeError, r"max_pool2d: x must be a NumPy array"),
        (
            lambda: numbaconv.max_pool2d(X2, 2, out=np.zeros((1, 1, 3, 2), np.float32)),
            ValueError,
            r"max_pool2d: out.shape=\(1, 1, 3, 2\) must equal the result shape \(1, 1, 3, 3\)",
        ),
        (
            lambda: numbaconv.max_pool2d(X2, 2, out=np.zeros((1, 1, 3, 3))),
            TypeError,
            r"max_pool2d: out.dtype=float64 must equal the result dtype float32",
        ),
        (lambda: numbaconv.avg_pool2d(X2, 1, out=X2), ValueError, r"avg_pool2d: out overlaps x"),
        (
            lambda: numbaconv.max_pool2d(X2, 2, return_indices=True, out=np.zeros((1, 1, 3, 3), np.float32)),
            TypeError,
            r"max_pool2d: with return_indices=True, out must be a \(values, indices\) pair of arrays, got ndarray",
        ),
        (
            lambda: numbaconv.max_pool2d(
                X2, 2, return_indices=True, out=(np.zeros((1, 1, 3, 3), np.float32), np.zeros((1, 1, 3, 3), np.int32))
            ),
            TypeError,
            r"max_pool2d: out.dtype=int32 must equal the result dtype int64",
        ),
        (
            lambda: numbaconv.max_pool2d(X2, 2, stream=0),
            ValueError,
            r"max_pool2d: stream=0 applies to CUDA arrays only; these are NumPy arrays",
        ),
        (
            lambda: numbaconv.avg_pool3d(X2[None], 2, stream="s"),
            ValueError,
            r"avg_pool3d: stream='s' applies to CUDA arrays only",
        ),
        (
            lambda: numbaconv.pool_output_shape((1, 6, 6), 2, layout="NCHW"),
            ValueError,
            r"pool_output_shape: layout='NCHW' must be 'NCW' or 'NWC' for 1-d input",
        ),
        (
            lambda: numbaconv.pool_output_shape((6, 6), 2),
            ValueError,
            r"pool_output_shape: input_shape=\(6, 6\) must have 3, 4 or 5 dims",
        ),
    ],
)
def test_errors(call, err, match):
    with pytest.raises(err, match=match):
        call()


# ---- CUDA only ----


@pytest.mark.cuda
@pytest.mark.usefixtures("small_blocks")
def test_cuda_stream_argument(dev):
    from numba import cuda

    x = rand((1, 3, 6, 8), np.float32, 8)
    xl = to_channels_last(x)
    shape = numbaconv.pool_output_shape(xl.shape, 2, layout="NHWC")
    out, out_idx = cuda.device_array(shape, np.float32), cuda.device_array(shape, np.int64)
    got = numbaconv.max_pool2d(dev(xl), 2, return_indices=True, layout="NHWC", out=(out, out_idx), stream=cuda.stream())
    assert got[0] is out and got[1] is out_idx
    want, want_idx = ref.max_pool(x, 2)
    np.testing.assert_array_equal(to_host("cuda", out, channels_last=True), want)
    np.testing.assert_array_equal(to_host("cuda", out_idx, channels_last=True), want_idx)


@pytest.mark.cuda
def test_cuda_mixing_and_out_errors(dev):
    from numba import cuda

    x, idx = dev(np.zeros((1, 2, 3, 3), np.float32)), dev(np.zeros((1, 2, 3, 3), np.int64))
    with pytest.raises(TypeError, match=r"max_pool2d: out is a host \(NumPy\) array but x is a CUDA array"):
        numbaconv.max_pool2d(x, 2, out=np.zeros((1, 2, 1, 1), np.float32))
    with pytest.raises(TypeError, match=r"max_pool2d: out_indices is a host \(NumPy\) array but x is a CUDA array"):
        numbaconv.max_pool2d(
            x,
            2,
            return_indices=True,
            out=(cuda.device_array((1, 2, 1, 1), np.float32), np.zeros((1, 2, 1, 1), np.int64)),
        )
    with pytest.raises(TypeError, match=r"max_pool2d: out.dtype=int32 must equal the result dtype int64"):
        numbaconv.max_pool2d(
            x,
            2,
            return_indices=True,
            out=(cuda.device_array((1, 2, 1, 1), np.float32), cuda.device_array((1, 2, 1, 1), np.int32)),
        )
    with pytest.raises(ValueError, match=r"avg_pool2d: out overlaps x"):
        numbaconv.avg_pool2d(x, 1, out=x)
    with pytest.raises(
        ValueError,
        match=r"avg_pool2d: out.shape=\(1, 2, 2, 2\) must equal the result shape "
        r"\(1, 2, 1, 1\)",
    ):
        numbaconv.avg_pool2d(x, 2, out=cuda.device_array((1, 2, 2, 2), np.float32))
    with pytest.raises(TypeError, match=r"avg_pool2d: integer input \(int64\) needs an explicit accumulate dtype"):
        numbaconv.avg_pool2d(idx, 2)


@pytest.mark.parametrize(
    "shape,kernel,stride,padding",
    [((1, 2, 1, 1), 2, 2, 0), ((1, 2, 3, 3), 4, 4, 0), ((1, 1, 3, 3), 4, 2, 1), ((1, 1, 1, 1), 3, 1, 1)],
)
def test_ceil_mode_window_longer_than_the_input(backend, shape, kernel, stride, padding):
    """With ceil_mode a window longer than the padded input still gives one output per dim, as torch."""
    x = rand(shape, np.float64, 41)
    want, want_idx = ref.max_pool(x, kernel, stride, padding, 1, True)
    values, indices = run(
        backend, numbaconv.max_pool2d, x, kernel, stride, padding, ceil_mode=True, return_indices=True
    )
    np.testing.assert_array_equal(values, want)
    np.testing.assert_array_equal(indices, want_idx)
    for count_include_pad in (True, False):
        got = run(
            backend,
            numbaconv.avg_pool2d,
            x,
            kernel,
            stride,
            padding,
            ceil_mode=True,
            count_include_pad=count_include_pad,
        )
        assert_close(got, ref.avg_pool(x, kernel, stride, padding, 1, True, count_include_pad), np.float64)
    with pytest.raises(ValueError, match=r"max_pool2d: output size < 1 along spatial dim 0"):
        numbaconv.max_pool2d(np.ones((1, 1, 1, 1)), 2)
