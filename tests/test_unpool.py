"""Unpooling and upsampling against tests/reference.py over shape cases x options x dtypes x layouts, on the CPU
and CUDA backends (CUDA: batch-1 cases, small blocks)."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import numbaconv

import reference as ref
from helpers import (
    BACKEND_SETTINGS,
    LAYOUT_LAST,
    LAYOUTS,
    full,
    over_backends,
    rand,
    run,
    sized,
    to_backend,
    to_channels_first,
    to_channels_last,
    to_host,
)

MAX_POOL = {1: numbaconv.max_pool1d, 2: numbaconv.max_pool2d, 3: numbaconv.max_pool3d}
MAX_UNPOOL = {1: numbaconv.max_unpool1d, 2: numbaconv.max_unpool2d, 3: numbaconv.max_unpool3d}
UNPOOL = {1: numbaconv.unpool1d, 2: numbaconv.unpool2d, 3: numbaconv.unpool3d}
# max_unpool compares values (float16 in float32: test_unpool_float16); the copy kernels move 1-, 2-, 4- and
# 8-byte words whatever the type.
MAX_UNPOOL_DTYPES = [np.float32, np.float64, np.int32]
COPY_DTYPES = [np.int16, np.float32, np.float64, np.int8, np.bool_]


def values(shape, dtype, seed):
    """Random values of `dtype`, with negatives and repeats where the dtype has them."""
    rng = np.random.default_rng(seed)
    if np.dtype(dtype) == np.bool_:
        return rng.integers(0, 2, shape).astype(bool)
    if np.dtype(dtype).kind in "iu":
        return rng.integers(-5, 6, shape).astype(dtype)
    return (rng.integers(-8, 9, shape) * 0.25).astype(dtype)


MAX_UNPOOL_CASES = [
    # (name, x shape, kw, output spatial size)
    ("1d_default", (2, 3, 5), dict(kernel_size=2), (10,)),
    ("1d_output_size_plus_one", (1, 2, 4), dict(kernel_size=3, stride=2, padding=1, output_size=(8,)), (8,)),
    ("2d_default_pad", (2, 2, 3, 4), dict(kernel_size=3, stride=2, padding=1), (5, 7)),
    (
        "2d_pairs_full_shape",
        (1, 3, 3, 3),
        dict(kernel_size=(2, 3), stride=2, padding=((1, 0), (0, 1)), output_size=(1, 3, 5, 5)),
        (5, 5),
    ),
    ("2d_ceil_smaller", (1, 2, 3, 3), dict(kernel_size=2, output_size=(5, 5)), (5, 5)),
    ("3d", (1, 2, 2, 3, 2), dict(kernel_size=2, stride=(1, 2, 2)), (3, 6, 4)),
]


def max_unpool_case(case, dtype, layout, backend, seed=1):
    """Values and random indices (many duplicates) of a case, the keywords in `layout`, the reference."""
    _, shape, kw, out_spatial = case
    nd = len(shape) - 2
    x = values(sized(shape, backend), dtype, seed)
    indices = np.random.default_rng(2).integers(0, math.prod(out_spatial), x.shape)
    if layout == "last" and "output_size" in kw and len(kw["output_size"]) == nd + 2:
        n, c, *spatial = kw["output_size"]
        kw = {**kw, "output_size": (n, *spatial, c)}
    return x, indices, kw, ref.max_unpool(x, indices, out_spatial)


# CPU: every case x dtype x layout; CUDA: every case in both layouts, the dtypes in turn.
@over_backends(
    "case,dtype,layout",
    [(c, d, lay) for c in MAX_UNPOOL_CASES for d in MAX_UNPOOL_DTYPES for lay in LAYOUTS],
    [(c, MAX_UNPOOL_DTYPES[(i + j) % 3], lay) for i, c in enumerate(MAX_UNPOOL_CASES) for j, lay in enumerate(LAYOUTS)],
)
def test_max_unpool_matches_reference(backend, case, dtype, layout):
    """Random indices with many duplicates: every plane keeps the largest value at each index."""
    x, indices, kw, want = max_unpool_case(case, dtype, layout, backend)
    got = run(backend, MAX_UNPOOL[x.ndim - 2], x, indices, layout=layout, layout_args=2, **kw)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, want)


def test_unpool_float16(backend):
    """float16 once per op: max_unpool (compared in float32) in both layouts, unpool and interpolate."""
    for case, layout in [(MAX_UNPOOL_CASES[2], "first"), (MAX_UNPOOL_CASES[3], "last")]:
        x, indices, kw, want = max_unpool_case(case, np.float16, layout, backend)
        got = run(backend, MAX_UNPOOL[x.ndim - 2], x, indices, layout=layout, layout_args=2, **kw)
        assert got.dtype == np.float16
        np.testing.assert_array_equal(got, want)
    x = values(sized((2, 2, 3, 4), backend), np.float16, 4)
    for mode, layout in [("nearest", "first"), ("bed_of_nails", "last")]:
        got = run(backend, numbaconv.unpool2d, x, 2, layout=layout, mode=mode)
        assert got.dtype == np.float16
        np.testing.assert_array_equal(got, ref.unpool(x, 2, mode))
    got = run(backend, numbaconv.interpolate, x, layout="last", size=(5, 7))
    assert got.dtype == np.float16
    np.testing.assert_array_equal(got, ref.interpolate_nearest(x, (5, 7)))


def test_max_unpool_duplicates_keep_largest_first_and_nan(backend):
    x = np.array([-3.0, -1.0, -2.0, 0.0, -0.0, 7.0, np.nan, 8.0, -0.0, 0.0]).reshape(1, 1, 2, 5)
    idx = np.array([0, 0, 0, 1, 1, 2, 2, 2, 3, 3]).reshape(1, 1, 2, 5)
    got = run(backend, numbaconv.max_unpool2d, x, idx, 1).ravel()
    np.testing.assert_array_equal(got, [-1.0, 0.0, np.nan, -0.0, 0, 0, 0, 0, 0, 0])
    assert np.signbit(got[1:4]).tolist() == [False, False, True]  # the first of equal values stays
    for index_dtype in (np.int64, np.uint8):
        ints = run(
            backend, numbaconv.max_unpool1d, np.array([[[-4, -9, -2]]], np.int32), np.zeros((1, 1, 3), index_dtype), 2
        )
        assert ints.tolist() == [[[-2, 0, 0, 0, 0, 0]]]


@over_backends(
    "layout,index_dtype",
    [(lay, d) for lay in LAYOUTS for d in (np.int32, np.uint16, np.int64)],
    [("first", np.int32), ("last", np.uint16)],
)
def test_max_unpool_inverts_max_pool(backend, layout, index_dtype):
    n = 2 if backend == "cpu" else 1
    x = rand((n, 3, 6, 7), np.float64, 3)
    pooled, indices = run(backend, numbaconv.max_pool2d, x, 2, layout=layout, return_indices=True)
    last = layout == "last"
    out = full(backend, to_channels_last(x).shape if last else x.shape, np.nan, np.float64)
    got = numbaconv.max_unpool2d(
        to_backend(backend, pooled, last),
        to_backend(backend, indices.astype(index_dtype), last),
        2,
        output_size=(6, 7),
        out=out,
        **(dict(layout="NHWC") if last else {}),
    )
    assert got is out
    want = np.zeros_like(x)
    windows = x[:, :, :6, :6].reshape(n, 3, 3, 2, 3, 2)
    top = windows.max(axis=(3, 5), keepdims=True)
    want[:, :, :6, :6] = np.where(windows == top, windows, 0).reshape(n, 3, 6, 6)
    np.testing.assert_array_equal(to_host(backend, out, last), want)


@BACKEND_SETTINGS
@given(data=st.data())
def test_unpool_of_pool_keeps_exactly_the_maxima(backend, data):
    nd = data.draw(st.integers(1, 3 if backend == "cpu" else 1))
    spatial = data.draw(st.lists(st.integers(1, 6), min_size=nd, max_size=nd))
    kernel = [data.draw(st.integers(1, n)) for n in spatial]
    stride = data.draw(st.one_of(st.just(kernel), st.lists(st.integers(1, 3), min_size=nd, max_size=nd)))
    pads = [data.draw(st.integers(0, (k - 1) // 2)) for k in kernel]
    layout = data.draw(st.sampled_from(LAYOUTS))
    x = rand(sized((2, 2, *spatial), backend), np.float64, data.draw(st.integers(0, 100)))
    pooled, indices = ref.max_pool(x, kernel, stride, pads)
    pooled_got, indices_got = run(backend, MAX_POOL[nd], x, kernel, stride, pads, layout=layout, return_indices=True)
    np.testing.assert_array_equal(indices_got, indices)
    got = run(
        backend,
        MAX_UNPOOL[nd],
        pooled_got,
        indices_got,
        kernel,
        stride,
        pads,
        layout=layout,
        layout_args=2,
        output_size=spatial,
    )
    kept = np.zeros(x.shape, bool)
    for n in range(x.shape[0]):
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


# CPU: every case x mode x dtype x layout; CUDA: every case x mode x layout, the dtypes in turn.
@over_backends(
    "case,mode,dtype,layout",
    [(c, m, d, lay) for c in UNPOOL_CASES for m in ("nearest", "bed_of_nails") for d in COPY_DTYPES for lay in LAYOUTS],
    [
        (c, m, COPY_DTYPES[(i + 2 * (m == "nearest") + j) % len(COPY_DTYPES)], lay)
        for i, c in enumerate(UNPOOL_CASES)
        for m in ("nearest", "bed_of_nails")
        for j, lay in enumerate(LAYOUTS)
    ],
)
def test_unpool_matches_reference(backend, case, mode, dtype, layout):
    _, shape, scale = case
    x = values(sized(shape, backend), dtype, 4)
    got = run(backend, UNPOOL[len(shape) - 2], x, scale, layout=layout, mode=mode)
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


# CPU: every case x mode x dtype x layout; CUDA: every case x mode, the layouts and four dtypes in turn.
@over_backends(
    "case,mode,dtype,layout",
    [
        (c, m, d, lay)
        for c in INTERPOLATE_CASES
        for m in ("nearest", "nearest_exact")
        for d in (np.float32, np.int8)
        for lay in LAYOUTS
    ],
    [
        (c, m, [np.float32, np.int8, np.float64, np.bool_][i % 4], LAYOUTS[(i + (m == "nearest")) % 2])
        for i, c in enumerate(INTERPOLATE_CASES)
        for m in ("nearest", "nearest_exact")
    ],
)
def test_interpolate_matches_reference(backend, case, mode, dtype, layout):
    _, shape, kw = case
    nd = len(shape) - 2
    x = values(sized(shape, backend), dtype, 5)
    got = run(backend, numbaconv.interpolate, x, layout=layout, mode=mode, **kw)
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


def test_out_argument_and_non_contiguous_input(backend):
    """Strided views (of a device array on CUDA) into `out=` arrays; NaN payloads move bit for bit; empty
    batches."""
    big = rand(sized((2, 3, 8, 10), backend), np.float64, 7)
    x, sub = to_backend(backend, big)[:, :, ::2, 1::2], big[:, :, ::2, 1::2]
    n = big.shape[0]
    out = full(backend, (n, 3, 8, 10), np.nan, np.float64)
    assert numbaconv.unpool2d(x, 2, out=out) is out
    np.testing.assert_array_equal(to_host(backend, out), ref.unpool(sub, 2))
    out = full(backend, (n, 3, 6, 7), np.nan, np.float64)
    assert numbaconv.interpolate(x, size=(6, 7), out=out) is out
    np.testing.assert_array_equal(to_host(backend, out), ref.interpolate_nearest(sub, (6, 7)))
    pooled, idx = numbaconv.max_pool2d(x, 2, return_indices=True)
    out = full(backend, (n, 3, 4, 5), np.nan, np.float64)
    assert numbaconv.max_unpool2d(pooled, idx, 2, output_size=(4, 5), out=out) is out
    np.testing.assert_array_equal(
        to_host(backend, out), ref.max_unpool(to_host(backend, pooled), to_host(backend, idx), (4, 5))
    )
    bits = np.array([[[0x7FC00001, 1]]], np.uint32).view(np.float32)  # a NaN with a payload moves bit for bit
    np.testing.assert_array_equal(
        run(backend, numbaconv.unpool1d, bits, 2).view(np.uint32), [[[0x7FC00001, 0x7FC00001, 1, 1]]]
    )
    assert numbaconv.unpool2d(to_backend(backend, np.zeros((0, 2, 3, 3), np.float32)), 2).shape == (0, 2, 6, 6)
    assert numbaconv.interpolate(to_backend(backend, np.zeros((0, 2, 3), np.int8)), size=4).shape == (0, 2, 4)


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
        for kw in [
            dict(size=tuple(range(3, 3 + nd))),
            dict(size=tuple(range(11, 11 + nd))),
            dict(scale_factor=0.7),
            dict(scale_factor=2.5),
            dict(scale_factor=1 / 3),
            dict(scale_factor=3),
        ]:
            for mode in ("nearest", "nearest-exact"):
                want = functional.interpolate(torch.from_numpy(y), mode=mode, **kw).numpy()
                np.testing.assert_array_equal(numbaconv.interpolate(y, mode=mode, **kw), want)
                got = numbaconv.interpolate(to_channels_last(y), mode=mode, layout=LAYOUT_LAST[nd], **kw)
                np.testing.assert_array_equal(to_channels_first(got), want)


X = np.zeros((1, 2, 3, 3), np.float32)
IDX = np.zeros((1, 2, 3, 3), np.int64)


@pytest.mark.parametrize(
    "call_,err,match",
    [
        (
            lambda: numbaconv.max_unpool2d(X, IDX.astype(np.float32), 2),
            TypeError,
            r"max_unpool2d: indices dtype float32 must be an integer dtype \(max_pool2d with return_indices=True gives "
            r"int64\)",
        ),
        (
            lambda: numbaconv.max_unpool2d(X, IDX.astype(bool), 2),
            TypeError,
            r"max_unpool2d: indices dtype bool must be",
        ),
        (
            lambda: numbaconv.max_unpool2d(X, IDX[:, :, :2], 2),
            ValueError,
            r"max_unpool2d: indices.shape=\(1, 2, 2, 3\) must equal x.shape=\(1, 2, 3, 3\)",
        ),
        (
            lambda: numbaconv.max_unpool2d(X, IDX - 1, 2),
            ValueError,
            r"max_unpool2d: indices\[0, 0, 0, 0\]=-1 is outside \[0, 36\): indices are flat positions within each "
            r"\(n, c\) plane of the \(6, 6\) output",
        ),
        (
            lambda: numbaconv.max_unpool2d(X, IDX + np.eye(3, dtype=np.int64) * 36, 2),
            ValueError,
            r"max_unpool2d: indices\[0, 0, 0, 0\]=36 is outside \[0, 36\)",
        ),
        (
            lambda: numbaconv.max_unpool2d(X, np.full(IDX.shape, 2**64 - 1, np.uint64), 2),
            ValueError,
            r"max_unpool2d: indices\[0, 0, 0, 0\]=18446744073709551615 is outside \[0, 36\)",
        ),
        (
            lambda: numbaconv.max_unpool2d(X, IDX, 2, output_size=(8, 6)),
            ValueError,
            r"max_unpool2d: output_size=\(8, 6\) cannot come from this input: along spatial dim 0 it must lie strictly "
            r"between default - stride = 4 and default \+ stride = 8, where default = \(in - 1\) \* stride - pad_lo - "
            r"pad_hi \+ kernel = 6 \(in=3, stride=2, pad=\(0, 0\), kernel=2\)",
        ),
        (
            lambda: numbaconv.max_unpool2d(X, IDX, 2, output_size=(6, 8)),
            ValueError,
            r"max_unpool2d: output_size=\(6, 8\) cannot come from this input: along spatial dim 1",
        ),
        (
            lambda: numbaconv.max_unpool2d(X, IDX, 2, output_size=(6, 4)),
            ValueError,
            r"along spatial dim 1 it must lie strictly between default - stride = 4",
        ),
        (
            lambda: numbaconv.max_unpool2d(X, IDX, 2, output_size=(6,)),
            TypeError,
            r"max_unpool2d: output_size=\(6,\) must be 2 ints \(the spatial size\) or 4 ints \(the full shape in NCHW\)",
        ),
        (
            lambda: numbaconv.max_unpool2d(X, IDX, 2, output_size=(1, 3, 6, 6)),
            ValueError,
            r"max_unpool2d: output_size=\(1, 3, 6, 6\) \(NCHW\) has batch and channels \(1, 3\) but x has \(1, 2\)",
        ),
        (
            lambda: numbaconv.max_unpool2d(X, IDX, 2, padding="same"),
            ValueError,
            r"max_unpool2d: padding='same': a padding string depends on the size of the pooled input",
        ),
        (
            lambda: numbaconv.max_unpool2d(X[:, :, :1], IDX[:, :, :1], 1, padding=1),
            ValueError,
            r"max_unpool2d: output size -1 < 1 along spatial dim 0: \(in - 1\) \* stride - pad_lo - pad_hi \+ kernel "
            r"with in=1, stride=1, pad=\(1, 1\), kernel=1",
        ),
        (lambda: numbaconv.max_unpool2d(X.astype(bool), IDX, 2), TypeError, r"max_unpool2d: input dtype bool"),
        (
            lambda: numbaconv.max_unpool2d(X[:, :, :0], IDX[:, :, :0], 2),
            ValueError,
            r"max_unpool2d: input shape \(1, 2, 0, 3\) \(NCHW\) must have non-empty spatial dims",
        ),
        (lambda: numbaconv.max_unpool2d(X, IDX, 0), ValueError, r"max_unpool2d: kernel_size=0 must be positive"),
        (
            lambda: numbaconv.max_unpool1d(X, IDX, 2),
            ValueError,
            r"max_unpool1d: input must be 3-d \(NCW\) or 2-d unbatched, got 4-d",
        ),
        (lambda: numbaconv.max_unpool2d(X, IDX.tolist(), 2), TypeError, r"max_unpool2d: indices must be a NumPy array"),
        (
            lambda: numbaconv.max_unpool2d(X, IDX, 2, out=np.zeros((1, 2, 6, 6))),
            TypeError,
            r"max_unpool2d: out.dtype=float64 must equal the result dtype float32",
        ),
        (
            lambda: numbaconv.max_unpool2d(X, IDX, 2, stream=0),
            ValueError,
            r"max_unpool2d: stream=0 applies to CUDA arrays only; these are NumPy arrays",
        ),
        (lambda: numbaconv.unpool2d(X, 2, stream=0), ValueError, r"unpool2d: stream=0 applies to CUDA arrays only"),
        (
            lambda: numbaconv.interpolate(X, size=2, stream=0),
            ValueError,
            r"interpolate: stream=0 applies to CUDA arrays only",
        ),
        (lambda: numbaconv.unpool2d(X, 0), ValueError, r"unpool2d: scale_factor=0 must be positive"),
        (
            lambda: numbaconv.unpool2d(X, 1.5),
            TypeError,
            r"unpool2d: scale_factor=1.5 must be an int or a sequence of 2",
        ),
        (
            lambda: numbaconv.unpool2d(X, 2, mode="bilinear"),
            ValueError,
            r"unpool2d: mode='bilinear' is not one of 'nearest', 'bed_of_nails'",
        ),
        (
            lambda: numbaconv.unpool2d(X.astype(np.complex64), 2),
            TypeError,
            r"unpool2d: input dtype complex64 is not supported; use a bool, integer or float dtype of 1, 2, 4 or 8 bytes",
        ),
        (
            lambda: numbaconv.unpool2d(X, 2, layout="NDHWC"),
            ValueError,
            r"unpool2d: layout='NDHWC' must be 'NCHW' or 'NHWC' for 2-d input",
        ),
        (
            lambda: numbaconv.unpool3d(X[0], 2),
            ValueError,
            r"unpool3d: input must be 5-d \(NCDHW\) or 4-d unbatched, got 3-d",
        ),
        (
            lambda: numbaconv.unpool2d(X, 2, out=np.zeros((1, 2, 6, 5), np.float32)),
            ValueError,
            r"unpool2d: out.shape=\(1, 2, 6, 5\) must equal the result shape \(1, 2, 6, 6\)",
        ),
        (
            lambda: numbaconv.interpolate(X, size=4, scale_factor=2),
            ValueError,
            r"interpolate: pass exactly one of size and scale_factor \(got size=4, scale_factor=2\)",
        ),
        (lambda: numbaconv.interpolate(X), ValueError, r"interpolate: pass exactly one of size and scale_factor"),
        (
            lambda: numbaconv.interpolate(X, size=4, mode="area"),
            ValueError,
            r"interpolate: mode='area' is not one of 'nearest', 'nearest_exact', 'linear', 'bilinear', 'bicubic', "
            r"'trilinear'",
        ),
        (lambda: numbaconv.interpolate(X, size=(4, 0)), ValueError, r"interpolate: size=\(4, 0\) must be positive"),
        (
            lambda: numbaconv.interpolate(X, scale_factor=-2.0),
            ValueError,
            r"interpolate: scale_factor=-2.0 must be positive and finite",
        ),
        (
            lambda: numbaconv.interpolate(X, scale_factor=(2.0, float("inf"))),
            ValueError,
            r"interpolate: scale_factor=\(2.0, inf\) must be positive and finite",
        ),
        (
            lambda: numbaconv.interpolate(X, scale_factor="2"),
            TypeError,
            r"interpolate: scale_factor='2' must be a number or a sequence of 2 numbers",
        ),
        (
            lambda: numbaconv.interpolate(X, scale_factor=0.3),
            ValueError,
            r"interpolate: scale_factor=0.3 gives output size floor\(3 \* 0.3\) = 0 < 1 along spatial dim 0",
        ),
        (
            lambda: numbaconv.interpolate(X[0, 0], size=2),
            ValueError,
            r"interpolate: input must be 3-, 4- or 5-d \(N, C, \*spatial\), got 2-d shape \(3, 3\)",
        ),
        (
            lambda: numbaconv.interpolate(np.zeros((1, 1, 0)), size=2),
            ValueError,
            r"interpolate: input shape \(1, 1, 0\) \(NCW\) must have non-empty spatial dims",
        ),
        (lambda: numbaconv.interpolate(X, size=2, out=X), ValueError, r"interpolate: out.shape=\(1, 2, 3, 3\) must"),
        (lambda: numbaconv.interpolate(X, size=3, out=X), ValueError, r"interpolate: out overlaps x"),
    ],
)
def test_errors(call_, err, match):
    with pytest.raises(err, match=match):
        call_()


# ---- CUDA only ----


@pytest.mark.cuda
@pytest.mark.usefixtures("small_blocks")
def test_cuda_stream_argument(dev):
    from numba import cuda

    x = rand((1, 3, 6, 7), np.float32, 3)
    pooled, indices = numbaconv.max_pool2d(dev(x), 2, return_indices=True)
    out = cuda.device_array(x.shape, np.float32)
    assert numbaconv.max_unpool2d(pooled, indices, 2, output_size=(6, 7), out=out, stream=cuda.stream()) is out
    np.testing.assert_array_equal(
        to_host("cuda", out), ref.max_unpool(pooled.copy_to_host(), indices.copy_to_host(), (6, 7))
    )
    out = cuda.device_array((1, 3, 12, 14), np.float32)
    assert numbaconv.unpool2d(dev(x), 2, out=out, stream=cuda.stream()) is out
    np.testing.assert_array_equal(to_host("cuda", out), ref.unpool(x, 2))


@pytest.mark.parametrize(
    "indices,err,match",
    [
        (IDX.astype(np.float32), TypeError, r"max_unpool2d: indices dtype float32 must be an integer dtype"),
        (
            np.zeros((1, 2, 2, 3), np.int64),
            ValueError,
            r"max_unpool2d: indices.shape=\(1, 2, 2, 3\) must equal x.shape=\(1, 2, 3, 3\)",
        ),
        (
            IDX - 1,
            ValueError,
            r"max_unpool2d: indices\[0, 0, 0, 0\]=-1 is outside \[0, 36\): indices are flat "
            r"positions within each \(n, c\) plane of the \(6, 6\) output",
        ),
        (
            np.where(np.arange(18).reshape(IDX.shape) == 13, 36, IDX),
            ValueError,
            r"max_unpool2d: indices\[0, 1, 1, 1\]=36 is outside \[0, 36\)",
        ),
        (
            np.where(np.arange(18).reshape(IDX.shape) >= 16, -7, IDX).astype(np.int8),
            ValueError,
            r"max_unpool2d: indices\[0, 1, 2, 1\]=-7 is outside",
        ),
        (
            np.full(IDX.shape, 2**64 - 1, np.uint64),
            ValueError,
            r"max_unpool2d: indices\[0, 0, 0, 0\]=18446744073709551615 is outside \[0, 36\)",
        ),
    ],
)
@pytest.mark.cuda
@pytest.mark.usefixtures("small_blocks")
def test_cuda_max_unpool_hostile_indices_fail_before_any_write(indices, err, match, dev):
    """Checked on the device before the unpooling kernels run: the out= array keeps its contents."""
    from numba import cuda

    out = cuda.to_device(np.full((1, 2, 6, 6), 5.0, np.float32))
    with pytest.raises(err, match=match):
        numbaconv.max_unpool2d(dev(X), dev(indices), 2, out=out)
    assert (to_host("cuda", out) == 5.0).all()


@pytest.mark.cuda
@pytest.mark.usefixtures("small_blocks")
def test_cuda_max_unpool_hostile_index_in_a_strided_channels_last_view(dev):
    idx = np.zeros((1, 3, 3, 4), np.int64)  # NHWC, every other channel used
    idx[0, 2, 1, 2] = 40
    view = dev(idx)[:, :, :, ::2]
    with pytest.raises(ValueError, match=r"max_unpool2d: indices\[0, 2, 1, 1\]=40 is outside \[0, 36\)"):
        numbaconv.max_unpool2d(dev(np.zeros((1, 3, 3, 2), np.float32)), view, 2, layout="NHWC")


@pytest.mark.cuda
@pytest.mark.usefixtures("small_blocks")
def test_cuda_max_unpool_first_outside_index_across_blocks(dev):
    """200 indices over 7 blocks of 32 threads: the reduction returns the first bad one in C order."""
    idx = np.zeros((1, 2, 10, 10), np.int64)
    idx[0, 1, 9, 9], idx[0, 1, 7, 3], idx[0, 1, 5, 0] = -1, 400, 401
    x = dev(np.ones(idx.shape, np.float32))
    with pytest.raises(ValueError, match=r"max_unpool2d: indices\[0, 1, 5, 0\]=401 is outside \[0, 400\)"):
        numbaconv.max_unpool2d(x, dev(idx), 2)
    idx[0, 1, 5, 0] = 399
    got = to_host("cuda", numbaconv.max_unpool2d(x, dev(np.where(idx == 400, 0, np.where(idx < 0, 3, idx))), 2))
    assert got[0, 0, 0, 0] == 1 and got[0, 1].ravel()[[0, 3, 399]].tolist() == [1, 1, 1]
    assert got.sum() == 4


@pytest.mark.cuda
def test_cuda_mixing_and_out_errors(dev):
    from numba import cuda

    x, idx = dev(X), dev(IDX)
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
