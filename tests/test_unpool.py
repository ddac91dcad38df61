"""Unpooling and upsampling against tests/reference.py over shape cases x options x dtypes x layouts."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import numbaconv
import reference as ref
from helpers import rand, to_channels_first, to_channels_last

MAX_POOL = {1: numbaconv.max_pool1d, 2: numbaconv.max_pool2d, 3: numbaconv.max_pool3d}
MAX_UNPOOL = {1: numbaconv.max_unpool1d, 2: numbaconv.max_unpool2d, 3: numbaconv.max_unpool3d}
UNPOOL = {1: numbaconv.unpool1d, 2: numbaconv.unpool2d, 3: numbaconv.unpool3d}
LAYOUT_LAST = {1: "NWC", 2: "NHWC", 3: "NDHWC"}
# float16 is unpooled in float32; bool, int8 and float16 move as 1- and 2-byte words in the copy kernels.
MAX_UNPOOL_DTYPES = [np.float16, np.float32, np.float64, np.int32]
COPY_DTYPES = [np.float16, np.float32, np.float64, np.int8, np.bool_]


def values(shape, dtype, seed):
    """Random values of `dtype`, with negatives and repeats where the dtype has them."""
    rng = np.random.default_rng(seed)
    if np.dtype(dtype) == np.bool_:
        return rng.integers(0, 2, shape).astype(bool)
    if np.dtype(dtype).kind in "iu":
        return rng.integers(-5, 6, shape).astype(dtype)
    return (rng.integers(-8, 9, shape) * 0.25).astype(dtype)


def call(op, nd, layout, x, *args, **kw):
    """`op` on channels-first arrays in the given layout; the results come back channels-first."""
    if layout == "first":
        return op(x, *args, **kw)
    args = [to_channels_last(a) if isinstance(a, np.ndarray) else a for a in args]
    got = op(to_channels_last(x), *args, layout=LAYOUT_LAST[nd], **kw)
    return tuple(map(to_channels_first, got)) if isinstance(got, tuple) else to_channels_first(got)


MAX_UNPOOL_CASES = [
    # (name, x shape, kw, output spatial size)
    ("1d_default", (2, 3, 5), dict(kernel_size=2), (10,)),
    ("1d_output_size_plus_one", (1, 2, 4), dict(kernel_size=3, stride=2, padding=1, output_size=(8,)), (8,)),
    ("2d_default_pad", (2, 2, 3, 4), dict(kernel_size=3, stride=2, padding=1), (5, 7)),
    ("2d_pairs_full_shape", (1, 3, 3, 3), dict(kernel_size=(2, 3), stride=2, padding=((1, 0), (0, 1)),
                                               output_size=(1, 3, 5, 5)), (5, 5)),
    ("2d_ceil_smaller", (1, 2, 3, 3), dict(kernel_size=2, output_size=(5, 5)), (5, 5)),
    ("3d", (1, 2, 2, 3, 2), dict(kernel_size=2, stride=(1, 2, 2)), (3, 6, 4)),
]


@pytest.mark.parametrize("layout", ["first", "last"])
@pytest.mark.parametrize("dtype", MAX_UNPOOL_DTYPES)
@pytest.mark.parametrize("name,shape,kw,out_spatial", MAX_UNPOOL_CASES, ids=[c[0] for c in MAX_UNPOOL_CASES])
def test_max_unpool_matches_reference(name, shape, kw, out_spatial, dtype, layout):
    """Random indices with many duplicates: every plane keeps the largest value at each index."""
    nd = len(shape) - 2
    x = values(shape, dtype, 1)
    indices = np.random.default_rng(2).integers(0, math.prod(out_spatial), shape)
    if layout == "last" and "output_size" in kw and len(kw["output_size"]) == nd + 2:
        n, c, *spatial = kw["output_size"]
        kw = {**kw, "output_size": (n, *spatial, c)}
    got = call(MAX_UNPOOL[nd], nd, layout, x, indices, **kw)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, ref.max_unpool(x, indices, out_spatial))


def test_max_unpool_duplicates_keep_largest_first_and_nan():
    x = np.array([-3.0, -1.0, -2.0, 0.0, -0.0, 7.0, np.nan, 8.0, -0.0, 0.0]).reshape(1, 1, 2, 5)
    idx = np.array([0, 0, 0, 1, 1, 2, 2, 2, 3, 3]).reshape(1, 1, 2, 5)
    got = numbaconv.max_unpool2d(x, idx, 1).ravel()
    np.testing.assert_array_equal(got, [-1.0, 0.0, np.nan, -0.0, 0, 0, 0, 0, 0, 0])
    assert np.signbit(got[1:4]).tolist() == [False, False, True]  # the first of equal values stays
    ints = numbaconv.max_unpool1d(np.array([[[-4, -9, -2]]], np.int32), np.zeros((1, 1, 3), np.int64), 2)
    assert ints.tolist() == [[[-2, 0, 0, 0, 0, 0]]]


@pytest.mark.parametrize("layout", ["first", "last"])
@pytest.mark.parametrize("index_dtype", [np.int32, np.uint16, np.int64])
def test_max_unpool_inverts_max_pool(layout, index_dtype):
    x = rand((2, 3, 6, 7), np.float64, 3)
    pooled, indices = call(numbaconv.max_pool2d, 2, layout, x, 2, return_indices=True)
    got = call(numbaconv.max_unpool2d, 2, layout, pooled, indices.astype(index_dtype), 2, output_size=(6, 7))
    want = np.zeros_like(x)
    windows = x[:, :, :6, :6].reshape(2, 3, 3, 2, 3, 2)
    top = windows.max(axis=(3, 5), keepdims=True)
    want[:, :, :6, :6] = np.where(windows == top, windows, 0).reshape(2, 3, 6, 6)
    np.testing.assert_array_equal(got, want)


@settings(deadline=None, max_examples=25)
@given(data=st.data())
def test_unpool_of_pool_keeps_exactly_the_maxima(data):
    nd = data.draw(st.integers(1, 3))
    spatial = data.draw(st.lists(st.integers(1, 6), min_size=nd, max_size=nd))
    kernel = [data.draw(st.integers(1, n)) for n in spatial]
    stride = data.draw(st.one_of(st.just(kernel), st.lists(st.integers(1, 3), min_size=nd, max_size=nd)))
    pads = [data.draw(st.integers(0, (k - 1) // 2)) for k in kernel]
    layout = data.draw(st.sampled_from(["first", "last"]))
    x = rand((2, 2, *spatial), np.float64, data.draw(st.integers(0, 100)))
    pooled, indices = ref.max_pool(x, kernel, stride, pads)
    pooled_got, indices_got = call(MAX_POOL[nd], nd, layout, x, kernel, stride, pads, return_indices=True)
    np.testing.assert_array_equal(indices_got, indices)
    got = call(MAX_UNPOOL[nd], nd, layout, pooled_got, indices_got, kernel, stride, pads, output_size=spatial)
    kept = np.zeros(x.shape, bool)
    for n in range(2):
        for c in range(2):
            kept[n, c].flat[indices[n, c].ravel()] = True
    np.testing.assert_array_equal(got, np.where(kept, x, 0))
    if list(stride) == list(kernel) and not any(pads):
        # non-overlapping windows: one maximum per window, in place, and nothing else
        assert kept.sum() == pooled.size


UNPOOL_CASES = [
    ("1d", (2, 3, 5), 3),
    ("2d", (1, 2, 3, 4), 2),
    ("2d_per_dim", (2, 1, 3, 2), (1, 3)),
    ("3d", (1, 2, 2, 3, 2), (2, 1, 3)),
]


@pytest.mark.parametrize("layout", ["first", "last"])
@pytest.mark.parametrize("dtype", COPY_DTYPES)
@pytest.mark.parametrize("mode", ["nearest", "bed_of_nails"])
@pytest.mark.parametrize("name,shape,scale", UNPOOL_CASES, ids=[c[0] for c in UNPOOL_CASES])
def test_unpool_matches_reference(name, shape, scale, mode, dtype, layout):
    nd = len(shape) - 2
    x = values(shape, dtype, 4)
    got = call(UNPOOL[nd], nd, layout, x, scale, mode=mode)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, ref.unpool(x, scale, mode))


INTERPOLATE_CASES = [
    ("1d_up_size", (2, 3, 5), dict(size=13)),
    ("1d_down_scale", (1, 2, 11), dict(scale_factor=0.45)),
    ("2d_size", (1, 2, 5, 7), dict(size=(9, 4))),
    ("2d_scale_2", (2, 1, 3, 4), dict(scale_factor=2)),
    ("2d_scale_fractional", (1, 3, 6, 5), dict(scale_factor=(1.7, 2.5))),
    ("2d_scale_third", (1, 1, 9, 7), dict(scale_factor=1 / 3)),
    ("3d_mixed", (1, 2, 3, 4, 5), dict(scale_factor=(2, 0.5, 1.3))),
    ("3d_size", (1, 1, 4, 3, 2), dict(size=(2, 7, 3))),
]


@pytest.mark.parametrize("layout", ["first", "last"])
@pytest.mark.parametrize("dtype", [np.float32, np.int8])
@pytest.mark.parametrize("mode", ["nearest", "nearest_exact"])
@pytest.mark.parametrize("name,shape,kw", INTERPOLATE_CASES, ids=[c[0] for c in INTERPOLATE_CASES])
def test_interpolate_matches_reference(name, shape, kw, mode, dtype, layout):
    nd = len(shape) - 2
    x = values(shape, dtype, 5)
    got = call(numbaconv.interpolate, nd, layout, x, mode=mode, **kw)
    if "size" in kw:
        out_spatial = np.broadcast_to(kw["size"], (nd,))
    else:
        out_spatial = [int(np.floor(n * f)) for n, f in zip(shape[2:], np.broadcast_to(kw["scale_factor"], (nd,)))]
    want = ref.interpolate_nearest(x, out_spatial, kw.get("scale_factor"), exact=mode == "nearest_exact")
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, want)


def test_interpolate_conventions():
    """Legacy nearest aligns corners (floor(dst * in / out)); nearest_exact aligns pixel centres."""
    x = np.arange(4.0).reshape(1, 1, 4)
    assert numbaconv.interpolate(x, size=3).tolist() == [[[0, 1, 2]]]
    assert numbaconv.interpolate(x, size=3, mode="nearest_exact").tolist() == [[[0, 2, 3]]]
    assert numbaconv.interpolate(x, size=3, mode="nearest-exact").tolist() == [[[0, 2, 3]]]
    # with scale_factor the ratio is 1 / scale_factor, not in / out: 1.6 gives 6 outputs read at dst / 1.6
    assert numbaconv.interpolate(x, scale_factor=1.6).tolist() == [[[0, 0, 1, 1, 2, 3]]]
    assert numbaconv.interpolate(x, size=6).tolist() == [[[0, 0, 1, 2, 2, 3]]]


def test_unpool_and_interpolate_equal_for_integer_scales():
    x = rand((2, 3, 4, 5), np.float32, 6)
    np.testing.assert_array_equal(numbaconv.unpool2d(x, (2, 3)), numbaconv.interpolate(x, scale_factor=(2, 3)))


def test_out_argument_and_non_contiguous_input():
    x = rand((2, 3, 8, 10), np.float64, 7)[:, :, ::2, 1::2]
    out = np.full((2, 3, 8, 10), np.nan)
    assert numbaconv.unpool2d(x, 2, out=out) is out
    np.testing.assert_array_equal(out, ref.unpool(x, 2))
    out = np.full((2, 3, 6, 7), np.nan)
    assert numbaconv.interpolate(x, size=(6, 7), out=out) is out
    np.testing.assert_array_equal(out, ref.interpolate_nearest(x, (6, 7)))
    pooled, idx = numbaconv.max_pool2d(x, 2, return_indices=True)
    out = np.full((2, 3, 4, 5), np.nan)
    assert numbaconv.max_unpool2d(pooled, idx, 2, output_size=(4, 5), out=out) is out
    np.testing.assert_array_equal(out, ref.max_unpool(pooled, idx, (4, 5)))


def test_matches_torch():
    torch = pytest.importorskip("torch")
    functional = torch.nn.functional
    x = rand((2, 3, 7, 9), np.float32, 8)
    for kw in [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1), dict(kernel_size=(2, 3), stride=2)]:
        pooled, idx = functional.max_pool2d(torch.from_numpy(x), return_indices=True, **kw)
        for size in (None, (7, 9)):
            try:
                want = functional.max_unpool2d(pooled, idx, output_size=size, **kw).numpy()
            except RuntimeError:  # an index past the (smaller) default plane: we refuse it too
                with pytest.raises(ValueError, match="is outside"):
                    numbaconv.max_unpool2d(pooled.numpy(), idx.numpy(), output_size=size, **kw)
                continue
            got = numbaconv.max_unpool2d(pooled.numpy(), idx.numpy(), output_size=size, **kw)
            np.testing.assert_array_equal(got, want)
    for shape in [(1, 2, 7), (2, 1, 5, 9), (1, 2, 3, 4, 6)]:
        y = rand(shape, np.float32, 9)
        nd = len(shape) - 2
        for kw in [dict(size=tuple(range(3, 3 + nd))), dict(size=tuple(range(11, 11 + nd))),
                   dict(scale_factor=0.7), dict(scale_factor=2.5), dict(scale_factor=1 / 3), dict(scale_factor=3)]:
            for mode in ("nearest", "nearest-exact"):
                want = functional.interpolate(torch.from_numpy(y), mode=mode, **kw).numpy()
                np.testing.assert_array_equal(numbaconv.interpolate(y, mode=mode, **kw), want)
                got = numbaconv.interpolate(to_channels_last(y), mode=mode, layout=LAYOUT_LAST[nd], **kw)
                np.testing.assert_array_equal(to_channels_first(got), want)


X = np.zeros((1, 2, 3, 3), np.float32)
IDX = np.zeros((1, 2, 3, 3), np.int64)


@pytest.mark.parametrize("call_,err,match", [
    (lambda: numbaconv.max_unpool2d(X, IDX.astype(np.float32), 2), TypeError,
     r"max_unpool2d: indices dtype float32 must be an integer dtype \(max_pool2d with return_indices=True gives "
     r"int64\)"),
    (lambda: numbaconv.max_unpool2d(X, IDX.astype(bool), 2), TypeError, r"max_unpool2d: indices dtype bool must be"),
    (lambda: numbaconv.max_unpool2d(X, IDX[:, :, :2], 2), ValueError,
     r"max_unpool2d: indices.shape=\(1, 2, 2, 3\) must equal x.shape=\(1, 2, 3, 3\)"),
    (lambda: numbaconv.max_unpool2d(X, IDX - 1, 2), ValueError,
     r"max_unpool2d: indices\[0, 0, 0, 0\]=-1 is outside \[0, 36\): indices are flat positions within each "
     r"\(n, c\) plane of the \(6, 6\) output"),
    (lambda: numbaconv.max_unpool2d(X, IDX + np.eye(3, dtype=np.int64) * 36, 2), ValueError,
     r"max_unpool2d: indices\[0, 0, 0, 0\]=36 is outside \[0, 36\)"),
    (lambda: numbaconv.max_unpool2d(X, np.full(IDX.shape, 2**64 - 1, np.uint64), 2), ValueError,
     r"max_unpool2d: indices\[0, 0, 0, 0\]=18446744073709551615 is outside \[0, 36\)"),
    (lambda: numbaconv.max_unpool2d(X, IDX, 2, output_size=(8, 6)), ValueError,
     r"max_unpool2d: output_size=\(8, 6\) cannot come from this input: along spatial dim 0 it must lie strictly "
     r"between default - stride = 4 and default \+ stride = 8, where default = \(in - 1\) \* stride - pad_lo - "
     r"pad_hi \+ kernel = 6 \(in=3, stride=2, pad=\(0, 0\), kernel=2\)"),
    (lambda: numbaconv.max_unpool2d(X, IDX, 2, output_size=(6, 8)), ValueError,
     r"max_unpool2d: output_size=\(6, 8\) cannot come from this input: along spatial dim 1"),
    (lambda: numbaconv.max_unpool2d(X, IDX, 2, output_size=(6, 4)), ValueError,
     r"along spatial dim 1 it must lie strictly between default - stride = 4"),
    (lambda: numbaconv.max_unpool2d(X, IDX, 2, output_size=(6,)), TypeError,
     r"max_unpool2d: output_size=\(6,\) must be 2 ints \(the spatial size\) or 4 ints \(the full shape in NCHW\)"),
    (lambda: numbaconv.max_unpool2d(X, IDX, 2, output_size=(1, 3, 6, 6)), ValueError,
     r"max_unpool2d: output_size=\(1, 3, 6, 6\) \(NCHW\) has batch and channels \(1, 3\) but x has \(1, 2\)"),
    (lambda: numbaconv.max_unpool2d(X, IDX, 2, padding="same"), ValueError,
     r"max_unpool2d: padding='same': a padding string depends on the size of the pooled input"),
    (lambda: numbaconv.max_unpool2d(X[:, :, :1], IDX[:, :, :1], 1, padding=1), ValueError,
     r"max_unpool2d: output size -1 < 1 along spatial dim 0: \(in - 1\) \* stride - pad_lo - pad_hi \+ kernel "
     r"with in=1, stride=1, pad=\(1, 1\), kernel=1"),
    (lambda: numbaconv.max_unpool2d(X.astype(bool), IDX, 2), TypeError, r"max_unpool2d: input dtype bool"),
    (lambda: numbaconv.max_unpool2d(X[:, :, :0], IDX[:, :, :0], 2), ValueError,
     r"max_unpool2d: input shape \(1, 2, 0, 3\) \(NCHW\) must have non-empty spatial dims"),
    (lambda: numbaconv.max_unpool2d(X, IDX, 0), ValueError, r"max_unpool2d: kernel_size=0 must be positive"),
    (lambda: numbaconv.max_unpool1d(X, IDX, 2), ValueError, r"max_unpool1d: input must be 3-d \(NCW\), got 4-d"),
    (lambda: numbaconv.max_unpool2d(X, IDX.tolist(), 2), TypeError, r"max_unpool2d: indices must be a NumPy array"),
    (lambda: numbaconv.max_unpool2d(X, IDX, 2, out=np.zeros((1, 2, 6, 6))), TypeError,
     r"max_unpool2d: out.dtype=float64 must equal the result dtype float32"),
    (lambda: numbaconv.max_unpool2d(X, IDX, 2, stream=0), ValueError,
     r"max_unpool2d: stream=0 applies to CUDA arrays only; these are NumPy arrays"),
    (lambda: numbaconv.unpool2d(X, 2, stream=0), ValueError, r"unpool2d: stream=0 applies to CUDA arrays only"),
    (lambda: numbaconv.interpolate(X, size=2, stream=0), ValueError,
     r"interpolate: stream=0 applies to CUDA arrays only"),
    (lambda: numbaconv.unpool2d(X, 0), ValueError, r"unpool2d: scale_factor=0 must be positive"),
    (lambda: numbaconv.unpool2d(X, 1.5), TypeError, r"unpool2d: scale_factor=1.5 must be an int or a sequence of 2"),
    (lambda: numbaconv.unpool2d(X, 2, mode="bilinear"), ValueError,
     r"unpool2d: mode='bilinear' is not one of 'nearest', 'bed_of_nails'"),
    (lambda: numbaconv.unpool2d(X.astype(np.complex64), 2), TypeError,
     r"unpool2d: input dtype complex64 is not supported; use a bool, integer or float dtype of 1, 2, 4 or 8 bytes"),
    (lambda: numbaconv.unpool2d(X, 2, layout="NDHWC"), ValueError,
     r"unpool2d: layout='NDHWC' must be 'NCHW' or 'NHWC' for 2-d input"),
    (lambda: numbaconv.unpool3d(X, 2), ValueError, r"unpool3d: input must be 5-d \(NCDHW\), got 4-d"),
    (lambda: numbaconv.unpool2d(X, 2, out=np.zeros((1, 2, 6, 5), np.float32)), ValueError,
     r"unpool2d: out.shape=\(1, 2, 6, 5\) must equal the result shape \(1, 2, 6, 6\)"),
    (lambda: numbaconv.interpolate(X, size=4, scale_factor=2), ValueError,
     r"interpolate: pass exactly one of size and scale_factor \(got size=4, scale_factor=2\)"),
    (lambda: numbaconv.interpolate(X), ValueError, r"interpolate: pass exactly one of size and scale_factor"),
    (lambda: numbaconv.interpolate(X, size=4, mode="bilinear"), ValueError,
     r"interpolate: mode='bilinear' is not one of 'nearest', 'nearest_exact'"),
    (lambda: numbaconv.interpolate(X, size=(4, 0)), ValueError, r"interpolate: size=\(4, 0\) must be positive"),
    (lambda: numbaconv.interpolate(X, scale_factor=-2.0), ValueError,
     r"interpolate: scale_factor=-2.0 must be positive and finite"),
    (lambda: numbaconv.interpolate(X, scale_factor=(2.0, float("inf"))), ValueError,
     r"interpolate: scale_factor=\(2.0, inf\) must be positive and finite"),
    (lambda: numbaconv.interpolate(X, scale_factor="2"), TypeError,
     r"interpolate: scale_factor='2' must be a number or a sequence of 2 numbers"),
    (lambda: numbaconv.interpolate(X, scale_factor=0.3), ValueError,
     r"interpolate: scale_factor=0.3 gives output size floor\(3 \* 0.3\) = 0 < 1 along spatial dim 0"),
    (lambda: numbaconv.interpolate(X[0, 0], size=2), ValueError,
     r"interpolate: input must be 3-, 4- or 5-d \(N, C, \*spatial\), got 2-d shape \(3, 3\)"),
    (lambda: numbaconv.interpolate(np.zeros((1, 1, 0)), size=2), ValueError,
     r"interpolate: input shape \(1, 1, 0\) \(NCW\) must have non-empty spatial dims"),
    (lambda: numbaconv.interpolate(X, size=2, out=X), ValueError, r"interpolate: out.shape=\(1, 2, 3, 3\) must"),
    (lambda: numbaconv.interpolate(X, size=3, out=X), ValueError, r"interpolate: out overlaps x"),
])
def test_errors(call_, err, match):
    with pytest.raises(err, match=match):
        call_()
