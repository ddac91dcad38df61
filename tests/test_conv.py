"""The convolution family against tests/reference.py, over named shape cases x options x dtypes x layouts, on the
CPU and CUDA backends (CUDA: batch-1 cases, small blocks)."""

import numpy as np
import pytest
import scipy.ndimage
import scipy.signal

import numbaconv
from numbaconv._algorithms import applicable_algorithms

import reference as ref
from helpers import (
    LAYOUT_LAST,
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
    to_channels_first,
    to_channels_last,
    to_host,
)

CONV = {1: numbaconv.conv1d, 2: numbaconv.conv2d, 3: numbaconv.conv3d}
ACTIVATIONS = [None, "relu", "relu6", "leaky_relu", "sigmoid", "tanh"]

CASES = [
    Case("1d_basic", (2, 3, 11), (4, 3, 3), dict(padding=1)),
    Case("1d_strided_dilated", (1, 2, 17), (3, 2, 3), dict(stride=2, dilation=2, padding="same")),
    Case("2d_basic", (2, 3, 9, 10), (4, 3, 3, 3), dict(padding=1)),
    Case(
        "2d_rect_stride_pairs_groups",
        (1, 4, 12, 9),
        (6, 2, 3, 2),
        dict(stride=(2, 1), padding=((1, 0), (0, 2)), groups=2),
    ),
    Case("2d_dilated", (1, 3, 13, 13), (5, 3, 3, 3), dict(dilation=2, padding=2)),
    Case("2d_grouped", (2, 6, 8, 8), (6, 2, 3, 3), dict(groups=3, padding=1)),
    Case("2d_depthwise_multiplier", (2, 4, 10, 11), (8, 1, 3, 3), dict(groups=4, padding=1)),
    Case("2d_depthwise_strided", (1, 3, 11, 12), (3, 1, 5, 3), dict(groups=3, stride=2, padding=(2, 1))),
    Case("2d_pointwise", (2, 5, 6, 7), (3, 5, 1, 1)),
    Case("2d_full_big_kernel", (1, 2, 9, 9), (3, 2, 5, 5), dict(padding="full")),
    Case("2d_gemm_sized", (1, 8, 10, 10), (16, 8, 3, 3), dict(padding=1)),
    Case("2d_kernel_wider_than_input", (1, 2, 4, 3), (2, 2, 3, 5), dict(padding=2)),
    Case("3d_basic", (1, 2, 5, 6, 7), (3, 2, 3, 3, 3), dict(padding=1)),
    Case("3d_strided_same_groups", (2, 4, 7, 6, 5), (4, 2, 3, 1, 2), dict(stride=(2, 1, 2), groups=2, padding="same")),
    Case("2d_winograd_ragged", (2, 8, 9, 7), (8, 8, 3, 3), dict(padding=((2, 0), (0, 1)))),
]
IDS = ids(CASES)


def pads_of(case, kw=None):
    """The case's per-side pads, padding strings resolved by the reference's definitions."""
    kw = case.kw if kw is None else kw
    return reference_pads(case.x[2:], case.w[2:], kw.get("padding", 0), kw.get("stride", 1), kw.get("dilation", 1))


def expected(case, x, w, b=None, **options):
    kw = {**case.kw, **options}
    return ref.conv(
        x,
        w,
        b,
        stride=kw.get("stride", 1),
        pads=pads_of(case, kw),
        dilation=kw.get("dilation", 1),
        groups=kw.get("groups", 1),
        padding_mode=kw.get("padding_mode", "zeros"),
        flip=kw.get("flip", False),
        act=kw.get("activation"),
        negative_slope=kw.get("negative_slope", 0.01),
    )


def algorithms(case, backend="cpu", **options):
    return applicable_algorithms(numbaconv.conv_params("t", case.nd, case.x, case.w, **case.kw, **options), backend)


# CPU: every case x every applicable algorithm (and auto) x float32/float64 x both layouts. CUDA: every case x
# every CUDA algorithm in float32, and auto in float64 on three cases. float16: test_conv_float16 below.
CPU_MATRIX = [
    (case, name, dtype, layout)
    for case in CASES
    for name in ("auto",) + algorithms(case)
    for dtype in (np.float32, np.float64)
    for layout in LAYOUTS
]
CUDA_MATRIX = [(case, name, np.float32, "first") for case in CASES for name in algorithms(case, "cuda")] + [
    (CASES[i], "auto", np.float64, "first") for i in (0, 2, 8)
]


