"""Shuffles and separable filters against tests/reference.py, properties, and every error message, on the CPU and
CUDA backends (CUDA: batch-1 cases, small blocks)."""

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import numbaconv
from numbaconv._algorithms import applicable_algorithms

import reference as ref
from helpers import (
    LAYOUT_LAST,
    LAYOUTS,
    Case,
    assert_close,
    full,
    over_backends,
    rand,
    reference_pads,
    run,
    sized,
    to_backend,
    to_channels_last,
    to_host,
)

# Every word size the byte-moving kernel uses: 1 (bool), 2 (int16), 4, 8 and 2 x 8 (complex128); float16 moves
# as a 2-byte word too (test_shuffle_float16).
MOVE_DTYPES = [np.float32, np.float64, np.int16, np.bool_, np.complex128]


def values(shape, dtype, seed=0):
    """Distinct-ish values of any dtype, so a misplaced element shows."""
    v = np.random.default_rng(seed).integers(-100, 100, shape)
    if np.dtype(dtype).kind == "b":
        return v > 0
    if np.dtype(dtype).kind == "c":
        return (v + 1j * v[..., ::-1]).astype(dtype)
    return v.astype(dtype)


# ---- channel_shuffle ----


def channel_shuffle_on(backend, x, groups, channels_last):
    """channel_shuffle of channels-first host `x` on `backend`, in either layout (any ndim >= 2), back on the
    host channels-first."""
    layout = LAYOUT_LAST[x.ndim - 2] if channels_last else None
    got = numbaconv.channel_shuffle(to_backend(backend, x, channels_last), groups, layout=layout)
    return to_host(backend, got, channels_last)


# CPU: every shape x layout x word size. CUDA: six rows, any ndim, every word size, non-native byte order.
@over_backends(
    "shape,groups,channels_last,dtype",
    [
        (s, g, cl, d)
        for s, g in [
            ((3, 6), 2),
            ((2, 6, 5), 3),
            ((2, 12, 3, 4), 4),
            ((1, 8, 2, 3, 2), 2),
            ((2, 4, 3), 4),
            ((2, 5, 3), 1),
        ]
        for cl in (False, True)
        for d in MOVE_DTYPES
    ],
    [
        ((1, 6, 5), 3, False, np.float32),
        ((1, 4, 2, 3), 2, True, np.complex128),  # two 8-byte words per element
        ((3, 6), 2, False, np.bool_),
        ((1, 8, 2, 1, 2), 4, True, np.int16),
        ((2, 4, 1, 2, 1, 2), 2, False, np.int16),  # any number of dims with layout=None
        ((1, 4, 3), 2, False, ">f8"),
    ],
)  # non-native byte order: the bytes move untouched
def test_channel_shuffle_matches_reference(backend, shape, groups, channels_last, dtype):
    x = values(shape, dtype)
    got = channel_shuffle_on(backend, x, groups, channels_last)
    assert got.dtype == x.dtype
    np.testing.assert_array_equal(got, ref.channel_shuffle(x, groups))


def test_channel_shuffle_any_ndim_nan_bits_byte_order_strided_out_and_empty(backend):
    x = values((2, 6, 2, 1, 2, 2), np.float32)
    np.testing.assert_array_equal(channel_shuffle_on(backend, x, 3, False), ref.channel_shuffle(x, 3))
    bits = np.array([[0x7FC00001, 0x7FC00002, 1, 2]], np.uint32).view(np.float32)  # NaNs with payloads
    np.testing.assert_array_equal(
        channel_shuffle_on(backend, bits, 2, False).view(np.uint32), [[0x7FC00001, 1, 0x7FC00002, 2]]
    )
    big_endian = values((2, 4, 3), ">f8")
    np.testing.assert_array_equal(channel_shuffle_on(backend, big_endian, 2, False), ref.channel_shuffle(big_endian, 2))
    host = values((2, 8, 6), np.float64)
    strided = to_backend(backend, host)[:, ::2, 1::2]  # on CUDA: copied to a contiguous array first
    out = full(backend, (2, 4, 3), np.nan, np.float64)
    assert numbaconv.channel_shuffle(strided, 2, out=out) is out
    np.testing.assert_array_equal(to_host(backend, out), ref.channel_shuffle(host[:, ::2, 1::2], 2))
    assert numbaconv.channel_shuffle(to_backend(backend, np.empty((0, 4, 3))), 2).shape == (0, 4, 3)


@given(st.integers(1, 3), st.integers(1, 4), st.integers(1, 4), st.integers(0, 2), st.booleans(), st.data())
def test_channel_shuffle_then_inverse_is_identity(n, groups, per_group, nd, channels_last, data):
    spatial = tuple(data.draw(st.integers(1, 3)) for _ in range(nd))
    x = values((n, groups * per_group, *spatial), np.float64, data.draw(st.integers(0, 99)))
    layout = LAYOUT_LAST[nd] if channels_last else None
    if channels_last:
        x = to_channels_last(x)
    y = numbaconv.channel_shuffle(x, groups, layout=layout)
    np.testing.assert_array_equal(numbaconv.channel_shuffle(y, per_group, layout=layout), x)


def test_channel_shuffle_matches_torch():
    torch = pytest.importorskip("torch")
    x = values((2, 12, 3, 4), np.float32)
    want = torch.nn.functional.channel_shuffle(torch.from_numpy(x), 3).numpy()
    np.testing.assert_array_equal(numbaconv.channel_shuffle(x, 3), want)
    x = values((2, 8, 6, 4), np.float32)
    np.testing.assert_array_equal(
        numbaconv.pixel_shuffle(x, 2), torch.nn.functional.pixel_shuffle(torch.from_numpy(x), 2).numpy()
    )
    np.testing.assert_array_equal(
        numbaconv.pixel_unshuffle(x, 2), torch.nn.functional.pixel_unshuffle(torch.from_numpy(x), 2).numpy()
    )


