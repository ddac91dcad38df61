"""Shuffles and separable filters against tests/reference.py, properties, and every error message."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import numbaconv
import reference as ref
from helpers import assert_close, rand, to_channels_first, to_channels_last

LAST = {0: "NC", 1: "NWC", 2: "NHWC", 3: "NDHWC"}
# Every word size the byte-moving kernel uses: 1 (bool), 2 (float16), 4, 8 and 2 x 8 (complex128).
MOVE_DTYPES = [np.float32, np.float64, np.int16, np.float16, np.bool_, np.complex128]


def values(shape, dtype, seed=0):
    """Distinct-ish values of any dtype, so a misplaced element shows."""
    v = np.random.default_rng(seed).integers(-100, 100, shape)
    if np.dtype(dtype).kind == "b":
        return v > 0
    if np.dtype(dtype).kind == "c":
        return (v + 1j * v[..., ::-1]).astype(dtype)
    return v.astype(dtype)


# ---- channel_shuffle ----

@pytest.mark.parametrize("dtype", MOVE_DTYPES)
@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("shape,groups", [((3, 6), 2), ((2, 6, 5), 3), ((2, 12, 3, 4), 4), ((1, 8, 2, 3, 2), 2),
                                          ((2, 4, 3), 4), ((2, 5, 3), 1)])
def test_channel_shuffle_matches_reference(shape, groups, channels_last, dtype):
    x = values(shape, dtype)
    want = ref.channel_shuffle(x, groups)
    if channels_last:
        nd = len(shape) - 2
        got = to_channels_first(numbaconv.channel_shuffle(to_channels_last(x), groups, layout=LAST[nd]))
    else:
        got = numbaconv.channel_shuffle(x, groups)
    assert got.dtype == x.dtype
    np.testing.assert_array_equal(got, want)


def test_channel_shuffle_any_ndim_channels_first_nan_bits_and_out():
    x = values((2, 6, 2, 1, 2, 2), np.float32)
    np.testing.assert_array_equal(numbaconv.channel_shuffle(x, 3), ref.channel_shuffle(x, 3))
    bits = np.array([[0x7FC00001, 0x7FC00002, 1, 2]], np.uint32).view(np.float32)  # NaNs with payloads
    got = numbaconv.channel_shuffle(bits, 2)
    np.testing.assert_array_equal(got.view(np.uint32), [[0x7FC00001, 1, 0x7FC00002, 2]])
    big_endian = values((2, 4, 3), ">f8")
    np.testing.assert_array_equal(numbaconv.channel_shuffle(big_endian, 2), ref.channel_shuffle(big_endian, 2))
    strided = values((2, 8, 6), np.float64)[:, ::2, 1::2]
    out = np.empty((2, 4, 3))
    assert numbaconv.channel_shuffle(strided, 2, out=out) is out
    np.testing.assert_array_equal(out, ref.channel_shuffle(strided, 2))
    assert numbaconv.channel_shuffle(np.empty((0, 4, 3)), 2).shape == (0, 4, 3)


@settings(deadline=None, max_examples=25)
@given(st.integers(1, 3), st.integers(1, 4), st.integers(1, 4), st.integers(0, 2), st.booleans(), st.data())
def test_channel_shuffle_then_inverse_is_identity(n, groups, per_group, nd, channels_last, data):
    spatial = tuple(data.draw(st.integers(1, 3)) for _ in range(nd))
    x = values((n, groups * per_group, *spatial), np.float64, data.draw(st.integers(0, 99)))
    layout = LAST[nd] if channels_last else None
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
    np.testing.assert_array_equal(numbaconv.pixel_shuffle(x, 2),
                                  torch.nn.functional.pixel_shuffle(torch.from_numpy(x), 2).numpy())
    np.testing.assert_array_equal(numbaconv.pixel_unshuffle(x, 2),
                                  torch.nn.functional.pixel_unshuffle(torch.from_numpy(x), 2).numpy())


# ---- pixel_shuffle / pixel_unshuffle ----

PIXEL_CASES = [((2, 8, 3, 4), 2), ((1, 18, 2, 3), (3, 2)), ((4, 2, 3), 1), ((2, 3, 4, 2, 2), 2), ((1, 9, 1, 1), 3)]


@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.float16])
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("shape,factor", PIXEL_CASES)
def test_pixel_shuffle_and_unshuffle_match_reference(shape, factor, layout, dtype):
    rh, rw = (factor, factor) if np.isscalar(factor) else factor
    x = values(shape, dtype)
    want = ref.pixel_shuffle(x, rh, rw)
    down = values(want.shape, dtype, 1)
    want_down = ref.pixel_unshuffle(down, rh, rw)
    if layout == "NHWC":
        last = lambda a: np.ascontiguousarray(np.moveaxis(a, -3, -1))  # noqa: E731
        first = lambda a: np.moveaxis(a, -1, -3)  # noqa: E731
        got = first(numbaconv.pixel_shuffle(last(x), factor, layout="NHWC"))
        got_down = first(numbaconv.pixel_unshuffle(last(down), factor, layout="NHWC"))
    else:
        got = numbaconv.pixel_shuffle(x, factor)
        got_down = numbaconv.pixel_unshuffle(down, factor)
    assert got.dtype == got_down.dtype == dtype
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got_down, want_down)


def test_pixel_shuffle_out_and_strided_input():
    x = values((2, 8, 6, 8), np.float32)[:, :, :, ::2]
    out = np.empty((2, 2, 12, 8), np.float32)
    assert numbaconv.pixel_shuffle(x, 2, out=out) is out
    np.testing.assert_array_equal(out, ref.pixel_shuffle(x, 2, 2))
    out = np.empty((2, 32, 3, 2), np.float32)
    assert numbaconv.pixel_unshuffle(np.ascontiguousarray(x), 2, out=out) is out
    np.testing.assert_array_equal(out, ref.pixel_unshuffle(x, 2, 2))


@settings(deadline=None, max_examples=25)
@given(st.integers(1, 2), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3),
       st.integers(1, 3), st.booleans(), st.integers(0, 99))
def test_pixel_unshuffle_inverts_pixel_shuffle(n, c, h, w, rh, rw, channels_last, seed):
    x = values((n, c * rh * rw, h, w), np.float64, seed)
    layout = "NHWC" if channels_last else "NCHW"
    if channels_last:
        x = to_channels_last(x)
    up = numbaconv.pixel_shuffle(x, (rh, rw), layout=layout)
    np.testing.assert_array_equal(numbaconv.pixel_unshuffle(up, (rh, rw), layout=layout), x)
    np.testing.assert_array_equal(numbaconv.pixel_shuffle(numbaconv.pixel_unshuffle(up, (rh, rw), layout=layout),
                                                          (rh, rw), layout=layout), up)


# ---- shuffle_conv2d ----

SHUFFLE_CASES = [
    # (name, x shape, weight shape, options): each per-group convolution picks a different algorithm.
    ("direct", (2, 6, 7, 8), (6, 2, 3, 3), dict(groups=3, padding=1)),
    ("pointwise_shufflenet", (2, 8, 5, 6), (12, 2, 1, 1), dict(groups=4)),
    ("depthwise_strided", (2, 4, 7, 6), (8, 1, 3, 3), dict(groups=4, stride=2, padding=(1, 0))),
    ("gemm_dilated", (2, 8, 7, 7), (16, 4, 3, 3), dict(groups=2, dilation=2, padding="same")),
]


def shuffle_expected(x, w, b, kw, **options):
    kw = {**kw, **options}
    padding = kw.get("padding", 0)
    if padding == "same":
        pads = [ref.same_pads(n, k, 1, kw.get("dilation", 1)) for n, k in zip(x.shape[2:], w.shape[2:])]
    elif isinstance(padding, tuple):
        pads = [(p, p) for p in padding]
    else:
        pads = padding
    return ref.shuffle_conv(x, w, b, groups=kw["groups"], stride=kw.get("stride", 1), pads=pads,
                            dilation=kw.get("dilation", 1), padding_mode=kw.get("padding_mode", "zeros"),
                            act=kw.get("activation"), negative_slope=kw.get("negative_slope", 0.01))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("name,xs,ws,kw", SHUFFLE_CASES, ids=[c[0] for c in SHUFFLE_CASES])
def test_shuffle_conv2d_matches_conv_then_shuffle(name, xs, ws, kw, layout, dtype):
    x, w, b = rand(xs, dtype, 1), rand(ws, dtype, 2), rand(ws[:1], dtype, 3)
    want = shuffle_expected(x, w, b, kw)
    if layout == "NHWC":
        got = to_channels_first(numbaconv.shuffle_conv2d(to_channels_last(x), w, b, layout="NHWC", **kw))
    else:
        got = numbaconv.shuffle_conv2d(x, w, b, **kw)
    assert got.dtype == dtype
    assert_close(got, want, dtype)
    if name == "direct" and dtype == np.float64:
        assert_close(got, numbaconv.channel_shuffle(numbaconv.conv2d(x, w, b, **kw), kw["groups"]))


@pytest.mark.parametrize("name,xs,ws,kw", SHUFFLE_CASES, ids=[c[0] for c in SHUFFLE_CASES])
def test_shuffle_conv2d_every_algorithm_activation_and_padding_mode(name, xs, ws, kw):
    x, w, b = rand(xs, np.float64, 4), rand(ws, np.float64, 5), rand(ws[:1], np.float64, 6)
    options = dict(activation="leaky_relu", negative_slope=0.2, padding_mode="circular")
    want = shuffle_expected(x, w, b, kw, **options)
    one_group = numbaconv.conv_params("t", 2, (xs[0], xs[1] // kw["groups"], *xs[2:]),
                                      (ws[0] // kw["groups"], *ws[1:]), padding_mode=options["padding_mode"],
                                      **{**kw, "groups": 1})
    from numbaconv._algorithms import applicable_algorithms
    for algorithm in applicable_algorithms(one_group):
        assert_close(numbaconv.shuffle_conv2d(x, w, b, algorithm=algorithm, **kw, **options), want)


def test_shuffle_conv2d_float16_integer_input_and_out():
    name, xs, ws, kw = SHUFFLE_CASES[1]
    x, w = rand(xs, np.float16, 7), rand(ws, np.float16, 8)
    got = numbaconv.shuffle_conv2d(x, w, **kw)
    assert got.dtype == np.float16
    assert_close(got, shuffle_expected(x, w, None, kw), np.float16)
    xi = np.random.default_rng(9).integers(-5, 5, xs).astype(np.int16)
    out = np.full((2, 12, 5, 6), np.nan)
    assert numbaconv.shuffle_conv2d(xi, w, groups=4, out=out) is out
    assert_close(out, shuffle_expected(xi, w, None, kw))
    assert numbaconv.shuffle_conv2d(xi, w, groups=4, dtype=np.float32).dtype == np.float32


# ---- spatially_separable_conv2d ----

SEPARABLE_CASES = [
    ("dense_pairs", (2, 3, 9, 8), (4, 3, 3, 1), (5, 4, 1, 3),
     dict(stride=(2, 1), padding=((1, 0), (2, 1)), dilation=(1, 2))),
    ("depthwise_3d_weights", (1, 3, 7, 9), (3, 1, 3), (3, 1, 5), dict(groups=3, padding=(1, 2))),
    ("same_strided", (1, 2, 10, 11), (2, 2, 4, 1), (3, 2, 1, 2), dict(stride=2, dilation=(2, 1), padding="same")),
    ("full", (1, 2, 5, 4), (2, 1, 2, 1), (2, 1, 1, 3), dict(groups=2, padding="full")),
]
SEP_IDS = [c[0] for c in SEPARABLE_CASES]


def separable_pads(xs, cs, rs, kw):
    """Per-side pads of both dims from the definitions (padding strings resolved on the 2-d kernel)."""
    padding = kw.get("padding", 0)
    stride = np.broadcast_to(kw.get("stride", 1), (2,))
    dilation = np.broadcast_to(kw.get("dilation", 1), (2,))
    kernel = (cs[2], rs[-1])
    if padding == "same":
        return [ref.same_pads(n, k, s, d) for n, k, s, d in zip(xs[2:], kernel, stride, dilation)]
    if padding == "full":
        return [(d * (k - 1),) * 2 for k, d in zip(kernel, dilation)]
    if np.isscalar(padding):
        return [(padding, padding)] * 2
    return [p if isinstance(p, tuple) else (p, p) for p in padding]


def separable_expected(xs, cs, rs, kw, x, col, row, b=None, **options):
    kw = {**kw, **options}
    col4 = col if col.ndim == 4 else col[..., None]
    row4 = row if row.ndim == 4 else row[:, :, None, :]
    return ref.spatially_separable_conv(
        x, col4, row4, b, stride=np.broadcast_to(kw.get("stride", 1), (2,)), pads=separable_pads(xs, cs, rs, kw),
        dilation=np.broadcast_to(kw.get("dilation", 1), (2,)), groups=kw.get("groups", 1),
        padding_mode=kw.get("padding_mode", "zeros"), flip=kw.get("flip", False), act=kw.get("activation"))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("name,xs,cs,rs,kw", SEPARABLE_CASES, ids=SEP_IDS)
def test_spatially_separable_matches_two_reference_convs(name, xs, cs, rs, kw, layout, dtype):
    x, col, row, b = rand(xs, dtype, 10), rand(cs, dtype, 11), rand(rs, dtype, 12), rand(rs[:1], dtype, 13)
    want = separable_expected(xs, cs, rs, kw, x, col, row, b)
    if layout == "NHWC":
        got = to_channels_first(numbaconv.spatially_separable_conv2d(to_channels_last(x), col, row, b,
                                                                     layout="NHWC", **kw))
    else:
        got = numbaconv.spatially_separable_conv2d(x, col, row, b, **kw)
    assert got.dtype == dtype
    assert_close(got, want, dtype)


@pytest.mark.parametrize("flip", [False, True])
@pytest.mark.parametrize("padding_mode", ["reflect", "replicate", "circular"])
def test_spatially_separable_equals_rank1_conv_for_every_padding_mode(padding_mode, flip):
    """Depthwise column then row filter = one conv2d with the outer-product kernel, whatever the padding."""
    x = rand((2, 3, 8, 9), np.float64, 14)
    col, row = rand((3, 1, 3), np.float64, 15), rand((3, 1, 4), np.float64, 16)
    kernel = col[:, :, :, None] * row[:, :, None, :]
    kw = dict(stride=(2, 3), padding=((1, 2), (2, 1)), groups=3, padding_mode=padding_mode, flip=flip,
              activation="tanh")
    got = numbaconv.spatially_separable_conv2d(x, col, row, **kw)
    assert_close(got, ref.conv(x, kernel, stride=(2, 3), pads=[(1, 2), (2, 1)], groups=3,
                               padding_mode=padding_mode, flip=flip, act="tanh"))


@settings(deadline=None, max_examples=25)
@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 2), st.integers(1, 3), st.integers(1, 2),
       st.integers(1, 2), st.integers(0, 2), st.sampled_from(["zeros", "replicate", "circular"]),
       st.integers(0, 99))
def test_spatially_separable_equals_two_conv2d_calls(kh, kw, sh, sw, dh, dw, pad, padding_mode, seed):
    x = rand((1, 2, 7, 8), np.float64, seed)
    col, row, b = rand((3, 2, kh, 1), np.float64, seed + 1), rand((2, 3, 1, kw), np.float64, seed + 2), \
        rand((2,), np.float64, seed + 3)
    got = numbaconv.spatially_separable_conv2d(x, col, row, b, stride=(sh, sw), dilation=(dh, dw),
                                               padding=(pad, pad + 1), padding_mode=padding_mode,
                                               activation="relu")
    mid = numbaconv.conv2d(x, col, stride=(sh, 1), dilation=(dh, 1), padding=((pad, pad), (0, 0)),
                           padding_mode=padding_mode)
    want = numbaconv.conv2d(mid, row, b, stride=(1, sw), dilation=(1, dw), padding=((0, 0), (pad + 1, pad + 1)),
                            padding_mode=padding_mode, activation="relu")
    assert_close(got, want)


def test_spatially_separable_float16_and_out():
    name, xs, cs, rs, kw = SEPARABLE_CASES[1]
    x, col, row = rand(xs, np.float16, 17), rand(cs, np.float16, 18), rand(rs, np.float16, 19)
    got = numbaconv.spatially_separable_conv2d(x, col, row, **kw)
    assert got.dtype == np.float16
    assert_close(got, separable_expected(xs, cs, rs, kw, x, col, row), np.float16)
    out = np.empty((1, 3, 7, 9), np.float32)
    assert numbaconv.spatially_separable_conv2d(x.astype(np.float32), col, row, out=out, **kw) is out
    assert_close(out, separable_expected(xs, cs, rs, kw, x, col, row), np.float32)


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


@settings(deadline=None, max_examples=25)
@given(st.integers(1, 5), st.integers(1, 5), st.integers(1, 5), st.integers(0, 99))
def test_factorize_is_exact_on_sums_of_outer_products(kh, kw, rank, seed):
    rank = min(rank, kh, kw)
    a, b = rand((2, 3, rank, kh), np.float64, seed), rand((2, 3, rank, kw), np.float64, seed + 1)
    kernel = reconstruct(a, b)
    column, row, error = numbaconv.factorize_separable(kernel, rank)
    assert column.shape == (2, 3, rank, kh) and row.shape == (2, 3, rank, kw) and error.shape == (2, 3)
    np.testing.assert_allclose(reconstruct(column, row), kernel, atol=1e-10)
    assert np.all(error < 1e-7)


@settings(deadline=None, max_examples=25)
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


@pytest.mark.parametrize("call,exc,match", [
    (lambda: numbaconv.channel_shuffle([[1, 2]], 1), TypeError, "channel_shuffle: x must be a NumPy array"),
    (lambda: numbaconv.channel_shuffle(np.empty((2, 2), object), 1), TypeError,
     "channel_shuffle: input dtype object is not supported"),
    (lambda: numbaconv.channel_shuffle(np.zeros(4), 2), ValueError, r"channel_shuffle: input must be at least 2-d"),
    (lambda: numbaconv.channel_shuffle(X4, 0), ValueError, r"channel_shuffle: groups=0 must be a positive integer"),
    (lambda: numbaconv.channel_shuffle(X4, 2.0), ValueError, r"channel_shuffle: groups=2.0 must be a positive"),
    (lambda: numbaconv.channel_shuffle(X4, 3), ValueError,
     r"channel_shuffle: groups=3 must divide the number of channels 4"),
    (lambda: numbaconv.channel_shuffle(X4, 2, layout="NCW"), ValueError,
     r"channel_shuffle: layout='NCW' must be 'NCHW' or 'NHWC' for 2-d input"),
    (lambda: numbaconv.channel_shuffle(np.zeros((1, 2, 1, 1, 1, 1)), 2, layout="NHWC"), ValueError,
     r"channel_shuffle: layout='NHWC' does not describe a 6-d input"),
    (lambda: numbaconv.channel_shuffle(X4, 2, out=np.zeros((1, 4, 5, 5))), TypeError,
     r"channel_shuffle: out.dtype=float64 must equal the result dtype float32"),
    (lambda: numbaconv.channel_shuffle(X4, 2, out=X4), ValueError, r"channel_shuffle: out overlaps x"),
    (lambda: numbaconv.pixel_shuffle(X4, 3), ValueError,
     r"pixel_shuffle: input channels 4 must be divisible by upscale_factor\*\*2 = 3 \* 3 = 9"),
    (lambda: numbaconv.pixel_shuffle(X4, (2, 0)), ValueError, r"pixel_shuffle: upscale_factor=\(2, 0\) must be pos"),
    (lambda: numbaconv.pixel_shuffle(X4, 1.5), TypeError, r"pixel_shuffle: upscale_factor=1.5 must be an int"),
    (lambda: numbaconv.pixel_shuffle(np.zeros((4, 4)), 2), ValueError,
     r"pixel_shuffle: input must be at least 3-d \(\*, C, H, W\)"),
    (lambda: numbaconv.pixel_shuffle(X4, 2, layout="NCDHW"), ValueError, r"pixel_shuffle: layout='NCDHW' must be"),
    (lambda: numbaconv.pixel_shuffle(X4, 2, out=np.zeros((1, 1, 5, 5), np.float32)), ValueError,
     r"pixel_shuffle: out.shape=\(1, 1, 5, 5\) must equal the result shape \(1, 1, 10, 10\)"),
    (lambda: numbaconv.pixel_unshuffle(X4, 2), ValueError,
     r"pixel_unshuffle: input height 5 must be divisible by downscale_factor 2"),
    (lambda: numbaconv.pixel_unshuffle(X4, (5, 2)), ValueError,
     r"pixel_unshuffle: input width 5 must be divisible by downscale_factor 2"),
    (lambda: numbaconv.pixel_unshuffle(np.zeros((3, 4, 6)), 2, layout="NHWC"), ValueError,
     r"pixel_unshuffle: input height 3 must be divisible"),
])
def test_shuffle_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


W4 = np.zeros((4, 2, 3, 3), np.float32)


@pytest.mark.parametrize("call,exc,match", [
    (lambda: numbaconv.shuffle_conv2d(X4, W4, groups=3), ValueError, r"shuffle_conv2d: groups=3 must divide "
                                                                      r"in_channels=4"),
    (lambda: numbaconv.shuffle_conv2d(X4, np.zeros((3, 2, 3, 3)), groups=2), ValueError,
     r"shuffle_conv2d: groups=2 must divide out_channels=3"),
    (lambda: numbaconv.shuffle_conv2d(X4, W4, groups=2, algorithm="im2win"), ValueError,
     r"shuffle_conv2d: algorithm='im2win' is unknown"),
    (lambda: numbaconv.shuffle_conv2d(X4, W4, groups=2, stride=2, algorithm="winograd"), ValueError,
     r"shuffle_conv2d: algorithm='winograd' does not apply"),
    (lambda: numbaconv.shuffle_conv2d(X4, W4, groups=2, algorithm="pointwise"), ValueError,
     r"shuffle_conv2d: algorithm='pointwise' does not apply"),
    (lambda: numbaconv.shuffle_conv2d(X4, W4, np.zeros(3), groups=2), ValueError,
     r"shuffle_conv2d: bias.shape=\(3,\) must be \(out_channels,\) = \(4,\)"),
    (lambda: numbaconv.shuffle_conv2d(X4.astype(int), W4, groups=2), TypeError,
     r"shuffle_conv2d: integer input \(int64\) needs an explicit accumulate dtype"),
    (lambda: numbaconv.shuffle_conv2d(X4, W4, groups=2, out=np.zeros((1, 4, 3, 3))), TypeError,
     r"shuffle_conv2d: out.dtype=float64 must equal the result dtype float32"),
    (lambda: numbaconv.shuffle_conv2d(X4, W4.astype(bool), groups=2), TypeError,
     r"shuffle_conv2d: weight dtype bool is not supported"),
    (lambda: numbaconv.spatially_separable_conv2d(X4, np.zeros((2, 4, 3, 2)), np.zeros((2, 2, 1, 3))), ValueError,
     r"spatially_separable_conv2d: column_weight.shape=\(2, 4, 3, 2\) must be \(C_mid, C_in/groups, kH\) or"),
    (lambda: numbaconv.spatially_separable_conv2d(X4, np.zeros((2, 4, 3)), np.zeros((2, 2)),), ValueError,
     r"spatially_separable_conv2d: row_weight.shape=\(2, 2\) must be \(C_out, C_mid/groups, kW\)"),
    (lambda: numbaconv.spatially_separable_conv2d(X4, np.zeros((2, 3, 3)), np.zeros((2, 2, 3))), ValueError,
     r"spatially_separable_conv2d \(column pass\): weight.shape\[1\]=3 must equal in_channels / groups"),
    (lambda: numbaconv.spatially_separable_conv2d(X4, np.zeros((2, 4, 3)), np.zeros((2, 3, 3))), ValueError,
     r"spatially_separable_conv2d \(row pass\): weight.shape\[1\]=3 must equal in_channels / groups = 2 / 1"),
    (lambda: numbaconv.spatially_separable_conv2d(X4, np.zeros((2, 4, 3)), np.zeros((2, 2, 7))), ValueError,
     r"spatially_separable_conv2d \(row pass\): output size -1 < 1 along spatial dim 1"),
    (lambda: numbaconv.spatially_separable_conv2d(X4, np.zeros((2, 4, 3)), np.zeros((2, 2, 3)), stride=(1, 0)),
     ValueError, r"spatially_separable_conv2d: stride=\(1, 0\) must be positive"),
    (lambda: numbaconv.spatially_separable_conv2d(X4, np.zeros((2, 4, 3)), np.zeros((2, 2, 3)), dilation=0.5),
     TypeError, r"spatially_separable_conv2d: dilation=0.5 must be an int or a sequence of 2 ints"),
    (lambda: numbaconv.spatially_separable_conv2d(X4, np.zeros((2, 4, 3)), np.zeros((2, 2, 3)), padding=-1),
     ValueError, r"spatially_separable_conv2d: padding=-1 must be >= 0"),
    (lambda: numbaconv.spatially_separable_conv2d(X4, np.zeros((2, 4, 3)), np.zeros((2, 2, 3)), padding="half"),
     ValueError, r"spatially_separable_conv2d \(column pass\): padding='half' is not one of"),
    (lambda: numbaconv.spatially_separable_conv2d(X4, np.zeros((2, 4, 3)), np.zeros((2, 2, 3)), padding=(0, 5),
                                                  padding_mode="reflect"), ValueError,
     r"spatially_separable_conv2d \(row pass\): reflect padding \(5, 5\) along spatial dim 1 must be smaller"),
    (lambda: numbaconv.spatially_separable_conv2d(X4, np.zeros((2, 4, 3)), np.zeros((2, 2, 3)), np.zeros(3)),
     ValueError, r"spatially_separable_conv2d \(row pass\): bias.shape=\(3,\) must be \(out_channels,\) = \(2,\)"),
    (lambda: numbaconv.spatially_separable_conv2d(X4, np.zeros((2, 4, 3)), np.zeros((2, 2, 3)), activation="gelu"),
     ValueError, r"spatially_separable_conv2d \(row pass\): activation='gelu' is not one of"),
    (lambda: numbaconv.spatially_separable_conv2d(X4, np.zeros((2, 4, 3)), np.zeros((2, 2, 3)),
                                                  out=np.zeros((1, 2, 5, 5), np.float32)), ValueError,
     r"spatially_separable_conv2d: out.shape=\(1, 2, 5, 5\) must equal the result shape \(1, 2, 3, 3\)"),
    (lambda: numbaconv.spatially_separable_conv2d(X4, np.zeros((2, 4, 3), complex), np.zeros((2, 2, 3))), TypeError,
     r"spatially_separable_conv2d: column_weight dtype complex128 is not supported"),
    (lambda: numbaconv.factorize_separable(np.zeros(3)), ValueError,
     r"factorize_separable: weight must be at least 2-d \(..., kH, kW\), got 1-d shape \(3,\)"),
    (lambda: numbaconv.factorize_separable(np.zeros((3, 0))), ValueError,
     r"factorize_separable: kernel size \(3, 0\) \(weight.shape\[-2:\]\) must be positive"),
    (lambda: numbaconv.factorize_separable(np.zeros((3, 2)), rank=3), ValueError,
     r"factorize_separable: rank=3 must be an integer from 1 to min\(kH, kW\) = 2"),
    (lambda: numbaconv.factorize_separable(np.zeros((3, 2)), rank=0), ValueError, r"factorize_separable: rank=0"),
    (lambda: numbaconv.factorize_separable(np.zeros((3, 3), complex)), TypeError,
     r"factorize_separable: weight dtype complex128 is not supported"),
    (lambda: numbaconv.factorize_separable([[1, 2]]), TypeError, r"factorize_separable: weight must be a NumPy"),
])
def test_conv_shuffle_and_separable_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


class FakeDeviceArray:
    """Looks like a CUDA array to the dispatcher; any attempt to compute with it would fail loudly."""
    __cuda_array_interface__ = {"shape": (1, 4, 5, 5), "typestr": "<f4", "data": (0, False), "version": 3}


def test_host_only_functions_reject_cuda_arrays_before_any_work():
    with pytest.raises(TypeError, match=r"factorize_separable: weight is a CUDA array \(FakeDeviceArray\); "
                                        r"factorize_separable is a host function that takes NumPy"):
        numbaconv.factorize_separable(FakeDeviceArray())
    with pytest.raises(NotImplementedError, match=r"dead_channels: .*CUDA"):
        numbaconv.dead_channels(FakeDeviceArray())


@pytest.mark.parametrize("call", [
    lambda: numbaconv.channel_shuffle(X4, 2, stream=0),
    lambda: numbaconv.pixel_shuffle(X4, 1, stream=0),
    lambda: numbaconv.pixel_unshuffle(X4, 1, stream=0),
    lambda: numbaconv.shuffle_conv2d(X4, W4, groups=2, stream=0),
    lambda: numbaconv.spatially_separable_conv2d(X4, np.zeros((2, 4, 3)), np.zeros((2, 2, 3)), stream=0),
])
def test_stream_is_for_cuda_arrays_only(call):
    with pytest.raises(ValueError, match=r"stream=0 applies to CUDA arrays only; these are NumPy arrays"):
        call()
