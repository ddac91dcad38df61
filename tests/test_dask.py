"""numbaconv.dask: every op over dask arrays equals the in-memory call (bit for bit on the direct and gather
kernels), with the chunks and meta it declares, lazily; the rules and rejections; one LocalCluster run (which
also sets its workers up with setup_workers).

Tiny shapes, the synchronous scheduler (one thread test runs the threaded one, for the workqueue guard)."""

import os
import re
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import numbaconv

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
ndask = pytest.importorskip("numbaconv.dask")

from dask.array.utils import assert_eq  # noqa: E402

from helpers import LAYOUT_LAST, rand  # noqa: E402

MODES = ["zeros", "reflect", "replicate", "circular"]
# Bit for bit on the kernels as built; the bounds-checked build (CI's serial pass) compiles the plane kernel's
# rows differently for different row lengths, which moves the last bit of a few sums.
EXACT = dict(rtol=1e-13, atol=1e-13) if os.environ.get("NUMBA_BOUNDSCHECK") == "1" else dict(rtol=0, atol=0)


@pytest.fixture(autouse=True)
def synchronous():
    with dask.config.set(scheduler="synchronous"):
        yield


def chunking(draw, size):
    """Random chunks of one axis: any split, down to chunks of 1 (smaller than any halo)."""
    cuts = draw(st.sets(st.integers(1, size - 1), max_size=4)) if size > 1 else set()
    bounds = [0, *sorted(cuts), size]
    return tuple(int(c) for c in np.diff(bounds))


def as_dask(draw, x):
    return da.from_array(x, chunks=tuple(chunking(draw, n) for n in x.shape))


def padding_form(draw, nd):
    kind = draw(st.sampled_from(["int", "pairs", "valid", "same", "same_lower", "full"]))
    if kind == "int":
        return draw(st.integers(0, 2))
    if kind == "pairs":
        return tuple((draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in range(nd))
    return kind


def layout_of(nd, last):
    return LAYOUT_LAST[nd] if last else None


def to_layout(x, last):
    return np.ascontiguousarray(np.moveaxis(x, 1, -1)) if last else x


@st.composite
def conv_cases(draw):
    nd = draw(st.integers(1, 3))
    groups = draw(st.sampled_from([1, 2]))
    c_in = groups * draw(st.integers(1, 2))
    c_out = groups * draw(st.integers(1, 2))
    spatial = tuple(draw(st.integers(4, 9 if nd < 3 else 6)) for _ in range(nd))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    last = draw(st.booleans())
    x = to_layout(rand((draw(st.integers(1, 3)), c_in, *spatial), seed=draw(st.integers(0, 9))), last)
    kw = dict(
        stride=draw(st.integers(1, 3)),
        dilation=draw(st.integers(1, 2)),
        padding=padding_form(draw, nd),
        padding_mode=draw(st.sampled_from(MODES)),
        groups=groups,
        flip=draw(st.booleans()),
        activation=draw(st.sampled_from([None, "relu", "tanh"])),
        layout=layout_of(nd, last),
    )
    bias = rand((c_out,), seed=1) if draw(st.booleans()) else None
    return nd, x, rand((c_out, c_in // groups, *kernel), seed=2), bias, kw, as_dask(draw, x)


@given(conv_cases())
def test_conv_equals_in_memory_bit_for_bit(case):
    nd, x, w, bias, kw, xd = case
    conv, conv_dask = getattr(numbaconv, f"conv{nd}d"), getattr(ndask, f"conv{nd}d")
    try:
        want = conv(x, w, bias, algorithm="direct", **kw)
    except ValueError as exc:  # a rule of the global call: the dask call raises the same, before any graph
        with pytest.raises(ValueError, match=re.escape(str(exc))):
            conv_dask(xd, w, bias, algorithm="direct", **kw)
        return
    got = conv_dask(xd, w, bias, algorithm="direct", **kw)
    assert_eq(got, want, **EXACT)


@st.composite
def pool_cases(draw):
    nd = draw(st.integers(1, 3))
    spatial = tuple(draw(st.integers(3, 9 if nd < 3 else 6)) for _ in range(nd))
    last = draw(st.booleans())
    x = to_layout(
        rand((draw(st.integers(1, 2)), draw(st.integers(1, 3)), *spatial), seed=draw(st.integers(0, 9))), last
    )
    k = draw(st.integers(1, 3))
    kw = dict(
        kernel_size=k,
        stride=draw(st.integers(1, 3)),
        padding=draw(st.sampled_from([0, 1, "same", ((1, 0),) * nd])),
        ceil_mode=draw(st.booleans()),
        dilation=draw(st.integers(1, 2)),
        layout=layout_of(nd, last),
    )
    return nd, x, kw, draw(st.booleans()), as_dask(draw, x)


@given(pool_cases())
def test_pools_equal_in_memory_with_global_indices(case):
    nd, x, kw, count_include_pad, xd = case
    try:
        values, indices = getattr(numbaconv, f"max_pool{nd}d")(x, return_indices=True, **kw)
    except ValueError:
        return
    got_values, got_indices = getattr(ndask, f"max_pool{nd}d")(xd, return_indices=True, **kw)
    assert_eq(got_values, values, **EXACT)
    assert_eq(got_indices, indices)
    avg = getattr(numbaconv, f"avg_pool{nd}d")(x, count_include_pad=count_include_pad, **kw)
    assert_eq(getattr(ndask, f"avg_pool{nd}d")(xd, count_include_pad=count_include_pad, **kw), avg, **EXACT)


def test_depthwise_and_pointwise_with_channel_chunks():
    x = rand((2, 4, 9, 8))
    xd = da.from_array(x, chunks=(1, 1, 3, 5))
    w = rand((8, 1, 3, 3), seed=1)
    got = ndask.depthwise_conv2d(xd, w, stride=2, padding="same", padding_mode="reflect")
    assert got.chunks[1] == (2, 2, 2, 2)  # each input channel chunk keeps its channels (x multiplier)
    assert_eq(got, numbaconv.depthwise_conv2d(x, w, stride=2, padding="same", padding_mode="reflect"), **EXACT)
    pw = rand((6, 4), seed=3)
    assert_eq(ndask.pointwise_conv2d(xd, pw, layout="NCHW"), numbaconv.pointwise_conv2d(x, pw))


def test_grouped_channels_are_rechunked_to_whole_groups():
    x = rand((1, 6, 6, 6))
    w = rand((9, 2, 3, 3), seed=1)
    got = ndask.conv2d(da.from_array(x, chunks=(1, 1, 6, 6)), w, groups=3, padding=1)
    assert got.chunks[1] == (3, 3, 3)
    assert_eq(got, numbaconv.conv2d(x, w, groups=3, padding=1))


def test_gemm_and_winograd_within_tolerance():
    """Algorithms are pinned from the global params; BLAS and transforms differ at rounding level only."""
    x = rand((1, 8, 12, 12)).astype(np.float32)
    w = rand((8, 8, 3, 3), seed=1).astype(np.float32)
    xd = da.from_array(x, chunks=(1, 8, 5, 7))
    for algorithm in ("gemm", "winograd_f2", "auto"):
        want = numbaconv.conv2d(x, w, padding=1, algorithm=algorithm)
        assert_eq(ndask.conv2d(xd, w, padding=1, algorithm=algorithm), want, rtol=1e-5, atol=1e-5)


def test_unbatched_float16_and_bias_activation():
    x = rand((2, 7, 9)).astype(np.float16)
    w = rand((3, 2, 3, 3), seed=1).astype(np.float16)
    got = ndask.conv2d(da.from_array(x, chunks=(2, 3, 4)), w, padding="same", activation="relu")
    assert got.dtype == np.float16 and got.shape == (3, 7, 9)
    assert_eq(got, numbaconv.conv2d(x, w, padding="same", activation="relu"), **EXACT)


def test_building_the_graph_runs_no_kernel(monkeypatch):
    calls = []
    monkeypatch.setattr(numbaconv.conv, "_conv", lambda *a, **k: calls.append(a))
    monkeypatch.setattr(numbaconv.pool, "_max_pool", lambda *a, **k: calls.append(a))
    xd = da.ones((1, 2, 40, 40), chunks=10)
    y = ndask.conv2d(xd, np.ones((2, 2, 3, 3)), padding=1)
    v, i = ndask.max_pool2d(xd, 2, return_indices=True)
    assert not calls
    assert isinstance(y._meta, np.ndarray) and y.dtype == np.float64 and i.dtype == np.int64
    assert (y.chunks[2], v.chunks[2]) == ((10, 10, 10, 10), (5, 5, 5, 5))


def test_threaded_scheduler():
    """dask's thread pool calls the parallel kernels concurrently: the workqueue layer is guarded by a lock."""
    x = rand((4, 2, 16, 16))
    w = rand((2, 2, 3, 3), seed=1)
    with dask.config.set(scheduler="threads", num_workers=2):
        got = ndask.conv2d(da.from_array(x, chunks=(1, 2, 8, 8)), w, padding=1).compute()
    np.testing.assert_allclose(got, numbaconv.conv2d(x, w, padding=1), **EXACT)


def test_rejections():
    xd = da.ones((1, 2, 8, 8), chunks=4)
    w = np.ones((2, 2, 3, 3))
    with pytest.raises(TypeError, match=r"conv2d: x is a dask array, which numbaconv.conv2d does not compute"):
        numbaconv.conv2d(xd, w)
    with pytest.raises(TypeError, match=r"max_pool2d: x is a dask array"):
        numbaconv.max_pool2d(xd, 2)
    with pytest.raises(TypeError, match=r"conv2d: out= is not taken by numbaconv.dask"):
        ndask.conv2d(xd, w, out=np.empty((1, 2, 6, 6)))
    with pytest.raises(TypeError, match=r"max_pool2d: stream= is not taken"):
        ndask.max_pool2d(xd, 2, stream=1)
    with pytest.raises(TypeError, match=r"conv2d: weight must be an in-memory array"):
        ndask.conv2d(xd, da.from_array(w))
    with pytest.raises(TypeError, match=r"conv2d: x must be a dask array"):
        ndask.conv2d(np.ones((1, 2, 8, 8)), w)
    with pytest.raises(ValueError, match=r"algorithm='tune' is not taken"):
        ndask.conv2d(xd, w, algorithm="tune")
    with pytest.raises(ValueError, match=r"conv2d: groups=3 must divide in_channels=2"):
        ndask.conv2d(xd, w, groups=3)
    with pytest.raises(ValueError, match=r"bias.shape=\(3,\) must be \(out_channels,\) = \(2,\)"):
        ndask.conv2d(xd, w, np.ones(3))
    with pytest.raises(TypeError, match=r"needs an explicit accumulate dtype"):
        ndask.conv2d(da.ones((1, 2, 8, 8), dtype=np.int32, chunks=4), w)
    with pytest.raises(ValueError, match=r"padding \(2, 2\) along spatial dim 0 must be smaller"):
        ndask.max_pool2d(xd, 2, padding=2)


@st.composite
def unpool_cases(draw):
    nd = draw(st.integers(1, 3))
    last = draw(st.booleans())
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3)), *(draw(st.integers(1, 5)) for _ in range(nd)))
    x = to_layout(rand(shape, seed=draw(st.integers(0, 9))), last)
    if draw(st.booleans()):  # unbatched (C, *spatial), or an integer dtype (values are copied)
        x = x[0]
    elif draw(st.booleans()):
        x = (x * 100).astype(np.int16)
    scale = draw(st.integers(1, 3) | st.tuples(*(st.integers(1, 3) for _ in range(nd))))
    kw = dict(scale_factor=scale, mode=draw(st.sampled_from(["nearest", "bed_of_nails"])), layout=layout_of(nd, last))
    return nd, x, kw, as_dask(draw, x)