@over_backends("case,algorithm,dtype,layout", CPU_MATRIX, CUDA_MATRIX)
def test_conv_matches_reference(backend, case, algorithm, dtype, layout):
    case = case.on(backend)
    x, w, b = rand(case.x, dtype, 1), rand(case.w, dtype, 2), rand(case.w[:1], dtype, 3)
    got = run(backend, CONV[case.nd], x, w, b, layout=layout, algorithm=algorithm, **case.kw)
    assert got.dtype == dtype
    assert_close(got, expected(case, x, w, b), dtype)


def test_conv_float16_accumulates_in_float32(backend):
    """float16 once per algorithm of the backend (each on the first case it applies to, layouts alternating),
    and into an `out=` array: computed in float32, rounded once."""
    names = ("auto",) + tuple(dict.fromkeys(n for c in CASES for n in algorithms(c, backend)))
    for i, name in enumerate(names):
        case = CASES[2] if name == "auto" else next(c for c in CASES if name in algorithms(c, backend))
        case = case.on(backend)
        x, w, b = rand(case.x, np.float16, 7), rand(case.w, np.float16, 8), rand(case.w[:1], np.float16, 9)
        got = run(backend, CONV[case.nd], x, w, b, layout=LAYOUTS[i % 2], algorithm=name, **case.kw)
        assert got.dtype == np.float16, name
        assert_close(got, expected(case, x, w, b), np.float16)
    case = CASES[2].on(backend)
    x, w = rand(case.x, np.float16, 24), rand(case.w, np.float16, 25)
    out = full(backend, numbaconv.conv_output_shape(case.x, case.w, padding=1), np.nan, np.float16)
    assert numbaconv.conv2d(to_backend(backend, x), to_backend(backend, w), padding=1, out=out) is out
    assert_close(to_host(backend, out), expected(case, x, w), np.float16)


# CUDA: three cases, channels-last, each with three (padding mode, flip, activation) combinations.
PADDING_CPU = [
    (case, mode, flip, None, "first")
    for case in CASES
    for mode in ("zeros", "reflect", "replicate", "circular")
    for flip in (False, True)
]
PADDING_CUDA = [
    (CASES[i], mode, flip, act, "last")
    for i in (3, 6, 12)
    for mode, flip, act in [("circular", True, "relu"), ("replicate", False, "tanh"), ("zeros", True, "leaky_relu")]
]


@over_backends("case,padding_mode,flip,activation,layout", PADDING_CPU, PADDING_CUDA)
def test_conv_padding_modes_flip_and_activation(backend, case, padding_mode, flip, activation, layout):
    """Every applicable algorithm on the CPU; auto on CUDA."""
    case = case.on(backend)
    x, w, b = rand(case.x, np.float64, 4), rand(case.w, np.float64, 5), rand(case.w[:1], np.float64, 6)
    options = dict(padding_mode=padding_mode, flip=flip, activation=activation)
    if padding_mode == "reflect" and any(max(p) >= n for p, n in zip(pads_of(case), case.x[2:])):
        with pytest.raises(ValueError, match=r"reflect padding .* must be smaller than the input size"):
            run(backend, CONV[case.nd], x, w, b, layout=layout, **options, **case.kw)
        return
    want = expected(case, x, w, b, **options)
    for name in algorithms(case, padding_mode=padding_mode) if backend == "cpu" else ("auto",):
        got = run(backend, CONV[case.nd], x, w, b, layout=layout, algorithm=name, **options, **case.kw)
        assert_close(got, want)


FUSED_CPU = [
    (name, act, dtype)
    for name in ("direct", "gemm", "depthwise", "pointwise", "winograd", "winograd_f2")
    for act in ACTIVATIONS
    for dtype in (np.float32, np.float64)
]
FUSED_CUDA = [(("direct", "depthwise", "gemm")[i % 3], act, np.float32) for i, act in enumerate(ACTIVATIONS)]