# ---- pixel_shuffle / pixel_unshuffle ----

PIXEL_CASES = [((2, 8, 3, 4), 2), ((1, 18, 2, 3), (3, 2)), ((4, 2, 3), 1), ((2, 3, 4, 2, 2), 2), ((1, 9, 1, 1), 3)]


def pixel_on(backend, op, x, factor, layout):
    """pixel_shuffle/unshuffle of (*, C, H, W) host `x` on `backend` in "NCHW" or "NHWC", back as (*, C, H, W)."""
    if layout == "NCHW":
        return to_host(backend, op(to_backend(backend, x), factor))
    got = op(to_backend(backend, np.ascontiguousarray(np.moveaxis(x, -3, -1))), factor, layout="NHWC")
    return np.moveaxis(to_host(backend, got), -1, -3)


# CPU: every case x layout x dtype. CUDA: four rows in float32 (leading batch dims among them).
@over_backends(
    "shape,factor,layout,dtype",
    [(s, f, lay, d) for s, f in PIXEL_CASES for lay in ("NCHW", "NHWC") for d in (np.float32, np.int64)],
    [
        ((1, 8, 3, 2), 2, "NCHW", np.float32),
        ((1, 8, 3, 2), 2, "NHWC", np.float32),
        ((1, 12, 2, 2), (3, 2), "NCHW", np.float32),
        ((2, 1, 4, 2, 2), 2, "NHWC", np.float32),
    ],
)
def test_pixel_shuffle_and_unshuffle_match_reference(backend, shape, factor, layout, dtype):
    rh, rw = (factor, factor) if np.isscalar(factor) else factor
    x = values(shape, dtype)
    up = ref.pixel_shuffle(x, rh, rw)
    got = pixel_on(backend, numbaconv.pixel_shuffle, x, factor, layout)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, up)
    np.testing.assert_array_equal(pixel_on(backend, numbaconv.pixel_unshuffle, up, factor, layout), x)
    down = values(up.shape, dtype, 1)
    got_down = pixel_on(backend, numbaconv.pixel_unshuffle, down, factor, layout)
    assert got_down.dtype == dtype
    np.testing.assert_array_equal(got_down, ref.pixel_unshuffle(down, rh, rw))