@given(unpool_cases())
def test_unpool_equals_in_memory_blockwise(case):
    nd, x, kw, xd = case
    got = getattr(ndask, f"unpool{nd}d")(xd, **kw)
    scales = (kw["scale_factor"],) * nd if isinstance(kw["scale_factor"], int) else kw["scale_factor"]
    spatial = range(x.ndim - nd - 1, x.ndim - 1) if kw["layout"] else range(x.ndim - nd, x.ndim)
    for ax, s in zip(spatial, scales, strict=True):  # no halo, no rechunk: each block scaled on its own
        assert got.chunks[ax] == tuple(c * s for c in xd.chunks[ax])
    assert_eq(got, getattr(numbaconv, f"unpool{nd}d")(x, **kw), **EXACT)


@st.composite
def shuffle_cases(draw):
    last = draw(st.booleans())
    rh, rw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    lead = draw(st.sampled_from([(), (2,), (1, 2)]))
    c, h, w = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dtype = draw(st.sampled_from([np.float64, np.float32, np.uint8]))
    layout = "NHWC" if last else "NCHW"
    small = rand((*lead, c * rh * rw, h, w), seed=draw(st.integers(0, 9)))
    big = rand((*lead, c, h * rh, w * rw), seed=draw(st.integers(0, 9)))
    small, big = ((np.moveaxis(a, -3, -1) if last else a).astype(dtype) for a in (small, big))
    return (rh, rw), layout, small, big, as_dask(draw, small), as_dask(draw, big)


@given(shuffle_cases())
def test_pixel_shuffles_equal_in_memory(case):
    r, layout, small, big, small_d, big_d = case
    assert_eq(ndask.pixel_shuffle(small_d, r, layout=layout), numbaconv.pixel_shuffle(small, r, layout=layout))
    assert_eq(ndask.pixel_unshuffle(big_d, r, layout=layout), numbaconv.pixel_unshuffle(big, r, layout=layout))