@over_backends("algorithm,activation,dtype", FUSED_CPU, FUSED_CUDA)
def test_conv_fused_activation(backend, activation, algorithm, dtype):
    case = {"depthwise": CASES[6], "pointwise": CASES[8]}.get(algorithm, CASES[2]).on(backend)
    x, w, b = 3 * rand(case.x, dtype, 6), rand(case.w, dtype, 7), rand(case.w[:1], dtype, 8)
    got = run(
        backend, numbaconv.conv2d, x, w, b, activation=activation, negative_slope=0.2, algorithm=algorithm, **case.kw
    )
    assert_close(got, expected(case, x, w, b, activation=activation, negative_slope=0.2), dtype)


@pytest.mark.parametrize("padding", ["valid", "same", "same_lower", "full"])
@pytest.mark.parametrize("stride,dilation", [(1, 1), (2, 1), (3, 2), (2, 3)])
@pytest.mark.parametrize("size,kernel", [(10, 3), (11, 4), (7, 2)])
def test_conv_padding_strings(padding, stride, dilation, size, kernel):
    case = Case(
        "p", (1, 2, size, size + 1), (3, 2, kernel, kernel), dict(padding=padding, stride=stride, dilation=dilation)
    )
    x, w = rand(case.x, np.float64, 9), rand(case.w, np.float64, 10)
    if padding == "valid" and size < dilation * (kernel - 1) + 1:
        with pytest.raises(ValueError, match=r"output size .* < 1"):
            numbaconv.conv2d(x, w, **case.kw)
        return
    got = numbaconv.conv2d(x, w, **case.kw)
    assert_close(got, expected(case, x, w))
    if padding.startswith("same"):
        assert got.shape[2:] == (-(-size // stride), -(-(size + 1) // stride))


def test_same_puts_odd_pixel_at_end_and_same_lower_at_start():
    x = np.zeros((1, 1, 4))
    x[0, 0, 0] = 1.0
    w = np.ones((1, 1, 2))
    assert numbaconv.conv1d(x, w, padding="same")[0, 0].tolist() == [1, 0, 0, 0]
    assert numbaconv.conv1d(x, w, padding="same_lower")[0, 0].tolist() == [1, 1, 0, 0]


@pytest.mark.parametrize(
    "padding_mode,scipy_mode",
    [("zeros", "constant"), ("reflect", "mirror"), ("replicate", "nearest"), ("circular", "wrap")],
)
@pytest.mark.parametrize("flip", [False, True])
def test_conv2d_matches_scipy_ndimage(padding_mode, scipy_mode, flip):
    """SciPy as a second oracle: ndimage.correlate/convolve with the mapped mode on one channel."""
    img, k = rand((13, 12), np.float64, 11), rand((5, 3), np.float64, 12)
    got = numbaconv.conv2d(img[None, None], k[None, None], padding="same", padding_mode=padding_mode, flip=flip)
    scipy_op = scipy.ndimage.convolve if flip else scipy.ndimage.correlate
    want = scipy_op(img, k, mode=scipy_mode)
    assert_close(got[0, 0], want)


@pytest.mark.parametrize("mode", ["valid", "full"])
def test_conv2d_matches_scipy_signal(mode):
    img, k = rand((9, 14), np.float32, 13), rand((4, 3), np.float32, 14)
    got = numbaconv.conv2d(img[None, None], k[None, None], padding=mode)
    assert_close(got[0, 0], scipy.signal.correlate(img.astype(np.float64), k.astype(np.float64), mode=mode), np.float32)
    got = numbaconv.conv2d(img[None, None], k[None, None], padding=mode, flip=True)
    assert_close(got[0, 0], scipy.signal.convolve(img.astype(np.float64), k.astype(np.float64), mode=mode), np.float32)


def test_depthwise_pointwise_and_separable_conv2d(backend):
    x = rand((2, 3, 7, 8), np.float32, 15)
    dw, pw = rand((6, 1, 3, 3), np.float32, 16), rand((5, 6), np.float32, 17)
    got = run(backend, numbaconv.depthwise_conv2d, x, dw, stride=2, padding="same")
    assert_close(
        got,
        ref.conv(x, dw, stride=2, pads=[ref.same_pads(7, 3, 2, 1), ref.same_pads(8, 3, 2, 1)], groups=3),
        np.float32,
    )
    y = rand((2, 6, 4, 5), np.float32, 18)
    assert_close(run(backend, numbaconv.pointwise_conv2d, y, pw), ref.conv(y, pw[:, :, None, None]), np.float32)
    assert_close(
        run(backend, numbaconv.pointwise_conv2d, y, pw[:, :, None, None]), ref.conv(y, pw[:, :, None, None]), np.float32
    )
    want = ref.conv(ref.conv(x, dw, pads=1, groups=3), pw[:, :, None, None])
    assert_close(run(backend, numbaconv.separable_conv2d, x, dw, pw, padding=1), want, np.float32)
    # The depthwise result stays on the backend and feeds the pointwise conv, which fills `out`.
    mid = numbaconv.depthwise_conv2d(to_backend(backend, x), to_backend(backend, dw), padding=1)
    out = full(backend, (2, 5, 7, 8), np.nan, np.float32)
    assert numbaconv.pointwise_conv2d(mid, to_backend(backend, pw), out=out) is out
    assert_close(to_host(backend, out), want, np.float32)
    assert_close(
        run(backend, numbaconv.depthwise_conv2d, x, dw, padding=1, layout="last"),
        ref.conv(x, dw, pads=1, groups=3),
        np.float32,
    )


@pytest.mark.parametrize("layout", LAYOUTS)
def test_separable_conv2d_equals_two_steps(backend, layout):
    x = rand((2, 4, 9, 9), np.float64, 19)
    dw, dwb = rand((8, 1, 3, 3), np.float64, 20), rand((8,), np.float64, 21)
    pw, pwb = rand((6, 8), np.float64, 22), rand((6,), np.float64, 23)
    mid = ref.conv(x, dw, dwb, stride=2, pads=1, groups=4, act="relu")
    want = ref.conv(mid, pw[:, :, None, None], pwb, act="tanh")
    got = run(
        backend,
        numbaconv.separable_conv2d,
        x,
        dw,
        pw,
        pwb,
        depthwise_bias=dwb,
        stride=2,
        padding=1,
        depthwise_activation="relu",
        activation="tanh",
        layout=layout,
    )
    assert_close(got, want)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_out_argument_is_filled_and_returned(backend, dtype):
    case = CASES[2].on(backend)
    x, w = rand(case.x, dtype, 24), rand(case.w, dtype, 25)
    out = full(backend, numbaconv.conv_output_shape(case.x, case.w, padding=1), np.nan, dtype)
    result = numbaconv.conv2d(to_backend(backend, x), to_backend(backend, w), padding=1, out=out)
    assert result is out
    assert_close(to_host(backend, out), expected(case, x, w), dtype)


@pytest.mark.parametrize("int_dtype", [np.int16, np.uint8, np.int64])
def test_integer_input_with_explicit_dtype(int_dtype):
    x = np.random.default_rng(26).integers(0, 50, (1, 2, 6, 7)).astype(int_dtype)
    w = np.array([[[[1, 0, -1]] * 3] * 2], dtype=np.int64)
    got = numbaconv.conv2d(x, w, dtype=np.float32)
    assert got.dtype == np.float32
    assert_close(got, ref.conv(x, w), np.float32)
    out = np.empty((1, 1, 4, 5), np.float64)
    assert numbaconv.conv2d(x, w, out=out) is out
    assert_close(out, ref.conv(x, w))


def test_non_contiguous_input_is_accepted():
    x = rand((2, 3, 18, 20), np.float32, 27)[:, :, ::2, 1::2]
    w = rand((4, 3, 3, 3), np.float32, 28)
    assert_close(numbaconv.conv2d(x, w, padding=1), ref.conv(x, w, pads=1), np.float32)


@pytest.mark.parametrize(
    "shape,kw,want",
    [
        ((1, 3, 224, 224), dict(weight_shape=(64, 3, 7, 7), stride=2, padding=3), (1, 64, 112, 112)),
        ((1, 3, 10), dict(weight_shape=(2, 3, 4), padding="same"), (1, 2, 10)),
        ((2, 5, 6, 8, 3), dict(weight_shape=(4, 3, 3, 3, 3), layout="NDHWC", padding="valid"), (2, 3, 4, 6, 4)),
    ],
)
def test_conv_output_shape(shape, kw, want):
    assert numbaconv.conv_output_shape(shape, **kw) == want


def test_params_count_flops_and_select_algorithms():
    p = numbaconv.conv_params("conv2d", 2, (1, 64, 56, 56), (64, 64, 3, 3), padding=1)
    assert p.flops == 2 * 64 * 56 * 56 * 64 * 9
    assert numbaconv.select_algorithm(p) == "winograd_f2"  # F(4x4)'s error is not local: only with "fast"
    assert numbaconv.select_algorithm(p, fast=True) == "winograd"
    small_image = numbaconv.conv_params("conv2d", 2, (1, 512, 7, 7), (512, 512, 3, 3), padding=1)
    assert numbaconv.select_algorithm(small_image) == "winograd_f2"
    huge = numbaconv.conv_params("conv2d", 2, (1, 1024, 16, 16), (1024, 1024, 3, 3), padding=1)
    assert numbaconv.select_algorithm(huge) == "gemm"  # 36 x 1024 x 1024 float32 transformed weights: 144 MiB
    smaller = numbaconv.conv_params("conv2d", 2, (1, 64, 3, 3), (64, 64, 3, 3), padding=1)
    assert numbaconv.select_algorithm(smaller) == "gemm"
    nhwc = numbaconv.conv_params("conv2d", 2, (1, 56, 56, 64), (64, 64, 3, 3), padding=1, layout="NHWC")
    assert numbaconv.select_algorithm(nhwc) == "gemm"
    resnext = numbaconv.conv_params("conv2d", 2, (1, 128, 56, 56), (128, 4, 3, 3), padding=1, groups=32)
    assert numbaconv.select_algorithm(resnext) == "direct"  # the plane kernel
    first_layer = numbaconv.conv_params("conv2d", 2, (1, 3, 224, 224), (64, 3, 3, 3), padding=1)
    assert numbaconv.select_algorithm(first_layer) == "direct"
    wide = numbaconv.conv_params("conv2d", 2, (1, 16, 32, 32), (16, 16, 5, 5), padding=2)
    assert numbaconv.select_algorithm(wide) == "gemm"  # 400 multiply-adds per output: past the plane kernel
    strided = numbaconv.conv_params("conv2d", 2, (1, 64, 56, 56), (64, 64, 3, 3), padding=1, stride=2)
    assert numbaconv.select_algorithm(strided) == "gemm"
    assert numbaconv.select_algorithm(p, "cuda") == "gemm"
    dw = numbaconv.conv_params("conv2d", 2, (1, 32, 56, 56), (32, 1, 3, 3), padding=1, groups=32)
    assert numbaconv.select_algorithm(dw) == "depthwise"
    pw = numbaconv.conv_params("conv2d", 2, (1, 32, 56, 56), (64, 32, 1, 1))
    assert numbaconv.select_algorithm(pw) == "pointwise"
    tiny = numbaconv.conv_params("conv2d", 2, (1, 2, 8, 8), (2, 2, 3, 3))
    assert numbaconv.select_algorithm(tiny) == "direct"
    big_kernel = numbaconv.conv_params("conv2d", 2, (1, 1, 64, 64), (1, 1, 15, 15), padding="same")
    assert numbaconv.select_algorithm(big_kernel) == "depthwise"  # one channel: the plane kernel
    assert numbaconv.select_algorithm(big_kernel, fast=True) == "fft"
    strided = numbaconv.conv_params("conv2d", 2, (1, 1, 64, 64), (1, 1, 15, 15), padding="same", stride=2)
    assert numbaconv.select_algorithm(strided) == "depthwise"
    many_channels = numbaconv.conv_params("conv2d", 2, (1, 8, 64, 64), (8, 8, 15, 15), padding="same")
    assert numbaconv.select_algorithm(many_channels) == "gemm"


@pytest.mark.parametrize("padding_mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize(
    "kernel,dilation,multiplier", [((3, 3), (1, 1), 1), ((3, 3), (2, 3), 1), ((5, 3), (1, 2), 2), ((3, 3), (1, 1), 3)]
)
@pytest.mark.parametrize("c_group", [1, 3])
def test_stride1_plane_kernel(kernel, dilation, multiplier, padding_mode, c_group):
    """The stride-1 plane kernel behind "depthwise" (c_group 1) and "direct" (few channels per group): padded
    planes in every padding mode, a one-pass 3x3 with and without dilation, per-tap passes for other kernels,
    several outputs per group, flip and an activation."""
    groups = 6 // c_group
    x = rand((2, 6, 9, 8), np.float32, 50)
    w = rand((groups * multiplier, c_group) + kernel, np.float32, 51)
    b = rand((groups * multiplier,), np.float32, 52)
    pads = [(d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2) for k, d in zip(kernel, dilation)]
    algorithm = "depthwise" if c_group == 1 else "direct"
    for flip in (False, True):
        got = numbaconv.conv2d(
            x,
            w,
            b,
            padding=pads,
            dilation=dilation,
            groups=groups,
            padding_mode=padding_mode,
            flip=flip,
            activation="relu6",
            algorithm=algorithm,
        )
        want = ref.conv(
            x, w, b, pads=pads, dilation=dilation, groups=groups, padding_mode=padding_mode, flip=flip, act="relu6"
        )
        assert_close(got, want, np.float32)
    x1, w1 = rand((1, 2 * c_group, 11), np.float64, 53), rand((2, c_group, 3), np.float64, 54)
    assert_close(
        numbaconv.conv1d(x1, w1, padding=2, dilation=2, groups=2, padding_mode=padding_mode, algorithm=algorithm),
        ref.conv(x1, w1, pads=2, dilation=2, groups=2, padding_mode=padding_mode),
    )


@pytest.mark.parametrize("algorithm,bound32", [("winograd", 2e-5), ("winograd_f2", 2e-6)])
@pytest.mark.parametrize("channels", [8, 64])
def test_winograd_accuracy_bound(algorithm, bound32, channels):
    """The documented bound: float32 Winograd within bound32 * max|y| of the float64 result (F(4x4) rounds
    more than im2col; F(2x2) about as little), float64 within 1e-12 * max|y|."""
    rng = np.random.default_rng(channels)
    x = rng.standard_normal((2, channels, 20, 23))
    w = rng.standard_normal((channels, channels, 3, 3))
    want = ref.conv(x, w, pads=1)
    scale = np.abs(want).max()
    for dtype, bound in ((np.float32, bound32), (np.float64, 1e-12)):
        got = numbaconv.conv2d(x.astype(dtype), w.astype(dtype), padding=1, algorithm=algorithm)
        assert np.abs(got - want).max() <= bound * scale
    gemm = numbaconv.conv2d(x.astype(np.float32), w.astype(np.float32), padding=1, algorithm="gemm")
    assert np.abs(gemm - want).max() <= bound32 * scale


@pytest.mark.parametrize("algorithm", ["winograd", "winograd_f2"])
def test_winograd_tiles_chunks_groups_and_big_padding(monkeypatch, algorithm):
    """A workspace smaller than one tile row forces a chunk per tile row; groups split the GEMMs; padding wider
    than the kernel and outputs that end mid-tile exercise the zero strip and the partial tiles."""
    from numbaconv import _cpu

    monkeypatch.setattr(_cpu, "WORKSPACE_BYTES", 1024)
    x, w, b = rand((2, 6, 9, 7), np.float32, 40), rand((4, 3, 3, 3), np.float32, 41), rand((4,), np.float32, 42)
    pads = ((4, 1), (0, 3))
    got = numbaconv.conv2d(x, w, b, padding=pads, groups=2, flip=True, activation="tanh", algorithm=algorithm)
    assert_close(got, ref.conv(x, w, b, pads=pads, groups=2, flip=True, act="tanh"), np.float32)


def test_large_image_tiles_the_gemm_workspace(monkeypatch):
    """A workspace smaller than one image forces several row tiles; the result must not change."""
    from numbaconv import _cpu

    monkeypatch.setattr(_cpu, "WORKSPACE_BYTES", 2048)
    case = Case("tiles", (2, 4, 11, 13), (8, 4, 3, 3), dict(padding=1, stride=(1, 2)))
    x, w = rand(case.x, np.float32, 29), rand(case.w, np.float32, 30)
    assert_close(numbaconv.conv2d(x, w, algorithm="gemm", **case.kw), expected(case, x, w), np.float32)
    y = rand((1, 6, 9, 10), np.float32, 31)
    pw = rand((7, 6, 1, 1), np.float32, 32)
    for layout in ("NCHW", "NHWC"):
        yin = to_channels_last(y) if layout == "NHWC" else y
        got = numbaconv.conv2d(yin, pw, algorithm="pointwise", layout=layout)
        assert_close(to_channels_first(got) if layout == "NHWC" else got, ref.conv(y, pw), np.float32)


@pytest.mark.parametrize("padding_mode", ["zeros", "reflect", "circular"])
@pytest.mark.parametrize("activation", [None, "relu6"])
@pytest.mark.parametrize(
    "nd,x_shape,w_shape,kw",
    [
        (2, (2, 5, 9, 11), (5, 1, 3, 3), dict(padding=1)),
        (2, (1, 4, 10, 9), (4, 1, 3, 5), dict(stride=(2, 1), padding="same", dilation=(1, 2))),
        (1, (2, 3, 12), (3, 1, 5), dict(stride=2, padding=2)),
    ],
)
def test_depthwise_channels_last_kernel(nd, x_shape, w_shape, kw, padding_mode, activation):
    """Multiplier-1 depthwise convs in channels-last run the NHWC kernel (unit stride over C)."""
    x, w, b = rand(x_shape, np.float32, 33), rand(w_shape, np.float32, 34), rand(w_shape[:1], np.float32, 35)
    case = Case("nhwc", x_shape, w_shape, dict(kw, groups=x_shape[1]))
    got = CONV[nd](
        to_channels_last(x),
        w,
        b,
        layout=LAYOUT_LAST[nd],
        padding_mode=padding_mode,
        flip=True,
        activation=activation,
        algorithm="depthwise",
        **case.kw,
    )
    want = expected(case, x, w, b, padding_mode=padding_mode, flip=True, activation=activation)
    assert_close(to_channels_first(got), want, np.float32)


# ---- CUDA only ----


@pytest.mark.cuda
def test_cuda_errors_and_mixing(dev):
    x, w = rand((1, 2, 5, 5), np.float32), rand((2, 2, 3, 3), np.float32)
    with pytest.raises(TypeError, match=r"conv2d: weight is a host \(NumPy\) array but x is a CUDA array"):
        numbaconv.conv2d(dev(x), w)
    with pytest.raises(ValueError, match=r"conv2d: algorithm='pointwise' is unknown; valid CUDA algorithms"):
        numbaconv.conv2d(dev(x), dev(w), algorithm="pointwise")
    with pytest.raises(ValueError, match=r"conv2d: out overlaps x"):
        d = dev(np.zeros((1, 2, 5, 5), np.float32))
        numbaconv.conv2d(d, dev(np.ones((2, 2, 1, 1), np.float32)), out=d)
    from numba import cuda

    with pytest.raises(ValueError, match=r"conv2d: out.shape=\(1, 2, 4, 4\) must equal the result shape"):
        numbaconv.conv2d(dev(x), dev(w), out=cuda.device_array((1, 2, 4, 4), np.float32))


@pytest.mark.cuda
@pytest.mark.usefixtures("small_blocks")
def test_cuda_tune_times_the_cuda_algorithms_once(dev):
    from numbaconv import tuning

    tuning.clear()
    case = CASES[2].on("cuda")
    x, w = rand(case.x, np.float32, 21), rand(case.w, np.float32, 22)
    got = numbaconv.conv2d(dev(x), dev(w), algorithm="tune", **case.kw)
    assert_close(got.copy_to_host(), expected(case, x, w), np.float32)
    ((key, entry),) = tuning.choices().items()
    assert key.startswith("cuda|float32|") and set(entry["seconds"]) == {"direct", "gemm"}
    tuning.clear()


EMPTY_BATCH = [
    ("conv1d", lambda: (rand((0, 3, 9)), rand((4, 3, 3))), dict(padding=1)),
    ("conv2d", lambda: (rand((0, 3, 6, 7)), rand((4, 3, 3, 3))), dict(stride=2)),
    ("conv3d", lambda: (rand((0, 2, 4, 5, 3)), rand((4, 2, 2, 2, 2))), dict()),
    ("depthwise_conv2d", lambda: (rand((0, 3, 6, 6)), rand((6, 1, 3, 3))), dict(padding="same")),
    ("pointwise_conv2d", lambda: (rand((0, 3, 5, 5)), rand((4, 3))), dict()),
    ("separable_conv2d", lambda: (rand((0, 3, 6, 6)), rand((3, 1, 3, 3)), rand((5, 3))), dict(padding=1)),
    ("spatially_separable_conv2d", lambda: (rand((0, 2, 6, 6)), rand((2, 2, 3)), rand((3, 2, 3))), dict()),
    ("shuffle_conv2d", lambda: (rand((0, 4, 5, 5)), rand((4, 2, 3, 3))), dict(groups=2)),
    ("resize_conv2d", lambda: (rand((0, 3, 4, 4)), rand((2, 3, 3, 3))), dict()),
    ("conv_transpose1d", lambda: (rand((0, 3, 5)), rand((3, 2, 4))), dict(stride=2)),
    ("conv_transpose2d", lambda: (rand((0, 3, 4, 5)), rand((3, 2, 3, 3))), dict(stride=2, padding=1)),
    ("conv_transpose3d", lambda: (rand((0, 2, 3, 3, 3)), rand((2, 2, 2, 2, 2))), dict()),
]


@pytest.mark.parametrize("name,make,kw", EMPTY_BATCH, ids=[c[0] for c in EMPTY_BATCH])
def test_empty_batch_gives_an_empty_result(backend, name, make, kw):
    """N = 0: the shape the same call gives with N = 1, batch 0, and no kernel run (as torch)."""
    arrays = make()
    op = getattr(numbaconv, name)
    got = run(backend, op, *arrays, layout_args=1, **kw)
    one = op(np.ones((1, *arrays[0].shape[1:])), *arrays[1:], **kw)
    assert got.shape == (0, *one.shape[1:]) and got.dtype == np.float64
    out = full(backend, got.shape, 0.0, np.float64)
    moved = [to_backend(backend, a) for a in arrays]
    assert op(*moved, **kw, out=out) is out


def test_empty_batch_matches_torch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x, w = rand((0, 3, 7, 6), np.float32), rand((4, 3, 3, 3), np.float32)
    assert numbaconv.conv2d(x, w, stride=2, padding=1).shape == tuple(
        F.conv2d(torch.from_numpy(x), torch.from_numpy(w), stride=2, padding=1).shape
    )
    wt = rand((3, 2, 4, 4), np.float32)
    assert numbaconv.conv_transpose2d(x, wt, stride=2, padding=1).shape == tuple(
        F.conv_transpose2d(torch.from_numpy(x), torch.from_numpy(wt), stride=2, padding=1).shape
    )


@pytest.mark.parametrize("algorithm", ["auto", "direct", "gemm", "fft", "winograd", "winograd_f2"])
def test_zero_output_channels_give_an_empty_result_on_every_algorithm(algorithm):
    """C_out = 0 (a weight of shape (0, C_in, k, k)): an empty result, as torch; no kernel runs (FFT raised
    NumPy's AxisError)."""
    x, w = rand((2, 8, 9, 9), np.float32), rand((0, 8, 3, 3), np.float32)
    got = numbaconv.conv2d(x, w, padding=1, algorithm=algorithm)
    assert got.shape == (2, 0, 9, 9) and got.dtype == np.float32


def test_one_element_tuples_apply_to_every_dim():
    """`padding=(1,)` means padding 1 on every spatial dim, as torch; any other wrong length is a ValueError."""
    x, w = rand((1, 2, 7, 6)), rand((3, 2, 3, 3))
    np.testing.assert_array_equal(
        numbaconv.conv2d(x, w, padding=(1,), stride=(2,), dilation=[2]),
        numbaconv.conv2d(x, w, padding=1, stride=2, dilation=2),
    )
    wt = rand((2, 3, 3, 3))
    np.testing.assert_array_equal(
        numbaconv.conv_transpose2d(x, wt, stride=(2,), output_padding=(1,)),
        numbaconv.conv_transpose2d(x, wt, stride=2, output_padding=1),
    )
    np.testing.assert_array_equal(numbaconv.max_pool2d(x, (3,), stride=(2,)), numbaconv.max_pool2d(x, 3, stride=2))
    with pytest.raises(ValueError, match=r"conv3d: stride=\(1, 2\) must be an int or a sequence of 3 ints"):
        numbaconv.conv3d(rand((1, 1, 4, 4, 4)), rand((1, 1, 2, 2, 2)), stride=(1, 2))
