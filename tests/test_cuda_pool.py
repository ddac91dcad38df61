"""Pooling, unpooling and interpolation on the CUDA backend, against tests/reference.py (tiny shapes, small blocks)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import numbaconv
import reference as ref
from helpers import assert_close, rand, to_channels_first, to_channels_last
from test_pool import AVG_POOL, CASES, IDS, LAYOUT_LAST, MAX_POOL, Case, coarse, geometry
from test_unpool import (COPY_DTYPES, INTERPOLATE_CASES, MAX_UNPOOL, MAX_UNPOOL_CASES, UNPOOL, UNPOOL_CASES,
                         values)

pytestmark = [pytest.mark.cuda, pytest.mark.usefixtures("small_blocks")]
# The CPU cases with batch 1: the simulator runs every thread in Python, so the outputs are kept few.
CUDA_CASES = [Case(c.name, (1,) + c.x[1:], c.kw) for c in CASES]


def host(a):
    assert hasattr(a, "copy_to_host")  # a device array in, a device array out
    return a.copy_to_host()


def run(op, nd, layout, *args, **kw):
    """`op` on the channels-first host arrays among `args` moved to the device in `layout`; results back on the
    host, channels-first (a pair stays a pair)."""
    from numba import cuda
    last = layout == "last"
    if last:
        kw = {**kw, "layout": LAYOUT_LAST[nd]}
    args = [cuda.to_device(to_channels_last(a) if last else a) if isinstance(a, np.ndarray) else a for a in args]
    got = op(*args, **kw)
    back = to_channels_first if last else np.asarray
    return tuple(back(host(g)) for g in got) if isinstance(got, tuple) else back(host(got))


# ---- max_pool ----

@pytest.mark.parametrize("layout", ["first", "last"])
@pytest.mark.parametrize("case", CUDA_CASES, ids=IDS)
def test_cuda_max_pool_matches_reference(case, layout):
    """Coarse values: windows hold ties, so the first-maximum rule is checked along with the geometry."""
    x = coarse(case.x, np.float32, 1)
    want, want_idx = ref.max_pool(x, **geometry(case))
    values_, indices = run(MAX_POOL[case.nd], case.nd, layout, x, return_indices=True, **case.kw)
    assert values_.dtype == np.float32 and indices.dtype == np.int64
    np.testing.assert_array_equal(values_, want)
    np.testing.assert_array_equal(indices, want_idx)


@pytest.mark.parametrize("dtype,layout", [(np.float16, "first"), (np.float16, "last"), (np.float64, "last"),
                                          (np.int64, "first"), (np.uint8, "last"), (np.int16, "first")])
@pytest.mark.parametrize("case", [CUDA_CASES[2], CUDA_CASES[7], CUDA_CASES[13]], ids=lambda c: c.name)
def test_cuda_max_pool_dtypes(case, dtype, layout):
    """float16 compares in float32; integers pool as they are (same dtype out)."""
    x = coarse(case.x, dtype, 2)
    want, want_idx = ref.max_pool(x, **geometry(case))
    values_, indices = run(MAX_POOL[case.nd], case.nd, layout, x, return_indices=True, **case.kw)
    assert values_.dtype == dtype
    np.testing.assert_array_equal(values_.astype(np.float64), want)
    np.testing.assert_array_equal(indices, want_idx)
    np.testing.assert_array_equal(run(MAX_POOL[case.nd], case.nd, layout, x, **case.kw), values_)


@pytest.mark.parametrize("layout", ["first", "last"])
def test_cuda_nan_propagates_with_torch_index(layout):
    case = Case("nan", (1, 2, 6, 7), dict(kernel_size=3, stride=2, padding=1))
    x = rand(case.x, np.float32, 3)
    x[0, 0, 1, 1] = x[0, 0, 2, 1] = x[0, 1, 5, 6] = np.nan
    want, want_idx = ref.max_pool(x, **geometry(case))
    values_, indices = run(numbaconv.max_pool2d, 2, layout, x, return_indices=True, **case.kw)
    assert np.isnan(values_).sum() == np.isnan(want).sum() > 0
    np.testing.assert_array_equal(values_, want)
    np.testing.assert_array_equal(indices, want_idx)
    assert indices[0, 0, 1, 1] == 2 * 7 + 1  # the later of the two NaNs in that window


def test_cuda_padding_never_wins(dev):
    x = np.array([[[-np.inf, -np.inf, -5.0, -np.inf, -np.inf]]])
    values_, indices = numbaconv.max_pool1d(dev(x), 3, stride=2, padding=2, return_indices=True)
    np.testing.assert_array_equal(host(values_)[0, 0], [-np.inf, -5.0, -5.0, -np.inf])
    np.testing.assert_array_equal(host(indices)[0, 0], [0, 2, 2, 4])
    ints = np.full((1, 1, 5), np.iinfo(np.int64).min, np.int64)
    ints[0, 0, 2] = 2**62 + 1  # beyond float64 precision: compared as integers
    values_, indices = numbaconv.max_pool1d(dev(ints), 3, stride=2, padding=2, return_indices=True)
    assert host(values_).tolist() == [[[np.iinfo(np.int64).min, 2**62 + 1, 2**62 + 1, np.iinfo(np.int64).min]]]
    assert host(indices).tolist() == [[[0, 2, 2, 4]]]


# ---- avg_pool ----

OPTIONS = [(True, None), (False, None), (True, 3)]


@pytest.mark.parametrize("layout", ["first", "last"])
@pytest.mark.parametrize("i,case", list(enumerate(CUDA_CASES)), ids=IDS)
def test_cuda_avg_pool_matches_reference(i, case, layout):
    """Each case with one of the divisor options, in turn: count_include_pad, not, divisor_override."""
    count_include_pad, divisor_override = OPTIONS[(i + (layout == "last")) % 3]
    x = rand(case.x, np.float32, 4)
    want = ref.avg_pool(x, **geometry(case), count_include_pad=count_include_pad, divisor_override=divisor_override)
    got = run(AVG_POOL[case.nd], case.nd, layout, x, count_include_pad=count_include_pad,
              divisor_override=divisor_override, **case.kw)
    assert got.dtype == np.float32
    assert_close(got, want, np.float32)


@pytest.mark.parametrize("layout", ["first", "last"])
@pytest.mark.parametrize("case", [CUDA_CASES[1], CUDA_CASES[7], CUDA_CASES[13]], ids=lambda c: c.name)
def test_cuda_avg_pool_float16_float64_and_integers(case, layout):
    x16 = rand(case.x, np.float16, 5)
    got = run(AVG_POOL[case.nd], case.nd, layout, x16, count_include_pad=False, **case.kw)
    assert got.dtype == np.float16
    assert_close(got, ref.avg_pool(x16, **geometry(case), count_include_pad=False), np.float16)
    x64 = rand(case.x, np.float64, 6)
    assert_close(run(AVG_POOL[case.nd], case.nd, layout, x64, **case.kw), ref.avg_pool(x64, **geometry(case)))
    ints = coarse(case.x, np.int32, 7)
    got = run(AVG_POOL[case.nd], case.nd, layout, ints, dtype=np.float64, **case.kw)
    assert got.dtype == np.float64
    assert_close(got, ref.avg_pool(ints, **geometry(case)))


@settings(deadline=None, max_examples=15)
@given(data=st.data())
def test_cuda_random_1d_geometry_matches_reference(data):
    from numba import cuda
    size, kernel = data.draw(st.integers(1, 7)), data.draw(st.integers(1, 4))
    stride, dilation = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    pads = (data.draw(st.integers(0, dilation * (kernel - 1))), data.draw(st.integers(0, dilation * (kernel - 1))))
    ceil_mode, include = data.draw(st.booleans()), data.draw(st.booleans())
    x = coarse((1, 2, size), np.float64, data.draw(st.integers(0, 100)))
    kw = dict(kernel_size=kernel, stride=stride, padding=(pads,), dilation=dilation, ceil_mode=ceil_mode)
    try:
        numbaconv.pool_output_shape(x.shape, **kw)
    except ValueError as err:  # a geometry with no output, or with a window that misses the input
        assert "output size" in str(err) or "reads no input element" in str(err)
        return
    geo = dict(kernel=kernel, stride=stride, pads=[pads], dilation=dilation, ceil_mode=ceil_mode)
    want, want_idx = ref.max_pool(x, **geo)
    values_, indices = numbaconv.max_pool1d(cuda.to_device(x), return_indices=True, **kw)
    np.testing.assert_array_equal(host(values_), want)
    np.testing.assert_array_equal(host(indices), want_idx)
    got = numbaconv.avg_pool1d(cuda.to_device(x), count_include_pad=include, **kw)
    assert_close(host(got), ref.avg_pool(x, **geo, count_include_pad=include))


def test_cuda_pool_out_stream_and_strided_input(dev):
    from numba import cuda
    x = rand((1, 3, 6, 8), np.float32, 8)
    xl = to_channels_last(x)
    shape = numbaconv.pool_output_shape(xl.shape, 2, layout="NHWC")
    out, out_idx = cuda.device_array(shape, np.float32), cuda.device_array(shape, np.int64)
    got = numbaconv.max_pool2d(dev(xl), 2, return_indices=True, layout="NHWC", out=(out, out_idx),
                               stream=cuda.stream())
    assert got[0] is out and got[1] is out_idx
    want, want_idx = ref.max_pool(x, 2)
    np.testing.assert_array_equal(to_channels_first(host(out)), want)
    np.testing.assert_array_equal(to_channels_first(host(out_idx)), want_idx)
    half = cuda.device_array(shape, np.float16)
    assert numbaconv.avg_pool2d(dev(xl.astype(np.float16)), 2, layout="NHWC", out=half) is half
    assert_close(to_channels_first(host(half)), ref.avg_pool(x.astype(np.float16), 2), np.float16)
    # A strided device view: the kernels index any strides, nothing is copied.
    big = rand((1, 3, 12, 18), np.float32, 9)
    strided = dev(big)[:, :, ::2, 1::2]
    sub = big[:, :, ::2, 1::2]
    assert_close(host(numbaconv.avg_pool2d(strided, 3, stride=2, padding=1)), ref.avg_pool(sub, 3, 2, 1),
                 np.float32)
    np.testing.assert_array_equal(host(numbaconv.max_pool2d(strided, 2)), ref.max_pool(sub, 2)[0])
    empty = numbaconv.max_pool2d(dev(np.zeros((0, 2, 4, 4), np.float32)), 2, return_indices=True)
    assert empty[0].shape == empty[1].shape == (0, 2, 2, 2)


# ---- max_unpool ----

@pytest.mark.parametrize("layout", ["first", "last"])
@pytest.mark.parametrize("i,case", list(enumerate(MAX_UNPOOL_CASES)), ids=[c[0] for c in MAX_UNPOOL_CASES])
def test_cuda_max_unpool_matches_reference(i, case, layout):
    """Random indices with many duplicates: every plane keeps the largest value at each index."""
    name, shape, kw, out_spatial = case
    nd = len(shape) - 2
    dtype = [np.float32, np.float16, np.int32, np.float64][(i + (layout == "last")) % 4]
    x = values((1,) + shape[1:], dtype, 1)
    indices = np.random.default_rng(2).integers(0, math.prod(out_spatial), x.shape)
    if layout == "last" and "output_size" in kw and len(kw["output_size"]) == nd + 2:
        n, c, *spatial = kw["output_size"]
        kw = {**kw, "output_size": (n, *spatial, c)}
    got = run(MAX_UNPOOL[nd], nd, layout, x, indices, **kw)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, ref.max_unpool(x, indices, out_spatial))


def test_cuda_max_unpool_duplicates_keep_largest_first_and_nan(dev):
    x = np.array([-3.0, -1.0, -2.0, 0.0, -0.0, 7.0, np.nan, 8.0, -0.0, 0.0]).reshape(1, 1, 2, 5)
    idx = np.array([0, 0, 0, 1, 1, 2, 2, 2, 3, 3]).reshape(1, 1, 2, 5)
    got = host(numbaconv.max_unpool2d(dev(x), dev(idx), 1)).ravel()
    np.testing.assert_array_equal(got, [-1.0, 0.0, np.nan, -0.0, 0, 0, 0, 0, 0, 0])
    assert np.signbit(got[1:4]).tolist() == [False, False, True]  # the first of equal values stays
    ints = numbaconv.max_unpool1d(dev(np.array([[[-4, -9, -2]]], np.int32)), dev(np.zeros((1, 1, 3), np.uint8)), 2)
    assert host(ints).tolist() == [[[-2, 0, 0, 0, 0, 0]]]


@pytest.mark.parametrize("layout,index_dtype", [("first", np.int32), ("last", np.uint16)])
def test_cuda_max_unpool_inverts_max_pool(layout, index_dtype):
    from numba import cuda
    x = rand((1, 3, 6, 7), np.float32, 3)
    xin = to_channels_last(x) if layout == "last" else x
    kw = dict(layout="NHWC") if layout == "last" else {}
    pooled, indices = numbaconv.max_pool2d(cuda.to_device(xin), 2, return_indices=True, **kw)
    small = cuda.to_device(host(indices).astype(index_dtype))
    out = cuda.device_array(xin.shape, np.float32)
    assert numbaconv.max_unpool2d(pooled, small, 2, output_size=(6, 7), out=out, stream=cuda.stream(), **kw) is out
    got = to_channels_first(host(out)) if layout == "last" else host(out)
    want = np.zeros_like(x)
    windows = x[:, :, :6, :6].reshape(1, 3, 3, 2, 3, 2)
    top = windows.max(axis=(3, 5), keepdims=True)
    want[:, :, :6, :6] = np.where(windows == top, windows, 0).reshape(1, 3, 6, 6)
    np.testing.assert_array_equal(got, want)


X = np.zeros((1, 2, 3, 3), np.float32)
IDX = np.zeros((1, 2, 3, 3), np.int64)


@pytest.mark.parametrize("indices,err,match", [
    (IDX.astype(np.float32), TypeError, r"max_unpool2d: indices dtype float32 must be an integer dtype"),
    (np.zeros((1, 2, 2, 3), np.int64), ValueError,
     r"max_unpool2d: indices.shape=\(1, 2, 2, 3\) must equal x.shape=\(1, 2, 3, 3\)"),
    (IDX - 1, ValueError, r"max_unpool2d: indices\[0, 0, 0, 0\]=-1 is outside \[0, 36\): indices are flat "
                          r"positions within each \(n, c\) plane of the \(6, 6\) output"),
    (np.where(np.arange(18).reshape(IDX.shape) == 13, 36, IDX), ValueError,
     r"max_unpool2d: indices\[0, 1, 1, 1\]=36 is outside \[0, 36\)"),
    (np.where(np.arange(18).reshape(IDX.shape) >= 16, -7, IDX).astype(np.int8), ValueError,
     r"max_unpool2d: indices\[0, 1, 2, 1\]=-7 is outside"),
    (np.full(IDX.shape, 2**64 - 1, np.uint64), ValueError,
     r"max_unpool2d: indices\[0, 0, 0, 0\]=18446744073709551615 is outside \[0, 36\)"),
])
def test_cuda_max_unpool_hostile_indices_fail_before_any_write(indices, err, match, dev):
    """Checked before the unpooling kernels run: the out= array keeps its contents."""
    from numba import cuda
    out = cuda.to_device(np.full((1, 2, 6, 6), 5.0, np.float32))
    with pytest.raises(err, match=match):
        numbaconv.max_unpool2d(dev(X), dev(indices), 2, out=out)
    assert (host(out) == 5.0).all()


def test_cuda_max_unpool_hostile_index_in_a_strided_channels_last_view(dev):
    idx = np.zeros((1, 3, 3, 4), np.int64)  # NHWC, every other channel used
    idx[0, 2, 1, 2] = 40
    view = dev(idx)[:, :, :, ::2]
    with pytest.raises(ValueError, match=r"max_unpool2d: indices\[0, 2, 1, 1\]=40 is outside \[0, 36\)"):
        numbaconv.max_unpool2d(dev(np.zeros((1, 3, 3, 2), np.float32)), view, 2, layout="NHWC")


def test_cuda_max_unpool_first_outside_index_across_blocks(dev):
    """200 indices over 7 blocks of 32 threads: the reduction returns the first bad one in C order."""
    idx = np.zeros((1, 2, 10, 10), np.int64)
    idx[0, 1, 9, 9], idx[0, 1, 7, 3], idx[0, 1, 5, 0] = -1, 400, 401
    x = dev(np.ones(idx.shape, np.float32))
    with pytest.raises(ValueError, match=r"max_unpool2d: indices\[0, 1, 5, 0\]=401 is outside \[0, 400\)"):
        numbaconv.max_unpool2d(x, dev(idx), 2)
    idx[0, 1, 5, 0] = 399
    got = host(numbaconv.max_unpool2d(x, dev(np.where(idx == 400, 0, np.where(idx < 0, 3, idx))), 2))
    assert got[0, 0, 0, 0] == 1 and got[0, 1].ravel()[[0, 3, 399]].tolist() == [1, 1, 1]
    assert got.sum() == 4


# ---- unpool and interpolate ----

@pytest.mark.parametrize("layout", ["first", "last"])
@pytest.mark.parametrize("mode", ["nearest", "bed_of_nails"])
@pytest.mark.parametrize("i,case", list(enumerate(UNPOOL_CASES)), ids=[c[0] for c in UNPOOL_CASES])
def test_cuda_unpool_matches_reference(i, case, mode, layout):
    name, shape, scale = case
    nd = len(shape) - 2
    dtype = COPY_DTYPES[(i + 2 * (mode == "nearest") + (layout == "last")) % len(COPY_DTYPES)]
    x = values((1,) + shape[1:], dtype, 4)
    got = run(UNPOOL[nd], nd, layout, x, scale, mode=mode)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, ref.unpool(x, scale, mode))


@pytest.mark.parametrize("mode", ["nearest", "nearest_exact"])
@pytest.mark.parametrize("i,case", list(enumerate(INTERPOLATE_CASES)), ids=[c[0] for c in INTERPOLATE_CASES])
def test_cuda_interpolate_matches_reference(i, case, mode):
    name, shape, kw = case
    nd = len(shape) - 2
    layout = ["first", "last"][(i + (mode == "nearest")) % 2]
    dtype = [np.float32, np.int8, np.float64, np.bool_][i % 4]
    x = values((1,) + shape[1:], dtype, 5)
    got = run(numbaconv.interpolate, nd, layout, x, mode=mode, **kw)
    if "size" in kw:
        out_spatial = np.broadcast_to(kw["size"], (nd,))
    else:
        out_spatial = [int(np.floor(n * f)) for n, f in zip(shape[2:], np.broadcast_to(kw["scale_factor"], (nd,)))]
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, ref.interpolate_nearest(x, out_spatial, kw.get("scale_factor"),
                                                               exact=mode == "nearest_exact"))


def test_cuda_unpool_interpolate_out_strided_and_empty(dev):
    from numba import cuda
    x = rand((1, 2, 8, 10), np.float64, 7)
    strided, sub = dev(x)[:, :, ::2, 1::2], x[:, :, ::2, 1::2]
    out = cuda.device_array((1, 2, 8, 10), np.float64)
    assert numbaconv.unpool2d(strided, 2, out=out, stream=cuda.stream()) is out
    np.testing.assert_array_equal(host(out), ref.unpool(sub, 2))
    out = cuda.device_array((1, 2, 6, 7), np.float64)
    assert numbaconv.interpolate(strided, size=(6, 7), out=out) is out
    np.testing.assert_array_equal(host(out), ref.interpolate_nearest(sub, (6, 7)))
    bits = np.array([[[0x7FC00001, 1]]], np.uint32).view(np.float32)  # a NaN with a payload moves bit for bit
    np.testing.assert_array_equal(host(numbaconv.unpool1d(dev(bits), 2)).view(np.uint32),
                                  [[[0x7FC00001, 0x7FC00001, 1, 1]]])
    assert numbaconv.unpool2d(dev(np.zeros((0, 2, 3, 3), np.float32)), 2).shape == (0, 2, 6, 6)
    assert numbaconv.interpolate(dev(np.zeros((0, 2, 3), np.int8)), size=4).shape == (0, 2, 4)


# ---- errors ----

def test_cuda_mixing_and_out_errors(dev):
    from numba import cuda
    x, idx = dev(X), dev(IDX)
    with pytest.raises(TypeError, match=r"max_pool2d: out is a host \(NumPy\) array but x is a CUDA array"):
        numbaconv.max_pool2d(x, 2, out=np.zeros((1, 2, 1, 1), np.float32))
    with pytest.raises(TypeError, match=r"max_pool2d: out_indices is a host \(NumPy\) array but x is a CUDA array"):
        numbaconv.max_pool2d(x, 2, return_indices=True,
                             out=(cuda.device_array((1, 2, 1, 1), np.float32), np.zeros((1, 2, 1, 1), np.int64)))
    with pytest.raises(TypeError, match=r"max_pool2d: out.dtype=int32 must equal the result dtype int64"):
        numbaconv.max_pool2d(x, 2, return_indices=True,
                             out=(cuda.device_array((1, 2, 1, 1), np.float32), cuda.device_array((1, 2, 1, 1),
                                                                                                 np.int32)))
    with pytest.raises(ValueError, match=r"avg_pool2d: out overlaps x"):
        numbaconv.avg_pool2d(x, 1, out=x)
    with pytest.raises(ValueError, match=r"avg_pool2d: out.shape=\(1, 2, 2, 2\) must equal the result shape "
                                         r"\(1, 2, 1, 1\)"):
        numbaconv.avg_pool2d(x, 2, out=cuda.device_array((1, 2, 2, 2), np.float32))
    with pytest.raises(TypeError, match=r"avg_pool2d: integer input \(int64\) needs an explicit accumulate dtype"):
        numbaconv.avg_pool2d(idx, 2)
    with pytest.raises(TypeError, match=r"max_unpool2d: x is a host \(NumPy\) array but indices is a CUDA array"):
        numbaconv.max_unpool2d(X, idx, 2)
    with pytest.raises(ValueError, match=r"max_unpool2d: out overlaps x"):
        one = dev(np.zeros((1, 1, 1, 2), np.float32))
        numbaconv.max_unpool2d(one, dev(np.zeros((1, 1, 1, 2), np.int64)), 1, out=one)
    with pytest.raises(TypeError, match=r"unpool2d: out is a host \(NumPy\) array but x is a CUDA array"):
        numbaconv.unpool2d(x, 2, out=np.zeros((1, 2, 6, 6), np.float32))
    with pytest.raises(ValueError, match=r"interpolate: out must be C-contiguous"):
        numbaconv.interpolate(x, size=2, out=cuda.device_array((1, 2, 2, 4), np.float32)[:, :, :, ::2])
    with pytest.raises(TypeError, match=r"unpool2d: input dtype complex64 is not supported"):
        numbaconv.unpool2d(dev(X.astype(np.complex64)), 2)