@st.composite
def channel_shuffle_cases(draw):
    groups = draw(st.integers(1, 3))
    spatial = tuple(draw(st.integers(1, 3)) for _ in range(draw(st.integers(0, 3))))
    last = bool(spatial) and draw(st.booleans())
    x = to_layout(rand((draw(st.integers(1, 2)), groups * draw(st.integers(1, 3)), *spatial)), last)
    return groups, layout_of(len(spatial), last), x, as_dask(draw, x)


@given(channel_shuffle_cases())
def test_channel_shuffle_equals_in_memory(case):
    groups, layout, x, xd = case
    got = ndask.channel_shuffle(xd, groups, layout=layout)
    assert len(got.chunks[-1 if layout else 1]) == 1
    assert_eq(got, numbaconv.channel_shuffle(x, groups, layout=layout))


def test_blockwise_ops_chunks_and_laziness(monkeypatch):
    calls = []
    for name in ("unpool2d", "pixel_shuffle", "pixel_unshuffle", "channel_shuffle"):
        module = numbaconv.unpool if name == "unpool2d" else numbaconv.shuffle
        monkeypatch.setattr(module, name, lambda *a, **k: calls.append(a))
    xd = da.ones((1, 8, 6, 6), dtype=np.float32, chunks=(1, 3, 4, 5))
    up = ndask.unpool2d(xd, (2, 3))
    shuffled = ndask.pixel_shuffle(xd, 2)
    unshuffled = ndask.pixel_unshuffle(xd, (2, 3))
    mixed = ndask.channel_shuffle(xd, 4)
    assert not calls
    assert up.chunks == ((1,), (3, 3, 2), (8, 4), (15, 3))
    assert shuffled.chunks == ((1,), (1, 1), (8, 4), (10, 2)) and shuffled.dtype == np.float32
    assert unshuffled.chunks == ((1,), (18, 18, 12), (2, 1), (2,))
    assert mixed.chunks == ((1,), (8,), (4, 2), (5, 1)) and isinstance(mixed._meta, np.ndarray)


def test_blockwise_ops_rejections():
    xd = da.ones((1, 4, 4, 4), chunks=2)
    with pytest.raises(TypeError, match=r"unpool2d: out= is not taken by numbaconv.dask"):
        ndask.unpool2d(xd, out=np.empty((1, 4, 8, 8)))
    with pytest.raises(TypeError, match=r"pixel_shuffle: stream= is not taken"):
        ndask.pixel_shuffle(xd, 2, stream=1)
    with pytest.raises(TypeError, match=r"pixel_unshuffle: out= is not taken"):
        ndask.pixel_unshuffle(xd, 2, out=np.empty((1, 16, 2, 2)))
    with pytest.raises(TypeError, match=r"channel_shuffle: stream= is not taken"):
        ndask.channel_shuffle(xd, 2, stream=1)
    with pytest.raises(TypeError, match=r"channel_shuffle: x must be a dask array"):
        ndask.channel_shuffle(np.ones((1, 4)), 2)
    with pytest.raises(ValueError, match=r"pixel_shuffle: input channels 4 must be divisible by .* = 9"):
        ndask.pixel_shuffle(xd, 3)
    with pytest.raises(ValueError, match=r"pixel_unshuffle: input height 4 must be divisible by downscale_factor 3"):
        ndask.pixel_unshuffle(xd, 3)
    with pytest.raises(ValueError, match=r"channel_shuffle: groups=3 must divide the number of channels 4"):
        ndask.channel_shuffle(xd, 3)
    with pytest.raises(ValueError, match=r"unpool2d: mode='linear' is not one of"):
        ndask.unpool2d(xd, mode="linear")
    with pytest.raises(TypeError, match=r"unpool2d: input dtype complex128 is not supported"):
        ndask.unpool2d(da.ones((1, 1, 2, 2), dtype=np.complex128))
    with pytest.raises(TypeError, match=r"channel_shuffle: input dtype object is not supported"):
        ndask.channel_shuffle(da.from_array(np.empty((1, 2), object), chunks=1), 2)


# ---- separable, shuffled and filter convolutions; residual ----


def residual_of(draw, shape, seed=5):
    """A dask residual of the result's `shape` (chunked any way), or None."""
    return as_dask(draw, rand(shape, seed=seed)) if draw(st.booleans()) else None


def with_residual(draw, in_memory, over_dask, **tolerance):
    """`over_dask(residual)` equals `in_memory(residual)`, the residual a random dask array of the result's shape
    now and then (or the same ValueError)."""
    try:
        shape = in_memory(None).shape
    except ValueError:
        shape = None
    residual = residual_of(draw, shape) if shape else None
    expect_same(
        lambda: in_memory(None if residual is None else residual.compute()), lambda: over_dask(residual), **tolerance
    )


def input_2d(draw, c_in):
    """(x, layout): a small (N, C, H, W) or channels-last input, unbatched now and then."""
    last = draw(st.booleans())
    x = to_layout(rand((draw(st.integers(1, 2)), c_in, draw(st.integers(4, 9)), draw(st.integers(4, 9)))), last)
    return (x[0] if draw(st.booleans()) else x), "NHWC" if last else "NCHW"


def expect_same(call_in_memory, call_dask, **tolerance):
    """The dask call equals the in-memory one, or raises the same ValueError before any graph exists."""
    try:
        want = call_in_memory()
    except ValueError as exc:
        with pytest.raises(ValueError, match=re.escape(str(exc))):
            call_dask()
        return
    assert_eq(call_dask(), want, **tolerance)


@st.composite
def separable_cases(draw):
    c_in, multiplier, c_out = draw(st.integers(1, 3)), draw(st.integers(1, 2)), draw(st.integers(1, 3))
    x, layout = input_2d(draw, c_in)
    dw = rand((c_in * multiplier, 1, draw(st.integers(1, 3)), draw(st.integers(1, 3))), seed=1)
    pw = rand((c_out, c_in * multiplier) + ((1, 1) if draw(st.booleans()) else ()), seed=2)
    kw = dict(
        stride=draw(st.integers(1, 2)),
        dilation=draw(st.integers(1, 2)),
        padding=padding_form(draw, 2),
        padding_mode=draw(st.sampled_from(MODES)),
        depthwise_activation=draw(st.sampled_from([None, "relu6"])),
        activation=draw(st.sampled_from([None, "leaky_relu"])),
        layout=layout,
        depthwise_bias=rand((c_in * multiplier,), seed=3) if draw(st.booleans()) else None,
    )
    bias = rand((c_out,), seed=4) if draw(st.booleans()) else None
    return x, dw, pw, bias, kw, as_dask(draw, x)