def test_pixel_shuffle_out_and_strided_input(backend):
    for dtype, shape in [(np.float32, sized((2, 8, 6, 8), backend)), (np.int64, (1, 8, 2, 6))]:
        host = values(shape, dtype)
        n, c, h, w = shape
        out = full(backend, (n, c // 4, 2 * h, w), np.nan if dtype == np.float32 else -1, dtype)
        assert numbaconv.pixel_shuffle(to_backend(backend, host)[:, :, :, ::2], 2, out=out) is out
        np.testing.assert_array_equal(to_host(backend, out), ref.pixel_shuffle(host[:, :, :, ::2], 2, 2))
        out = full(backend, (n, 4 * c, h // 2, w // 2), 0, dtype)
        assert numbaconv.pixel_unshuffle(to_backend(backend, host), 2, out=out) is out
        np.testing.assert_array_equal(to_host(backend, out), ref.pixel_unshuffle(host, 2, 2))


def test_shuffle_float16(backend):
    """float16 moves as a 2-byte word: channel_shuffle in both layouts, pixel_shuffle and its inverse."""
    x = values((1, 8, 2, 1, 2), np.float16)
    for channels_last in (False, True):
        got = channel_shuffle_on(backend, x, 4, channels_last)
        assert got.dtype == np.float16
        np.testing.assert_array_equal(got, ref.channel_shuffle(x, 4))
    x = values((1, 8, 3, 2), np.float16)
    for layout in ("NCHW", "NHWC"):
        up = pixel_on(backend, numbaconv.pixel_shuffle, x, 2, layout)
        assert up.dtype == np.float16
        np.testing.assert_array_equal(up, ref.pixel_shuffle(x, 2, 2))
        np.testing.assert_array_equal(pixel_on(backend, numbaconv.pixel_unshuffle, up, 2, layout), x)


@given(
    st.integers(1, 2),
    st.integers(1, 3),
    st.integers(1, 3),
    st.integers(1, 3),
    st.integers(1, 3),
    st.integers(1, 3),
    st.booleans(),
    st.integers(0, 99),
)
def test_pixel_unshuffle_inverts_pixel_shuffle(n, c, h, w, rh, rw, channels_last, seed):
    x = values((n, c * rh * rw, h, w), np.float64, seed)
    layout = "NHWC" if channels_last else "NCHW"
    if channels_last:
        x = to_channels_last(x)
    up = numbaconv.pixel_shuffle(x, (rh, rw), layout=layout)
    np.testing.assert_array_equal(numbaconv.pixel_unshuffle(up, (rh, rw), layout=layout), x)
    np.testing.assert_array_equal(
        numbaconv.pixel_shuffle(numbaconv.pixel_unshuffle(up, (rh, rw), layout=layout), (rh, rw), layout=layout), up
    )


# ---- shuffle_conv2d ----

SHUFFLE_CASES = [
    # Each per-group convolution picks a different algorithm.
    Case("direct", (2, 6, 7, 8), (6, 2, 3, 3), dict(groups=3, padding=1)),
    Case("pointwise_shufflenet", (2, 8, 5, 6), (12, 2, 1, 1), dict(groups=4)),
    Case("depthwise_strided", (2, 4, 7, 6), (8, 1, 3, 3), dict(groups=4, stride=2, padding=(1, 0))),
    Case("gemm_dilated", (2, 8, 7, 7), (16, 4, 3, 3), dict(groups=2, dilation=2, padding="same")),
]
# Batch 1 and fewer pixels on CUDA: the simulator runs every thread in Python.
CUDA_SHUFFLE_CASES = [replace(c, x=(1, c.x[1], 5, 6)) for c in SHUFFLE_CASES]


def shuffle_expected(x, w, b, kw, **options):
    kw = {**kw, **options}
    pads = reference_pads(x.shape[2:], w.shape[2:], kw.get("padding", 0), kw.get("stride", 1), kw.get("dilation", 1))
    return ref.shuffle_conv(
        x,
        w,
        b,
        groups=kw["groups"],
        stride=kw.get("stride", 1),
        pads=pads,
        dilation=kw.get("dilation", 1),
        padding_mode=kw.get("padding_mode", "zeros"),
        act=kw.get("activation"),
        negative_slope=kw.get("negative_slope", 0.01),
    )


def group_algorithms(case, backend, **options):
    """The algorithms of one group's convolution (what shuffle_conv2d's `algorithm` picks among)."""
    g = case.kw["groups"]
    one_group = numbaconv.conv_params(
        "t",
        2,
        (case.x[0], case.x[1] // g, *case.x[2:]),
        (case.w[0] // g, *case.w[1:]),
        **{**case.kw, **options, "groups": 1},
    )
    return applicable_algorithms(one_group, backend)


# CPU: every case x layout x float32/float64 (auto). CUDA: every case x CUDA algorithm in float32.
@over_backends(
    "case,algorithm,layout,dtype",
    [(c, "auto", lay, d) for c in SHUFFLE_CASES for lay in LAYOUTS for d in (np.float32, np.float64)],
    [(c, a, "first", np.float32) for c in CUDA_SHUFFLE_CASES for a in group_algorithms(c, "cuda")],
)
def test_shuffle_conv2d_matches_conv_then_shuffle(backend, case, algorithm, layout, dtype):
    x, w, b = rand(case.x, dtype, 1), rand(case.w, dtype, 2), rand(case.w[:1], dtype, 3)
    want = shuffle_expected(x, w, b, case.kw)
    got = run(backend, numbaconv.shuffle_conv2d, x, w, b, layout=layout, algorithm=algorithm, **case.kw)
    assert got.dtype == dtype
    assert_close(got, want, dtype)
    if case.name == "direct" and dtype == np.float64:
        two_steps = run(
            backend,
            lambda x, w, b: numbaconv.channel_shuffle(numbaconv.conv2d(x, w, b, **case.kw), case.kw["groups"]),
            x,
            w,
            b,
        )
        assert_close(got, two_steps)


@over_backends("case,layout", [(c, "first") for c in SHUFFLE_CASES], [(CUDA_SHUFFLE_CASES[i], "last") for i in (0, 2)])
def test_shuffle_conv2d_activation_and_padding_mode(backend, case, layout):
    """Every algorithm of the per-group convolution on the CPU; auto channels-last on CUDA."""
    x, w, b = rand(case.x, np.float64, 4), rand(case.w, np.float64, 5), rand(case.w[:1], np.float64, 6)
    options = dict(activation="leaky_relu", negative_slope=0.2, padding_mode="circular")
    want = shuffle_expected(x, w, b, case.kw, **options)
    names = group_algorithms(case, "cpu", padding_mode="circular") if backend == "cpu" else ("auto",)
    for algorithm in names:
        got = run(backend, numbaconv.shuffle_conv2d, x, w, b, layout=layout, algorithm=algorithm, **case.kw, **options)
        assert_close(got, want)


def test_shuffle_conv2d_float16_integer_input_and_out(backend):
    case = (SHUFFLE_CASES if backend == "cpu" else CUDA_SHUFFLE_CASES)[1]
    x, w = rand(case.x, np.float16, 7), rand(case.w, np.float16, 8)
    got = run(backend, numbaconv.shuffle_conv2d, x, w, **case.kw)
    assert got.dtype == np.float16
    assert_close(got, shuffle_expected(x, w, None, case.kw), np.float16)
    xi = np.random.default_rng(9).integers(-5, 5, case.x).astype(np.int16)
    out = full(backend, (case.x[0], 12, 5, 6), np.nan, np.float64)
    assert numbaconv.shuffle_conv2d(to_backend(backend, xi), to_backend(backend, w), groups=4, out=out) is out
    assert_close(to_host(backend, out), shuffle_expected(xi, w, None, case.kw))
    assert run(backend, numbaconv.shuffle_conv2d, xi, w, groups=4, dtype=np.float32).dtype == np.float32


# ---- spatially_separable_conv2d ----

SEPARABLE_CASES = [
    (
        "dense_pairs",
        (2, 3, 9, 8),
        (4, 3, 3, 1),
        (5, 4, 1, 3),
        dict(stride=(2, 1), padding=((1, 0), (2, 1)), dilation=(1, 2)),
    ),
    ("depthwise_3d_weights", (1, 3, 7, 9), (3, 1, 3), (3, 1, 5), dict(groups=3, padding=(1, 2))),
    ("same_strided", (1, 2, 10, 11), (2, 2, 4, 1), (3, 2, 1, 2), dict(stride=2, dilation=(2, 1), padding="same")),
    ("full", (1, 2, 5, 4), (2, 1, 2, 1), (2, 1, 1, 3), dict(groups=2, padding="full")),
]


def separable_expected(xs, cs, rs, kw, x, col, row, b=None, **options):
    kw = {**kw, **options}
    col4 = col if col.ndim == 4 else col[..., None]
    row4 = row if row.ndim == 4 else row[:, :, None, :]
    stride, dilation = np.broadcast_to(kw.get("stride", 1), (2,)), np.broadcast_to(kw.get("dilation", 1), (2,))
    pads = reference_pads(xs[2:], (cs[2], rs[-1]), kw.get("padding", 0), stride, dilation)
    return ref.spatially_separable_conv(
        x,
        col4,
        row4,
        b,
        stride=stride,
        pads=pads,
        dilation=dilation,
        groups=kw.get("groups", 1),
        padding_mode=kw.get("padding_mode", "zeros"),
        flip=kw.get("flip", False),
        act=kw.get("activation"),
    )


# CPU: every case x layout x float32/float64; CUDA: every case in float32.
@over_backends(
    "case,layout,dtype",
    [(c, lay, d) for c in SEPARABLE_CASES for lay in LAYOUTS for d in (np.float32, np.float64)],
    [(c, "first", np.float32) for c in SEPARABLE_CASES],
)
def test_spatially_separable_matches_two_reference_convs(backend, case, layout, dtype):
    _, xs, cs, rs, kw = case
    xs = sized(xs, backend)
    x, col, row, b = rand(xs, dtype, 10), rand(cs, dtype, 11), rand(rs, dtype, 12), rand(rs[:1], dtype, 13)
    got = run(backend, numbaconv.spatially_separable_conv2d, x, col, row, b, layout=layout, **kw)
    assert got.dtype == dtype
    assert_close(got, separable_expected(xs, cs, rs, kw, x, col, row, b), dtype)


@pytest.mark.parametrize("flip", [False, True])
@pytest.mark.parametrize("padding_mode", ["reflect", "replicate", "circular"])
def test_spatially_separable_equals_rank1_conv_for_every_padding_mode(padding_mode, flip):
    """Depthwise column then row filter = one conv2d with the outer-product kernel, whatever the padding."""
    x = rand((2, 3, 8, 9), np.float64, 14)
    col, row = rand((3, 1, 3), np.float64, 15), rand((3, 1, 4), np.float64, 16)
    kernel = col[:, :, :, None] * row[:, :, None, :]
    kw = dict(
        stride=(2, 3), padding=((1, 2), (2, 1)), groups=3, padding_mode=padding_mode, flip=flip, activation="tanh"
    )
    got = numbaconv.spatially_separable_conv2d(x, col, row, **kw)
    assert_close(
        got,
        ref.conv(
            x, kernel, stride=(2, 3), pads=[(1, 2), (2, 1)], groups=3, padding_mode=padding_mode, flip=flip, act="tanh"
        ),
    )


@given(
    st.integers(1, 3),
    st.integers(1, 3),
    st.integers(1, 2),
    st.integers(1, 3),
    st.integers(1, 2),
    st.integers(1, 2),
    st.integers(0, 2),
    st.sampled_from(["zeros", "replicate", "circular"]),
    st.integers(0, 99),
)
def test_spatially_separable_equals_two_conv2d_calls(kh, kw, sh, sw, dh, dw, pad, padding_mode, seed):
    x = rand((1, 2, 7, 8), np.float64, seed)
    col, row, b = (
        rand((3, 2, kh, 1), np.float64, seed + 1),
        rand((2, 3, 1, kw), np.float64, seed + 2),
        rand((2,), np.float64, seed + 3),
    )
    got = numbaconv.spatially_separable_conv2d(
        x,
        col,
        row,
        b,
        stride=(sh, sw),
        dilation=(dh, dw),
        padding=(pad, pad + 1),
        padding_mode=padding_mode,
        activation="relu",
    )
    mid = numbaconv.conv2d(
        x, col, stride=(sh, 1), dilation=(dh, 1), padding=((pad, pad), (0, 0)), padding_mode=padding_mode
    )
    want = numbaconv.conv2d(
        mid,
        row,
        b,
        stride=(1, sw),
        dilation=(1, dw),
        padding=((0, 0), (pad + 1, pad + 1)),
        padding_mode=padding_mode,
        activation="relu",
    )
    assert_close(got, want)


def test_spatially_separable_channels_last_padding_mode_float16_and_out(backend):
    _, xs, cs, rs, kw = SEPARABLE_CASES[1]
    x, col, row = rand(xs, np.float64, 14), rand(cs, np.float64, 15), rand(rs, np.float64, 16)
    options = dict(padding_mode="reflect", flip=True, activation="tanh")
    got = run(backend, numbaconv.spatially_separable_conv2d, x, col, row, layout="last", **kw, **options)
    assert_close(got, separable_expected(xs, cs, rs, kw, x, col, row, **options))
    half = [rand(s, np.float16, seed) for s, seed in ((xs, 17), (cs, 18), (rs, 19))]
    got = run(backend, numbaconv.spatially_separable_conv2d, *half, **kw)
    assert got.dtype == np.float16
    assert_close(got, separable_expected(xs, cs, rs, kw, *half), np.float16)
    out = full(backend, (1, 3, 7, 9), np.nan, np.float32)
    x32 = half[0].astype(np.float32)
    assert (
        numbaconv.spatially_separable_conv2d(
            to_backend(backend, x32), to_backend(backend, half[1]), to_backend(backend, half[2]), out=out, **kw
        )
        is out
    )
    assert_close(to_host(backend, out), separable_expected(xs, cs, rs, kw, *half), np.float32)
    out = full(backend, (1, 3, 7, 9), np.nan, np.float64)
    assert numbaconv.spatially_separable_conv2d(*(to_backend(backend, a) for a in (x, col, row)), out=out, **kw) is out
    assert_close(to_host(backend, out), separable_expected(xs, cs, rs, kw, x, col, row))


# ---- factorize_separable ----


def reconstruct(column, row):
    return np.einsum("...ri,...rj->...ij", column, row)


def test_factorize_sobel_is_exact_and_usable_by_the_separable_conv():
    sobel = np.outer([1, 2, 1], [1, 0, -1])
    column, row, error = numbaconv.factorize_separable(sobel)
    assert column.shape == (1, 3) and row.shape == (1, 3) and np.ndim(error) == 0
    assert error < 1e-14
    np.testing.assert_allclose(reconstruct(column, row), sobel, atol=1e-12)
    np.testing.assert_allclose(column[0] / column[0, 0], [1, 2, 1])  # sign made deterministic: positive peak
    x = rand((1, 1, 6, 7), np.float64, 20)
    got = numbaconv.spatially_separable_conv2d(x, column[:, None, :], row[None], padding=1)
    assert_close(got, ref.conv(x, sobel[None, None], pads=1))
    kernel = rand((3, 4), np.float64, 22)
    column, row, _ = numbaconv.factorize_separable(kernel, rank=2)
    got = numbaconv.spatially_separable_conv2d(x, column[:, None, :], row[None], padding=1)
    assert_close(got, ref.conv(x, reconstruct(column, row)[None, None], pads=1))


@given(st.integers(1, 5), st.integers(1, 5), st.integers(1, 5), st.integers(0, 99))
def test_factorize_is_exact_on_sums_of_outer_products(kh, kw, rank, seed):
    rank = min(rank, kh, kw)
    a, b = rand((2, 3, rank, kh), np.float64, seed), rand((2, 3, rank, kw), np.float64, seed + 1)
    kernel = reconstruct(a, b)
    column, row, error = numbaconv.factorize_separable(kernel, rank)
    assert column.shape == (2, 3, rank, kh) and row.shape == (2, 3, rank, kw) and error.shape == (2, 3)
    np.testing.assert_allclose(reconstruct(column, row), kernel, atol=1e-10)
    assert np.all(error < 1e-7)


@given(st.integers(1, 5), st.integers(1, 5), st.integers(1, 5), st.integers(0, 99))
def test_factorize_reports_its_true_reconstruction_error(kh, kw, rank, seed):
    rank = min(rank, kh, kw)
    kernel = rand((4, kh, kw), np.float64, seed)
    column, row, error = numbaconv.factorize_separable(kernel, rank)
    residual = np.linalg.norm(kernel - reconstruct(column, row), axis=(-2, -1)) / np.linalg.norm(kernel, axis=(-2, -1))
    np.testing.assert_allclose(error, residual, atol=1e-12)
    if rank == min(kh, kw):
        assert np.all(error < 1e-12)
    if rank > 1:
        assert np.all(numbaconv.factorize_separable(kernel, rank - 1).error >= error - 1e-12)


@pytest.mark.parametrize("lead", [(), (3,), (3, 1)])
@pytest.mark.parametrize("rank", [1, 2])
def test_factorize_weights_go_into_the_separable_conv_as_they_are(lead, rank):
    kernels = rand((*lead, 3, 4), np.float64, 23)
    s = numbaconv.factorize_separable(kernels, rank)
    channels = lead[0] if lead else 1
    assert s.groups == channels
    assert s.column_weight.shape == (channels * rank, 1, 3) and s.row_weight.shape == (channels, rank, 4)
    x = rand((2, channels, 6, 7), np.float64, 24)
    got = numbaconv.spatially_separable_conv2d(x, s.column_weight, s.row_weight, groups=s.groups, padding=1)
    approx = reconstruct(s.column, s.row).reshape(channels, 1, 3, 4)
    assert_close(got, ref.conv(x, approx, pads=1, groups=channels))
    full = numbaconv.factorize_separable(kernels, 3)  # rank min(kH, kW): the kernels themselves
    got = numbaconv.spatially_separable_conv2d(x, full.column_weight, full.row_weight, groups=full.groups)
    assert_close(got, ref.conv(x, kernels.reshape(channels, 1, 3, 4), groups=channels))


def test_factorize_of_a_channel_mixing_weight_has_no_separable_pair():
    s = numbaconv.factorize_separable(rand((4, 2, 3, 3), np.float64, 25))
    with pytest.raises(ValueError, match=r"factorize_separable: a weight of shape \(4, 2, 3, 3\) mixes channels"):
        s.groups


def test_factorize_identity_zero_kernel_and_dtypes():
    # eye(3) has three equal singular values: rank 1 keeps 1 of 3, error sqrt(2/3).
    assert abs(numbaconv.factorize_separable(np.eye(3)).error - np.sqrt(2 / 3)) < 1e-12
    zero = numbaconv.factorize_separable(np.zeros((2, 3, 3)))
    np.testing.assert_array_equal(zero.error, [0, 0])
    np.testing.assert_array_equal(zero.column, 0)
    f32 = numbaconv.factorize_separable(rand((2, 3, 3), np.float16, 21))
    assert f32.column.dtype == f32.row.dtype == np.float32 and f32.error.dtype == np.float64
    assert numbaconv.factorize_separable(np.ones((3, 3), np.int8)).column.dtype == np.float64


# ---- errors ----

X4 = np.zeros((1, 4, 5, 5), np.float32)


@pytest.mark.parametrize(
    "call,exc,match",
    [
        (lambda: numbaconv.channel_shuffle([[1, 2]], 1), TypeError, "channel_shuffle: x must be a NumPy array"),
        (
            lambda: numbaconv.channel_shuffle(np.empty((2, 2), object), 1),
            TypeError,
            "channel_shuffle: input dtype object is not supported",
        ),
        (lambda: numbaconv.channel_shuffle(np.zeros(4), 2), ValueError, r"channel_shuffle: input must be at least 2-d"),
        (lambda: numbaconv.channel_shuffle(X4, 0), ValueError, r"channel_shuffle: groups=0 must be a positive integer"),
        (lambda: numbaconv.channel_shuffle(X4, 2.0), ValueError, r"channel_shuffle: groups=2.0 must be a positive"),
        (
            lambda: numbaconv.channel_shuffle(X4, 3),
            ValueError,
            r"channel_shuffle: groups=3 must divide the number of channels 4",
        ),
        (
            lambda: numbaconv.channel_shuffle(X4, 2, layout="NCW"),
            ValueError,
            r"channel_shuffle: layout='NCW' must be 'NCHW' or 'NHWC' for 2-d input",
        ),
        (
            lambda: numbaconv.channel_shuffle(np.zeros((1, 2, 1, 1, 1, 1)), 2, layout="NHWC"),
            ValueError,
            r"channel_shuffle: layout='NHWC' does not describe a 6-d input",
        ),
        (
            lambda: numbaconv.channel_shuffle(X4, 2, out=np.zeros((1, 4, 5, 5))),
            TypeError,
            r"channel_shuffle: out.dtype=float64 must equal the result dtype float32",
        ),
        (lambda: numbaconv.channel_shuffle(X4, 2, out=X4), ValueError, r"channel_shuffle: out overlaps x"),
        (
            lambda: numbaconv.pixel_shuffle(X4, 3),
            ValueError,
            r"pixel_shuffle: input channels 4 must be divisible by upscale_factor\*\*2 = 3 \* 3 = 9",
        ),
        (
            lambda: numbaconv.pixel_shuffle(X4, (2, 0)),
            ValueError,
            r"pixel_shuffle: upscale_factor=\(2, 0\) must be pos",
        ),
        (lambda: numbaconv.pixel_shuffle(X4, 1.5), TypeError, r"pixel_shuffle: upscale_factor=1.5 must be an int"),
        (
            lambda: numbaconv.pixel_shuffle(np.zeros((4, 4)), 2),
            ValueError,
            r"pixel_shuffle: input must be at least 3-d \(\*, C, H, W\)",
        ),
        (lambda: numbaconv.pixel_shuffle(X4, 2, layout="NCDHW"), ValueError, r"pixel_shuffle: layout='NCDHW' must be"),
        (
            lambda: numbaconv.pixel_shuffle(X4, 2, out=np.zeros((1, 1, 5, 5), np.float32)),
            ValueError,
            r"pixel_shuffle: out.shape=\(1, 1, 5, 5\) must equal the result shape \(1, 1, 10, 10\)",
        ),
        (
            lambda: numbaconv.pixel_unshuffle(X4, 2),
            ValueError,
            r"pixel_unshuffle: input height 5 must be divisible by downscale_factor 2",
        ),
        (
            lambda: numbaconv.pixel_unshuffle(X4, (5, 2)),
            ValueError,
            r"pixel_unshuffle: input width 5 must be divisible by downscale_factor 2",
        ),
        (
            lambda: numbaconv.pixel_unshuffle(np.zeros((3, 4, 6)), 2, layout="NHWC"),
            ValueError,
            r"pixel_unshuffle: input height 3 must be divisible",
        ),
    ],
)
def test_shuffle_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


W4 = np.zeros((4, 2, 3, 3), np.float32)


@pytest.mark.parametrize(
    "call,exc,match",
    [
        (
            lambda: numbaconv.shuffle_conv2d(X4, W4, groups=3),
            ValueError,
            r"shuffle_conv2d: groups=3 must divide "
            r"in_channels=4",
        ),
        (
            lambda: numbaconv.shuffle_conv2d(X4, np.zeros((3, 2, 3, 3)), groups=2),
            ValueError,
            r"shuffle_conv2d: groups=2 must divide out_channels=3",
        ),
        (
            lambda: numbaconv.shuffle_conv2d(X4, W4, groups=2, algorithm="im2win"),
            ValueError,
            r"shuffle_conv2d: algorithm='im2win' is unknown",
        ),
        (
            lambda: numbaconv.shuffle_conv2d(X4, W4, groups=2, stride=2, algorithm="winograd"),
            ValueError,
            r"shuffle_conv2d: algorithm='winograd' does not apply",
        ),
        (
            lambda: numbaconv.shuffle_conv2d(X4, W4, groups=2, algorithm="pointwise"),
            ValueError,
            r"shuffle_conv2d: algorithm='pointwise' does not apply",
        ),
        (
            lambda: numbaconv.shuffle_conv2d(X4, W4, np.zeros(3), groups=2),
            ValueError,
            r"shuffle_conv2d: bias.shape=\(3,\) must be \(out_channels,\) = \(4,\)",
        ),
        (
            lambda: numbaconv.shuffle_conv2d(X4.astype(int), W4, groups=2),
            TypeError,
            r"shuffle_conv2d: integer input \(int64\) needs an explicit accumulate dtype",
        ),
        (
            lambda: numbaconv.shuffle_conv2d(X4, W4, groups=2, out=np.zeros((1, 4, 3, 3))),
            TypeError,
            r"shuffle_conv2d: out.dtype=float64 must equal the result dtype float32",
        ),
        (
            lambda: numbaconv.shuffle_conv2d(X4, W4.astype(bool), groups=2),
            TypeError,
            r"shuffle_conv2d: weight dtype bool is not supported",
        ),
        (
            lambda: numbaconv.spatially_separable_conv2d(X4, np.zeros((2, 4, 3, 2)), np.zeros((2, 2, 1, 3))),
            ValueError,
            r"spatially_separable_conv2d: column_weight.shape=\(2, 4, 3, 2\) must be \(C_mid, C_in/groups, kH\) or",
        ),
        (
            lambda: numbaconv.spatially_separable_conv2d(
                X4,
                np.zeros((2, 4, 3)),
                np.zeros((2, 2)),
            ),
            ValueError,
            r"spatially_separable_conv2d: row_weight.shape=\(2, 2\) must be \(C_out, C_mid/groups, kW\)",
        ),
        (
            lambda: numbaconv.spatially_separable_conv2d(X4, np.zeros((2, 3, 3)), np.zeros((2, 2, 3))),
            ValueError,
            r"spatially_separable_conv2d \(column pass\): weight.shape\[1\]=3 must equal in_channels / groups",
        ),
        (
            lambda: numbaconv.spatially_separable_conv2d(X4, np.zeros((2, 4, 3)), np.zeros((2, 3, 3))),
            ValueError,
            r"spatially_separable_conv2d \(row pass\): weight.shape\[1\]=3 must equal in_channels / groups = 2 / 1",
        ),
        (
            lambda: numbaconv.spatially_separable_conv2d(X4, np.zeros((2, 4, 3)), np.zeros((2, 2, 7))),
            ValueError,
            r"spatially_separable_conv2d \(row pass\): output size -1 < 1 along spatial dim 1",
        ),
        (
            lambda: numbaconv.spatially_separable_conv2d(X4, np.zeros((2, 4, 3)), np.zeros((2, 2, 3)), stride=(1, 0)),
            ValueError,
            r"spatially_separable_conv2d: stride=\(1, 0\) must be positive",
        ),
        (
            lambda: numbaconv.spatially_separable_conv2d(X4, np.zeros((2, 4, 3)), np.zeros((2, 2, 3)), dilation=0.5),
            TypeError,
            r"spatially_separable_conv2d: dilation=0.5 must be an int or a sequence of 2 ints",
        ),
        (
            lambda: numbaconv.spatially_separable_conv2d(X4, np.zeros((2, 4, 3)), np.zeros((2, 2, 3)), padding=-1),
            ValueError,
            r"spatially_separable_conv2d: padding=-1 must be >= 0",
        ),
        (
            lambda: numbaconv.spatially_separable_conv2d(X4, np.zeros((2, 4, 3)), np.zeros((2, 2, 3)), padding="half"),
            ValueError,
            r"spatially_separable_conv2d \(column pass\): padding='half' is not one of",
        ),
        (
            lambda: numbaconv.spatially_separable_conv2d(
                X4, np.zeros((2, 4, 3)), np.zeros((2, 2, 3)), padding=(0, 5), padding_mode="reflect"
            ),
            ValueError,
            r"spatially_separable_conv2d \(row pass\): reflect padding \(5, 5\) along spatial dim 1 must be smaller",
        ),
        (
            lambda: numbaconv.spatially_separable_conv2d(X4, np.zeros((2, 4, 3)), np.zeros((2, 2, 3)), np.zeros(3)),
            ValueError,
            r"spatially_separable_conv2d \(row pass\): bias.shape=\(3,\) must be \(out_channels,\) = \(2,\)",
        ),
        (
            lambda: numbaconv.spatially_separable_conv2d(
                X4, np.zeros((2, 4, 3)), np.zeros((2, 2, 3)), activation="gelu"
            ),
            ValueError,
            r"spatially_separable_conv2d \(row pass\): activation='gelu' is not one of",
        ),
        (
            lambda: numbaconv.spatially_separable_conv2d(
                X4, np.zeros((2, 4, 3)), np.zeros((2, 2, 3)), out=np.zeros((1, 2, 5, 5), np.float32)
            ),
            ValueError,
            r"spatially_separable_conv2d: out.shape=\(1, 2, 5, 5\) must equal the result shape \(1, 2, 3, 3\)",
        ),
        (
            lambda: numbaconv.spatially_separable_conv2d(X4, np.zeros((2, 4, 3), complex), np.zeros((2, 2, 3))),
            TypeError,
            r"spatially_separable_conv2d: column_weight dtype complex128 is not supported",
        ),
        (
            lambda: numbaconv.factorize_separable(np.zeros(3)),
            ValueError,
            r"factorize_separable: weight must be at least 2-d \(..., kH, kW\), got 1-d shape \(3,\)",
        ),
        (
            lambda: numbaconv.factorize_separable(np.zeros((3, 0))),
            ValueError,
            r"factorize_separable: kernel size \(3, 0\) \(weight.shape\[-2:\]\) must be positive",
        ),
        (
            lambda: numbaconv.factorize_separable(np.zeros((3, 2)), rank=3),
            ValueError,
            r"factorize_separable: rank=3 must be an integer from 1 to min\(kH, kW\) = 2",
        ),
        (lambda: numbaconv.factorize_separable(np.zeros((3, 2)), rank=0), ValueError, r"factorize_separable: rank=0"),
        (
            lambda: numbaconv.factorize_separable(np.zeros((3, 3), complex)),
            TypeError,
            r"factorize_separable: weight dtype complex128 is not supported",
        ),
        (lambda: numbaconv.factorize_separable([[1, 2]]), TypeError, r"factorize_separable: weight must be a NumPy"),
    ],
)
def test_conv_shuffle_and_separable_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


class FakeDeviceArray:
    """Looks like a CUDA array to the dispatcher; any attempt to compute with it would fail loudly."""

    __cuda_array_interface__ = {"shape": (1, 4, 5, 5), "typestr": "<f4", "data": (0, False), "version": 3}


def test_host_only_functions_reject_cuda_arrays_before_any_work():
    with pytest.raises(
        TypeError,
        match=r"factorize_separable: weight is a CUDA array \(FakeDeviceArray\); "
        r"factorize_separable is a host function that takes NumPy",
    ):
        numbaconv.factorize_separable(FakeDeviceArray())
    with pytest.raises(NotImplementedError, match=r"dead_channels: .*CUDA"):
        numbaconv.dead_channels(FakeDeviceArray())


@pytest.mark.parametrize(
    "call",
    [
        lambda: numbaconv.channel_shuffle(X4, 2, stream=0),
        lambda: numbaconv.pixel_shuffle(X4, 1, stream=0),
        lambda: numbaconv.pixel_unshuffle(X4, 1, stream=0),
        lambda: numbaconv.shuffle_conv2d(X4, W4, groups=2, stream=0),
        lambda: numbaconv.spatially_separable_conv2d(X4, np.zeros((2, 4, 3)), np.zeros((2, 2, 3)), stream=0),
    ],
)
def test_stream_is_for_cuda_arrays_only(call):
    with pytest.raises(ValueError, match=r"stream=0 applies to CUDA arrays only; these are NumPy arrays"):
        call()


# ---- CUDA only ----


@pytest.mark.cuda
@pytest.mark.usefixtures("small_blocks")
def test_cuda_stream_argument(dev):
    from numba import cuda

    x = values((2, 4, 3), np.float64)
    out = cuda.device_array((2, 4, 3), np.float64)
    assert numbaconv.channel_shuffle(dev(x), 2, out=out, stream=cuda.default_stream()) is out
    np.testing.assert_array_equal(to_host("cuda", out), ref.channel_shuffle(x, 2))


@pytest.mark.cuda
def test_cuda_shuffle_errors_before_any_work(dev):
    from numba import cuda

    x = dev(values((1, 4, 2, 2), np.float32))
    with pytest.raises(TypeError, match=r"channel_shuffle: out is a host \(NumPy\) array but x is a CUDA array"):
        numbaconv.channel_shuffle(x, 2, out=np.empty((1, 4, 2, 2), np.float32))
    with pytest.raises(ValueError, match=r"channel_shuffle: groups=3 must divide the number of channels 4"):
        numbaconv.channel_shuffle(x, 3)
    with pytest.raises(ValueError, match=r"channel_shuffle: out overlaps x"):
        numbaconv.channel_shuffle(x, 2, out=x)
    with pytest.raises(TypeError, match=r"pixel_shuffle: out.dtype=float64 must equal the result dtype float32"):
        numbaconv.pixel_shuffle(x, 2, out=cuda.device_array((1, 1, 4, 4), np.float64))
    with pytest.raises(
        ValueError,
        match=r"pixel_unshuffle: out.shape=\(1, 4, 1, 1\) must equal the result shape "
        r"\(1, 16, 1, 1\)",
    ):
        numbaconv.pixel_unshuffle(x, 2, out=cuda.device_array((1, 4, 1, 1), np.float32))
    with pytest.raises(ValueError, match=r"pixel_shuffle: out must be C-contiguous"):
        numbaconv.pixel_shuffle(x, 2, out=cuda.device_array((1, 1, 4, 8), np.float32)[:, :, :, ::2])
    # Six strided axes that no merge reduces to five: the gather kernel's view cannot hold them.
    six = dev(np.zeros((4,) * 6, np.float32))[(slice(None, None, 2),) * 6]
    with pytest.raises(
        NotImplementedError,
        match=r"channel_shuffle: a non-contiguous CUDA input with more than 5 "
        r"independent strided axes \(shape \(2, 2, 2, 2, 2, 2\)",
    ):
        numbaconv.channel_shuffle(six, 2)


@pytest.mark.cuda
def test_cuda_conv_shuffle_and_separable_errors(dev):
    xs, ws, kw = (1, 8, 5, 6), (12, 2, 1, 1), dict(groups=4)
    x, w = rand(xs, np.float16, 7), rand(ws, np.float16, 8)
    with pytest.raises(TypeError, match=r"shuffle_conv2d: weight is a host \(NumPy\) array but x is a CUDA array"):
        numbaconv.shuffle_conv2d(dev(x), w, **kw)
    with pytest.raises(ValueError, match=r"shuffle_conv2d: algorithm='pointwise' is unknown; valid CUDA algorithms"):
        numbaconv.shuffle_conv2d(dev(x), dev(w), algorithm="pointwise", **kw)
    with pytest.raises(ValueError, match=r"shuffle_conv2d: out overlaps x"):
        d = dev(np.zeros((1, 4, 5, 6), np.float32))
        numbaconv.shuffle_conv2d(d, dev(np.ones((4, 2, 1, 1), np.float32)), groups=2, out=d)
    _, xs, cs, rs, kw = SEPARABLE_CASES[1]
    x, col, row = rand(xs, np.float64, 14), rand(cs, np.float64, 15), rand(rs, np.float64, 16)
    with pytest.raises(
        TypeError,
        match=r"spatially_separable_conv2d: row_weight is a host \(NumPy\) array but x is "
        r"a CUDA array",
    ):
        numbaconv.spatially_separable_conv2d(dev(x), dev(col), row, **kw)
    with pytest.raises(
        TypeError,
        match=r"factorize_separable: weight is a CUDA array \((FakeCUDAArray|DeviceNDArray)"
        r"\); factorize_separable is a host function that takes NumPy",
    ):
        numbaconv.factorize_separable(dev(np.eye(3)))