@given(separable_cases(), st.data())
def test_separable_equals_in_memory(case, data):
    """The depthwise step bit for bit; the pointwise step's BLAS product at rounding level."""
    x, dw, pw, bias, kw, xd = case
    with_residual(
        data.draw,
        lambda r: numbaconv.separable_conv2d(x, dw, pw, bias, residual=r, **kw),
        lambda r: ndask.separable_conv2d(xd, dw, pw, bias, residual=r, **kw),
        rtol=1e-12,
        atol=1e-12,
    )


@st.composite
def spatially_separable_cases(draw):
    groups = draw(st.sampled_from([1, 2]))
    c_in, c_mid, c_out = (groups * draw(st.integers(1, 2)) for _ in range(3))
    x, layout = input_2d(draw, c_in)
    k_h, k_w = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    four_d = draw(st.booleans())  # (C, C/g, k) or the 4-d (C, C/g, k, 1) / (C, C/g, 1, k) weights
    col = rand((c_mid, c_in // groups, k_h) + ((1,) if four_d else ()), seed=1)
    row = rand((c_out, c_mid // groups) + ((1, k_w) if four_d else (k_w,)), seed=2)
    kw = dict(
        stride=draw(st.integers(1, 3) | st.tuples(st.integers(1, 3), st.integers(1, 3))),
        dilation=draw(st.integers(1, 2) | st.tuples(st.integers(1, 2), st.integers(1, 2))),
        padding=padding_form(draw, 2),
        groups=groups,
        padding_mode=draw(st.sampled_from(MODES)),
        flip=draw(st.booleans()),
        activation=draw(st.sampled_from([None, "sigmoid"])),
        layout=layout,
    )
    bias = rand((c_out,), seed=4) if draw(st.booleans()) else None
    return x, col, row, bias, kw, as_dask(draw, x)


@given(spatially_separable_cases(), st.data())
def test_spatially_separable_equals_in_memory(case, data):
    """Bit for bit, but at rounding level where a pass of one tap runs as a pointwise (BLAS) product."""
    x, col, row, bias, kw, xd = case
    one_tap = col.shape[2] == 1 or row.shape[-1] == 1
    with_residual(
        data.draw,
        lambda r: numbaconv.spatially_separable_conv2d(x, col, row, bias, residual=r, **kw),
        lambda r: ndask.spatially_separable_conv2d(xd, col, row, bias, residual=r, **kw),
        **(dict(rtol=1e-12, atol=1e-12) if one_tap else EXACT),
    )


@st.composite
def shuffle_conv_cases(draw):
    groups = draw(st.integers(1, 3))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    x, layout = input_2d(draw, c_in)
    w = rand((c_out, c_in // groups, draw(st.integers(1, 3)), draw(st.integers(1, 3))), seed=1)
    kw = dict(
        groups=groups,
        stride=draw(st.integers(1, 2)),
        dilation=draw(st.integers(1, 2)),
        padding=padding_form(draw, 2),
        padding_mode=draw(st.sampled_from(MODES)),
        flip=draw(st.booleans()),
        activation=draw(st.sampled_from([None, "relu"])),
        layout=layout,
        algorithm="direct",
    )
    bias = rand((c_out,), seed=4) if draw(st.booleans()) else None
    return x, w, bias, kw, as_dask(draw, x)


@given(shuffle_conv_cases(), st.data())
def test_shuffle_conv_equals_in_memory_bit_for_bit(case, data):
    x, w, bias, kw, xd = case
    with_residual(
        data.draw,
        lambda r: numbaconv.shuffle_conv2d(x, w, bias, residual=r, **kw),
        lambda r: ndask.shuffle_conv2d(xd, w, bias, residual=r, **kw),
        **EXACT,
    )
    try:
        got = ndask.shuffle_conv2d(xd, w, bias, **kw)
    except ValueError:
        return
    assert len(got.chunks[-1 if kw["layout"] == "NHWC" else -3]) == 1  # the shuffle mixes every group


@st.composite
def filter_cases(draw):
    shape = (draw(st.integers(3, 12)), draw(st.integers(3, 12))) + (
        (draw(st.integers(1, 3)),) if draw(st.booleans()) else ()
    )
    dtype = draw(st.sampled_from([np.float64, np.float32, np.uint8]))
    image = (rand(shape, seed=draw(st.integers(0, 9))) * (50 if dtype == np.uint8 else 1)).astype(dtype)
    bank = (draw(st.integers(1, 2)),) if draw(st.booleans()) else ()
    kernels = rand((*bank, draw(st.integers(1, 4)), draw(st.integers(1, 4))), seed=1).astype(np.float32)
    kw = dict(
        mode=draw(st.sampled_from(["same", "valid", "full"])),
        padding_mode=draw(st.sampled_from(MODES)),
        flip=draw(st.booleans()),
        dtype=np.float32 if dtype == np.uint8 else None,
    )
    return image, kernels, kw, as_dask(draw, image)


@given(filter_cases())
def test_filter2d_equals_in_memory_bit_for_bit(case):
    image, kernels, kw, imaged = case
    expect_same(
        lambda: numbaconv.filter2d(image, kernels, **kw), lambda: ndask.filter2d(imaged, kernels, **kw), **EXACT
    )
    if image.ndim == 3:  # each channel filtered on its own: channel chunks stay (times the bank)
        try:
            got = ndask.filter2d(imaged, kernels, **kw)
        except ValueError:
            return
        count = kernels.shape[0] if kernels.ndim == 3 else 1
        assert got.chunks[2] == imaged.chunks[2] and got.chunks[3:] in ((), ((count,),))


def test_conv_residual_aligned_with_the_output_chunks():
    """A residual chunked unlike the result is rechunked to it; each block adds its own block of it."""
    x = rand((2, 4, 20, 9))
    w = rand((6, 2, 3, 3), seed=1)
    residual = rand((2, 6, 10, 5), seed=2)
    xd = da.from_array(x, chunks=(1, 1, 8, 5))
    rd = da.from_array(residual, chunks=(2, 3, 3, 5))
    got = ndask.conv2d(xd, w, groups=2, stride=2, padding=1, residual=rd, activation="relu")
    assert got.chunks == ((1, 1), (3, 3), (4, 6), (5,))
    want = numbaconv.conv2d(x, w, groups=2, stride=2, padding=1, residual=residual, activation="relu")
    assert_eq(got, want, **EXACT)
    dw = rand((4, 1, 3, 3), seed=3)
    shortcut = rand((4, 20, 9), seed=4)
    unbatched = ndask.depthwise_conv2d(xd[0], dw, padding="same", residual=da.from_array(shortcut, chunks=3))
    want = numbaconv.depthwise_conv2d(x[0], dw, padding="same", residual=shortcut)
    assert_eq(unbatched, want, **EXACT)


def test_new_ops_build_lazily_with_declared_chunks(monkeypatch):
    calls = []
    for module, name in [
        (numbaconv.conv, "separable_conv2d"),
        (numbaconv.shuffle, "spatially_separable_conv2d"),
        (numbaconv.shuffle, "shuffle_conv2d"),
        (numbaconv.conv, "run_conv"),  # conv2d's tail, which filter2d's blocks run
    ]:
        monkeypatch.setattr(module, name, lambda *a, **k: calls.append(a))
    xd = da.ones((1, 4, 40, 40), dtype=np.float32, chunks=(1, 1, 10, 10))
    sep = ndask.separable_conv2d(xd, np.ones((4, 1, 3, 3)), np.ones((5, 4)), padding=1)
    spat = ndask.spatially_separable_conv2d(xd, np.ones((4, 2, 3)), np.ones((6, 2, 3)), groups=2, stride=2)
    shuf = ndask.shuffle_conv2d(xd, np.ones((8, 2, 3, 3)), groups=2, padding="same", residual=da.ones((1, 8, 40, 40)))
    filt = ndask.filter2d(da.ones((40, 40, 3), chunks=(10, 10, 1)), np.ones((2, 5, 5)), mode="full")
    assert not calls
    assert sep.chunks == ((1,), (5,), (10,) * 4, (10,) * 4) and sep.dtype == np.float32
    assert spat.chunks == ((1,), (3, 3), (5, 5, 5, 4), (5, 5, 5, 4))
    assert shuf.chunks == ((1,), (8,), (10,) * 4, (10,) * 4) and isinstance(shuf._meta, np.ndarray)
    assert filt.shape == (44, 44, 3, 2) and filt.chunks[2:] == ((1, 1, 1), (2,)) and filt.dtype == np.float64


def test_new_ops_rejections():
    xd = da.ones((1, 4, 8, 8), chunks=4)
    dw, pw, w = np.ones((4, 1, 3, 3)), np.ones((2, 4)), np.ones((4, 2, 3, 3))
    with pytest.raises(TypeError, match=r"separable_conv2d: out= is not taken by numbaconv.dask"):
        ndask.separable_conv2d(xd, dw, pw, out=np.empty((1, 2, 6, 6)))
    with pytest.raises(TypeError, match=r"separable_conv2d: pointwise_weight must be an in-memory array"):
        ndask.separable_conv2d(xd, dw, da.from_array(pw))
    with pytest.raises(ValueError, match=r"separable_conv2d: depthwise_weight.shape\[1\]=2 must be 1"):
        ndask.separable_conv2d(xd, np.ones((4, 2, 3, 3)), pw)
    with pytest.raises(ValueError, match=r"separable_conv2d: depthwise_bias.shape=\(3,\) must be"):
        ndask.separable_conv2d(xd, dw, pw, depthwise_bias=np.ones(3))
    with pytest.raises(TypeError, match=r"spatially_separable_conv2d: stream= is not taken"):
        ndask.spatially_separable_conv2d(xd, np.ones((4, 4, 3)), np.ones((4, 4, 3)), stream=1)
    with pytest.raises(ValueError, match=r"spatially_separable_conv2d: row_weight.shape=\(4, 4, 3, 3\) must be"):
        ndask.spatially_separable_conv2d(xd, np.ones((4, 4, 3)), np.ones((4, 4, 3, 3)))
    with pytest.raises(ValueError, match=r"shuffle_conv2d: algorithm='tune' is not taken"):
        ndask.shuffle_conv2d(xd, w, groups=2, algorithm="tune")
    with pytest.raises(ValueError, match=r"shuffle_conv2d: algorithm='winograd' does not apply"):
        ndask.shuffle_conv2d(xd, w, groups=2, stride=2, algorithm="winograd")
    with pytest.raises(ValueError, match=r"shuffle_conv2d: groups=3 must divide in_channels=4"):
        ndask.shuffle_conv2d(xd, w, groups=3)
    with pytest.raises(TypeError, match=r"filter2d: image must be a dask array"):
        ndask.filter2d(np.ones((4, 4)), np.ones((3, 3)))
    with pytest.raises(ValueError, match=r"filter2d: mode='wrap' is not one of"):
        ndask.filter2d(da.ones((4, 4)), np.ones((3, 3)), mode="wrap")
    with pytest.raises(ValueError, match=r"filter2d: image must be \(H, W\) or \(H, W, C\), got 4-d"):
        ndask.filter2d(xd, np.ones((3, 3)))
    with pytest.raises(TypeError, match=r"filter2d: kernels must be an in-memory array"):
        ndask.filter2d(da.ones((4, 4)), da.ones((3, 3)))
    # residual: a dask array of the result's shape and a float dtype
    with pytest.raises(TypeError, match=r"shuffle_conv2d: residual must be a dask array of the result's shape"):
        ndask.shuffle_conv2d(xd, w, groups=2, residual=np.ones((1, 4, 6, 6)))
    with pytest.raises(ValueError, match=r"conv2d: residual.shape=\(1, 4, 8, 8\) must equal the result shape"):
        ndask.conv2d(xd, w, groups=2, residual=da.ones((1, 4, 8, 8)))
    with pytest.raises(TypeError, match=r"separable_conv2d: residual dtype int64 is not supported"):
        ndask.separable_conv2d(xd, dw, pw, residual=da.ones((1, 2, 6, 6), dtype=np.int64))


@pytest.mark.distributed
def test_local_cluster_two_processes_and_setup_workers():
    """Two worker processes compute a conv equal to the in-memory call; setup_workers then gives each worker its
    Numba threads (the cores' share, here under NUMBA_NUM_THREADS=2) and a warm-up, and a conv block running on
    an executor thread sees that count, while a plain task on the same threads keeps Numba's default of 2 (the
    count is per thread)."""
    distributed = pytest.importorskip("distributed")
    import dask.system

    x = rand((2, 2, 24, 24))
    w = rand((3, 2, 3, 3), seed=1)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, env={"NUMBA_NUM_THREADS": "2"}
        ) as cluster,
        distributed.Client(cluster, timeout=60) as client,
    ):
        xd = da.from_array(x, chunks=(1, 2, 12, 12))
        y = ndask.conv2d(xd, w, stride=2, padding=1, padding_mode="reflect")
        np.testing.assert_array_equal(
            client.compute(y).result(timeout=240), numbaconv.conv2d(x, w, stride=2, padding=1, padding_mode="reflect")
        )
        report = ndask.setup_workers(client, ops=["shuffle"], dtypes=["float64"], layouts=["first"])
        share = min(2, max(1, dask.system.CPU_COUNT // 2))  # the cores over both workers' threads, capped
        assert len(report) == 2 and all(r == {"numba_threads": share, "warmup_steps": 2} for r in report.values())
        report = ndask.setup_workers(client, threads=1, warmup=False)  # registering again replaces the setup
        assert {r["numba_threads"] for r in report.values()} == {1}

        def default_threads():
            import numba

            return numba.get_num_threads()

        assert client.submit(default_threads, pure=False).result(timeout=60) == 2

        def spy():  # on each worker: every conv block returns the Numba thread count it runs with
            import numba

            import numbaconv.conv

            run_conv = numbaconv.conv.run_conv
            numbaconv.conv.run_conv = lambda *a, **k: np.full_like(run_conv(*a, **k), numba.get_num_threads())

        client.run(spy)
        seen = client.compute(ndask.conv2d(xd, w, padding=1)).result(timeout=240)
        assert np.unique(seen).tolist() == [1]


def test_setup_workers_rejections_and_no_distributed_import():
    with pytest.raises(ValueError, match=r"warmup: ops='convs' is not one of"):
        ndask.setup_workers(None, ops=["convs"])
    with pytest.raises(ValueError, match=r"setup_workers: threads=0 must be a positive int"):
        ndask.setup_workers(None, threads=0)
    # dask[array] alone: numbaconv.dask imports (and computes) with distributed unimportable
    code = (
        "import sys; sys.modules['distributed'] = None\n"
        "import dask.array as da, numpy as np, numbaconv.dask\n"
        "assert 'setup_workers' in numbaconv.dask.__all__\n"
        "print(numbaconv.dask.channel_shuffle(da.arange(4, chunks=2).reshape(1, 4), 2).compute().tolist())"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[[0, 2, 1, 3]]"


# ---- upsampling: transpose convolutions, max unpooling, interpolation, resize-conv ----


@st.composite
def transpose_cases(draw):
    nd = draw(st.integers(1, 3))
    groups = draw(st.sampled_from([1, 2]))
    c_in = groups * draw(st.integers(1, 2))
    spatial = tuple(draw(st.integers(1, 7 if nd < 3 else 4)) for _ in range(nd))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    stride, dilation = draw(st.integers(1, 3)), draw(st.integers(1, 2))
    last = draw(st.booleans())
    x = to_layout(rand((draw(st.integers(1, 2)), c_in, *spatial), seed=draw(st.integers(0, 9))), last)
    padding = draw(
        st.sampled_from(["same", 0, 1, 2])
        | st.tuples(*(st.tuples(st.integers(0, 2), st.integers(0, 2)) for _ in range(nd)))
    )
    kw = dict(
        stride=stride,
        dilation=dilation,
        padding=padding,
        groups=groups,
        activation=draw(st.sampled_from([None, "relu", "sigmoid"])),
        layout=layout_of(nd, last),
    )
    extra = tuple(draw(st.integers(0, max(stride, dilation) - 1)) for _ in range(nd))
    if draw(st.booleans()):  # the same extra length as output_padding or as an output_size
        kw["output_padding"] = extra
    else:
        base = [(n - 1) * stride + dilation * (k - 1) + 1 for n, k in zip(spatial, kernel)]
        if not isinstance(padding, str):
            pairs = padding if isinstance(padding, tuple) else ((padding, padding),) * nd
            kw["output_size"] = tuple(b - lo - hi + e for b, (lo, hi), e in zip(base, pairs, extra))
    if draw(st.booleans()):
        x = x[0]  # unbatched
    w = rand((c_in, draw(st.integers(1, 2)), *kernel), seed=2)
    bias = rand((w.shape[1] * groups,), seed=1) if draw(st.booleans()) else None
    return nd, x, w, bias, kw, as_dask(draw, x)


@given(transpose_cases())
def test_conv_transpose_equals_in_memory_bit_for_bit(case):
    nd, x, w, bias, kw, xd = case
    op, op_dask = getattr(numbaconv, f"conv_transpose{nd}d"), getattr(ndask, f"conv_transpose{nd}d")
    try:
        want = op(x, w, bias, algorithm="direct", **kw)
    except ValueError as exc:  # a rule of the global call: the dask call raises the same, before any graph
        with pytest.raises(ValueError, match=re.escape(str(exc))):
            op_dask(xd, w, bias, algorithm="direct", **kw)
        return
    assert_eq(op_dask(xd, w, bias, algorithm="direct", **kw), want, **EXACT)


def test_conv_transpose_chunks_gemm_and_groups():
    """Chunk [a, b) gives outputs [a * s - pad_lo, b * s - pad_lo); channels in whole groups; GEMM (pinned from
    the global call) within BLAS rounding."""
    x = rand((1, 8, 9, 7)).astype(np.float32)
    w = rand((8, 4, 3, 3), seed=1).astype(np.float32)
    xd = da.from_array(x, chunks=(1, 3, 4, (1, 2, 4)))
    got = ndask.conv_transpose2d(xd, w, stride=2, padding=(1, 2))  # auto: GEMM for the global call
    assert got.chunks == ((1,), (4,), (7, 8, 2), (0, 4, 7)) and got.dtype == np.float32
    assert_eq(got, numbaconv.conv_transpose2d(x, w, stride=2, padding=(1, 2)), rtol=1e-5, atol=1e-5)
    w1 = rand((8, 1, 3, 3), seed=3)
    x64 = x.astype(np.float64)
    got = ndask.conv_transpose2d(da.from_array(x64, chunks=(1, 1, 4, 4)), w1, groups=8, algorithm="direct")
    assert got.chunks[1] == (1,) * 8  # depthwise: any channel chunks
    assert_eq(got, numbaconv.conv_transpose2d(x64, w1, groups=8), **EXACT)


@st.composite
def interpolate_cases(draw):
    nd = draw(st.integers(1, 3))
    mode = draw(st.sampled_from(["nearest", "nearest_exact", {1: "linear", 2: "bilinear", 3: "trilinear"}[nd]]))
    if nd == 2 and draw(st.booleans()):
        mode = "bicubic"
    spatial = tuple(draw(st.integers(1, 8 if nd < 3 else 5)) for _ in range(nd))
    last = draw(st.booleans())
    x = to_layout(
        rand((draw(st.integers(1, 2)), draw(st.integers(1, 3)), *spatial), seed=draw(st.integers(0, 9))), last
    )
    dtype = draw(st.sampled_from([np.float32, np.float64, np.int16 if mode.startswith("nearest") else np.float16]))
    x = (x * 100).astype(dtype) if dtype == np.int16 else x.astype(dtype)
    kw = dict(mode=mode, layout=layout_of(nd, last))
    factors = st.sampled_from([0.4, 0.5, 1 / 3, 1.0, 1.3, 2.0, 2.5, 3.0])
    if draw(st.booleans()):
        kw["size"] = tuple(draw(st.integers(1, 13 if nd < 3 else 7)) for _ in range(nd))
    else:
        kw["scale_factor"] = draw(factors | st.tuples(*(factors for _ in range(nd))))
        kw["recompute_scale_factor"] = draw(st.sampled_from([None, False, True]))
    if not mode.startswith("nearest"):
        kw["align_corners"] = draw(st.sampled_from([None, False, True]))
    return x, kw, as_dask(draw, x)


@given(interpolate_cases())
def test_interpolate_equals_in_memory_bit_for_bit(case):
    x, kw, xd = case
    try:
        want = numbaconv.interpolate(x, **kw)
    except ValueError as exc:
        with pytest.raises(ValueError, match=re.escape(str(exc))):
            ndask.interpolate(xd, **kw)
        return
    got = ndask.interpolate(xd, **kw)
    assert got.dtype == x.dtype
    assert_eq(got, want, rtol=0, atol=0)


def test_interpolate_uses_the_global_source_table():
    """Output o's taps are the whole call's: a block recomputing the scale from its own size would read other
    inputs (here 10 inputs to 7 outputs, chunks of 3 inputs: a block's own ratio is 3 / 2 or 1, not 10 / 7)."""
    x = np.arange(10.0).reshape(1, 1, 10)
    for mode in ("nearest", "nearest_exact", "linear"):
        got = ndask.interpolate(da.from_array(x, chunks=3), size=7, mode=mode)
        np.testing.assert_array_equal(got.compute(), numbaconv.interpolate(x, size=7, mode=mode))
    got = ndask.interpolate(da.from_array(x, chunks=3), size=7)
    assert got.chunks[2] == (3, 2, 2, 0)  # sources floor(o * 10 / 7) = 0 1 2 | 4 5 | 7 8 | (none in [9, 10))


@st.composite
def max_unpool_cases(draw):
    nd = draw(st.integers(1, 3))
    spatial = tuple(draw(st.integers(2, 9 if nd < 3 else 5)) for _ in range(nd))
    last = draw(st.booleans())
    x = to_layout(
        rand((draw(st.integers(1, 2)), draw(st.integers(1, 3)), *spatial), seed=draw(st.integers(0, 9))), last
    )
    if draw(st.booleans()):  # ties, signed zeros and NaN: duplicates resolved as the in-memory op does
        x = np.round(x) * 0.0 if draw(st.booleans()) else np.where(x > 1.5, np.nan, np.round(x))
    k = draw(st.integers(1, 3))
    pool = dict(
        kernel_size=k,
        stride=draw(st.integers(1, 3)),
        padding=tuple((draw(st.integers(0, k - 1)), draw(st.integers(0, k - 1))) for _ in range(nd)),
        layout=layout_of(nd, last),
    )
    return nd, x, pool, draw(st.booleans()), draw(st.booleans()), draw(st.data())


@given(max_unpool_cases())
def test_max_unpool_equals_in_memory_bit_for_bit(case):
    nd, x, pool, ceil_mode, spatial_only, data = case
    try:
        values, indices = getattr(ndask, f"max_pool{nd}d")(
            da.from_array(x, chunks=-1), ceil_mode=ceil_mode, return_indices=True, **pool
        )
    except ValueError:
        return
    # each rechunked its own way (x's smaller than the halo, indices' rechunked to them)
    values = values.rechunk(tuple(chunking(data.draw, n) for n in values.shape))
    indices = indices.rechunk(tuple(chunking(data.draw, n) for n in indices.shape))
    # the pooled plane's size (indices are flat positions in it), as spatial sizes or as a full shape
    kw = dict(pool, output_size=(x.shape[1:-1] if pool["layout"] else x.shape[2:]) if spatial_only else x.shape)
    want = getattr(numbaconv, f"max_unpool{nd}d")(values.compute(), indices.compute(), **kw)
    got = getattr(ndask, f"max_unpool{nd}d")(values, indices, **kw)
    assert_eq(got, want, **EXACT)
    np.testing.assert_array_equal(np.signbit(got.compute()), np.signbit(want))


def test_max_unpool_takes_any_index_along_dims_in_one_chunk():
    """Duplicates and positions outside any pooling window, N and C chunked, each plane whole."""
    x = rand((3, 4, 3, 2))
    indices = np.random.default_rng(0).integers(0, 25, x.shape)
    xd, idx = da.from_array(x, chunks=(2, 3, 3, 2)), da.from_array(indices, chunks=(1, 1, 3, 2))
    got = ndask.max_unpool2d(xd, idx, 2, output_size=(5, 5))
    assert got.chunks == ((2, 1), (3, 1), (5,), (5,))
    assert_eq(got, numbaconv.max_unpool2d(x, indices, 2, output_size=(5, 5)), **EXACT)
    unbatched = ndask.max_unpool2d(xd[0], idx[0], 2, output_size=(5, 5))
    assert_eq(unbatched, numbaconv.max_unpool2d(x[0], indices[0], 2, output_size=(5, 5)), **EXACT)


def test_max_unpool_index_errors_when_the_block_runs():
    x = da.from_array(rand((1, 1, 6)), chunks=2)
    far = da.from_array(np.array([[[0, 3, 4, 7, 11, 10]]]), chunks=2)  # input 4's window is [8, 10)
    y = ndask.max_unpool1d(x, far, 2)
    with pytest.raises(ValueError, match=r"max_unpool1d: an index 11 points outside its input's pooling window"):
        y.compute()
    assert_eq(ndask.max_unpool1d(x.rechunk(-1), far, 2), numbaconv.max_unpool1d(x.compute(), far.compute(), 2))
    outside = da.from_array(np.array([[[0, 2, 4, 6, 8, 12]]]), chunks=2)
    with pytest.raises(ValueError, match=re.escape("max_unpool1d: an index 12 is outside [0, 12)")):
        ndask.max_unpool1d(x, outside, 2).compute()


@st.composite
def resize_cases(draw):
    mode = draw(st.sampled_from(["nearest", "bilinear", "bicubic"]))
    groups = draw(st.sampled_from([1, 2]))
    last = draw(st.booleans())
    x = to_layout(rand((draw(st.integers(1, 2)), groups, draw(st.integers(2, 5)), draw(st.integers(2, 5)))), last)
    if draw(st.booleans()):
        x = x.astype(np.float32) if draw(st.booleans()) else x[0]
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    kw = dict(
        scale_factor=draw(st.integers(1, 3) | st.tuples(st.integers(1, 3), st.integers(1, 3))),
        mode=mode,
        padding=draw(st.sampled_from(["same", "valid", 1])),
        padding_mode=draw(st.sampled_from(MODES)),
        stride=draw(st.integers(1, 2)),
        dilation=draw(st.integers(1, 2)),
        groups=groups,
        activation=draw(st.sampled_from([None, "relu6"])),
        layout="NHWC" if last else "NCHW",
    )
    if mode != "nearest":
        kw["align_corners"] = draw(st.booleans())
    w = rand((2 * groups, 1, *kernel), seed=2).astype(x.dtype)
    return x, w, rand((2 * groups,), seed=3) if draw(st.booleans()) else None, kw, as_dask(draw, x)


@given(resize_cases())
def test_resize_conv2d_equals_in_memory_bit_for_bit(case):
    x, w, bias, kw, xd = case
    try:
        want = numbaconv.resize_conv2d(x, w, bias, algorithm="direct", **kw)
    except ValueError as exc:
        with pytest.raises(ValueError, match=re.escape(str(exc))):
            ndask.resize_conv2d(xd, w, bias, algorithm="direct", **kw)
        return
    got = ndask.resize_conv2d(xd, w, bias, algorithm="direct", **kw)
    assert got.dtype == want.dtype
    assert_eq(got, want, **EXACT)


def test_resize_conv2d_float16_integer_input_and_gemm():
    x = rand((1, 4, 5, 6))
    w = rand((8, 4, 3, 3), seed=1)
    xd = da.from_array(x, chunks=(1, 2, 2, 3))
    for mode in ("nearest", "bilinear"):  # float16 upsampled in float32, as the in-memory intermediate
        half = ndask.resize_conv2d(xd.astype(np.float16), w.astype(np.float16), mode=mode, algorithm="direct")
        assert half.dtype == np.float16
        assert_eq(half, numbaconv.resize_conv2d(x.astype(np.float16), w.astype(np.float16), mode=mode), **EXACT)
        ints = (x * 10).astype(np.int32)
        got = ndask.resize_conv2d(da.from_array(ints, chunks=2), w, mode=mode, dtype=np.float64, algorithm="direct")
        assert_eq(got, numbaconv.resize_conv2d(ints, w, mode=mode, dtype=np.float64), **EXACT)
    got = ndask.resize_conv2d(xd, w, algorithm="gemm", padding_mode="reflect")
    assert_eq(got, numbaconv.resize_conv2d(x, w, algorithm="gemm", padding_mode="reflect"), rtol=1e-12, atol=1e-12)


def test_upsampling_graphs_run_no_kernel(monkeypatch):
    calls = []
    for module, name in [
        (numbaconv.conv_transpose, "conv_transpose2d"),
        (numbaconv.unpool, "max_unpool2d"),
        (numbaconv.unpool, "resized"),
        (numbaconv.unpool, "unpool2d"),
    ]:
        monkeypatch.setattr(module, name, lambda *a, **k: calls.append(a))
    monkeypatch.setitem(ndask.CONVS, 2, lambda *a, **k: calls.append(a))
    xd = da.ones((1, 2, 40, 40), dtype=np.float32, chunks=10)
    t = ndask.conv_transpose2d(xd, np.ones((2, 3, 4, 4), np.float32), stride=2, padding=1)
    u = ndask.max_unpool2d(xd, da.zeros(xd.shape, dtype=np.int64, chunks=10), 2)
    i = ndask.interpolate(xd, scale_factor=1.5, mode="bilinear")
    r = ndask.resize_conv2d(xd, np.ones((4, 2, 3, 3), np.float32))
    assert not calls
    assert t.chunks[2] == (19, 20, 20, 21) and t.dtype == np.float32 and isinstance(t._meta, np.ndarray)
    assert u.chunks[2] == (20, 20, 20, 20) and i.chunks[2] == (16, 15, 15, 14)
    assert r.shape == (1, 4, 80, 80) and r.dtype == np.float32


def test_upsampling_rejections():
    xd = da.ones((1, 2, 8, 8), chunks=4)
    w = np.ones((2, 2, 3, 3))
    idx = da.zeros((1, 2, 8, 8), dtype=np.int64, chunks=4)
    with pytest.raises(TypeError, match=r"conv_transpose2d: out= is not taken by numbaconv.dask"):
        ndask.conv_transpose2d(xd, w, out=np.empty((1, 2, 10, 10)))
    with pytest.raises(TypeError, match=r"conv_transpose2d: stream= is not taken"):
        ndask.conv_transpose2d(xd, w, stream=1)
    with pytest.raises(TypeError, match=r"conv_transpose2d: weight must be an in-memory array"):
        ndask.conv_transpose2d(xd, da.from_array(w))
    with pytest.raises(TypeError, match=r"conv_transpose2d: residual= is not taken by numbaconv.dask"):
        ndask.conv_transpose2d(xd, w, residual=np.zeros((1, 2, 10, 10)))
    with pytest.raises(ValueError, match=r"conv_transpose2d: output_padding=\(2, 2\) must be smaller than stride"):
        ndask.conv_transpose2d(xd, w, stride=2, output_padding=2)
    with pytest.raises(ValueError, match=r"conv_transpose2d: algorithm='winograd' is unknown"):
        ndask.conv_transpose2d(xd, w, algorithm="winograd")
    with pytest.raises(ValueError, match=r"bias.shape=\(3,\) must be \(out_channels,\) = \(2,\)"):
        ndask.conv_transpose2d(xd, w, np.ones(3))
    with pytest.raises(TypeError, match=r"resize_conv2d: residual= is not taken"):
        ndask.resize_conv2d(xd, w, residual=np.zeros((1, 2, 16, 16)))
    with pytest.raises(TypeError, match=r"resize_conv2d: stream= is not taken"):
        ndask.resize_conv2d(xd, w, stream=1)
    with pytest.raises(ValueError, match=r"resize_conv2d: mode='linear' is not one of"):
        ndask.resize_conv2d(xd, w, mode="linear")
    with pytest.raises(ValueError, match=r"resize_conv2d: algorithm='fft' is unknown"):
        ndask.resize_conv2d(xd, w, algorithm="fft")
    with pytest.raises(TypeError, match=r"max_unpool2d: out= is not taken"):
        ndask.max_unpool2d(xd, idx, 2, out=np.empty((1, 2, 16, 16)))
    with pytest.raises(TypeError, match=r"max_unpool2d: indices must be a dask array like x"):
        ndask.max_unpool2d(xd, idx.compute(), 2)
    with pytest.raises(TypeError, match=r"max_unpool2d: indices dtype float64 must be an integer dtype"):
        ndask.max_unpool2d(xd, idx.astype(float), 2)
    with pytest.raises(ValueError, match=r"max_unpool2d: output_size=\(20, 20\) cannot come from this input"):
        ndask.max_unpool2d(xd, idx, 2, output_size=(20, 20))
    with pytest.raises(TypeError, match=r"interpolate: stream= is not taken"):
        ndask.interpolate(xd, scale_factor=2, stream=1)
    with pytest.raises(TypeError, match=r"interpolate: x must be a dask array"):
        ndask.interpolate(np.ones((1, 1, 4)), scale_factor=2)
    with pytest.raises(ValueError, match=r"interpolate: pass exactly one of size and scale_factor"):
        ndask.interpolate(xd)
    with pytest.raises(TypeError, match=r"interpolate: mode='bilinear' needs float16, float32 or float64 input"):
        ndask.interpolate(xd.astype(np.int32), scale_factor=2, mode="bilinear")
    with pytest.raises(ValueError, match=r"interpolate: align_corners=True applies only to the interpolating"):
        ndask.interpolate(xd, scale_factor=2, align_corners=True)
