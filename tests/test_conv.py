"""The convolution family against tests/reference.py, over named shape cases x options x dtypes x layouts."""

from dataclasses import dataclass, field

import numpy as np
import pytest
import scipy.ndimage
import scipy.signal

import numbaconv
import reference as ref
from helpers import assert_close, rand, to_channels_first, to_channels_last
from numbaconv._algorithms import applicable_algorithms

CONV = {1: numbaconv.conv1d, 2: numbaconv.conv2d, 3: numbaconv.conv3d}
LAYOUT_LAST = {1: "NWC", 2: "NHWC", 3: "NDHWC"}
DTYPES = [np.float16, np.float32, np.float64]


@dataclass(frozen=True)
class Case:
    name: str
    x: tuple
    w: tuple
    kw: dict = field(default_factory=dict)

    @property
    def nd(self):
        return len(self.x) - 2


CASES = [
    Case("1d_basic", (2, 3, 11), (4, 3, 3), dict(padding=1)),
    Case("1d_strided_dilated", (1, 2, 17), (3, 2, 3), dict(stride=2, dilation=2, padding="same")),
    Case("2d_basic", (2, 3, 9, 10), (4, 3, 3, 3), dict(padding=1)),
    Case("2d_rect_stride_pairs_groups", (1, 4, 12, 9), (6, 2, 3, 2),
         dict(stride=(2, 1), padding=((1, 0), (0, 2)), groups=2)),
    Case("2d_dilated", (1, 3, 13, 13), (5, 3, 3, 3), dict(dilation=2, padding=2)),
    Case("2d_grouped", (2, 6, 8, 8), (6, 2, 3, 3), dict(groups=3, padding=1)),
    Case("2d_depthwise_multiplier", (2, 4, 10, 11), (8, 1, 3, 3), dict(groups=4, padding=1)),
    Case("2d_depthwise_strided", (1, 3, 11, 12), (3, 1, 5, 3), dict(groups=3, stride=2, padding=(2, 1))),
    Case("2d_pointwise", (2, 5, 6, 7), (3, 5, 1, 1)),
    Case("2d_full_big_kernel", (1, 2, 9, 9), (3, 2, 5, 5), dict(padding="full")),
    Case("2d_gemm_sized", (1, 8, 10, 10), (16, 8, 3, 3), dict(padding=1)),
    Case("2d_kernel_wider_than_input", (1, 2, 4, 3), (2, 2, 3, 5), dict(padding=2)),
    Case("3d_basic", (1, 2, 5, 6, 7), (3, 2, 3, 3, 3), dict(padding=1)),
    Case("3d_strided_same_groups", (2, 4, 7, 6, 5), (4, 2, 3, 1, 2), dict(stride=(2, 1, 2), groups=2,
                                                                         padding="same")),
    Case("2d_winograd_ragged", (2, 8, 9, 7), (8, 8, 3, 3), dict(padding=((2, 0), (0, 1)))),
]
IDS = [c.name for c in CASES]


def reference_pads(case, kw=None):
    """Per-side pads of a case, with padding strings resolved by the reference's own definition."""
    kw = case.kw if kw is None else kw
    padding, nd = kw.get("padding", 0), case.nd
    kernel = case.w[2:]
    stride = np.broadcast_to(kw.get("stride", 1), (nd,))
    dilation = np.broadcast_to(kw.get("dilation", 1), (nd,))
    if padding in ("same", "same_lower"):
        return [ref.same_pads(n, k, s, d, padding == "same_lower")
                for n, k, s, d in zip(case.x[2:], kernel, stride, dilation)]
    if padding == "full":
        return [(d * (k - 1),) * 2 for k, d in zip(kernel, dilation)]
    if padding == "valid":
        return 0
    if np.isscalar(padding):
        return padding
    return [p if isinstance(p, tuple) else (p, p) for p in padding]


def expected(case, x, w, b=None, **options):
    kw = {**case.kw, **options}
    return ref.conv(x, w, b, stride=kw.get("stride", 1), pads=reference_pads(case, kw),
                    dilation=kw.get("dilation", 1), groups=kw.get("groups", 1),
                    padding_mode=kw.get("padding_mode", "zeros"), flip=kw.get("flip", False),
                    act=kw.get("activation"), negative_slope=kw.get("negative_slope", 0.01))


def algorithm_cases():
    for case in CASES:
        names = applicable_algorithms(numbaconv.conv_params("t", case.nd, case.x, case.w, **case.kw))
        for name in ("auto",) + names:
            yield pytest.param(case, name, id=f"{case.name}-{name}")


@pytest.mark.parametrize("layout", ["first", "last"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case,algorithm", list(algorithm_cases()))
def test_conv_matches_reference(case, algorithm, dtype, layout):
    x, w, b = rand(case.x, dtype, 1), rand(case.w, dtype, 2), rand(case.w[:1], dtype, 3)
    want = expected(case, x, w, b)
    if layout == "last":
        got = to_channels_first(CONV[case.nd](to_channels_last(x), w, b, layout=LAYOUT_LAST[case.nd],
                                              algorithm=algorithm, **case.kw))
    else:
        got = CONV[case.nd](x, w, b, algorithm=algorithm, **case.kw)
    assert got.dtype == dtype
    assert_close(got, want, dtype)


@pytest.mark.parametrize("flip", [False, True])
@pytest.mark.parametrize("padding_mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_conv_padding_modes_and_flip(case, padding_mode, flip):
    pads = reference_pads(case)
    pads_list = [(pads, pads)] * case.nd if np.isscalar(pads) else pads
    x, w = rand(case.x, np.float64, 4), rand(case.w, np.float64, 5)
    if padding_mode == "reflect" and any(max(p) >= n for p, n in zip(pads_list, case.x[2:])):
        with pytest.raises(ValueError, match="reflect padding .* must be smaller than the input size"):
            CONV[case.nd](x, w, padding_mode=padding_mode, **case.kw)
        return
    names = applicable_algorithms(numbaconv.conv_params("t", case.nd, case.x, case.w, padding_mode=padding_mode,
                                                        **case.kw))
    want = expected(case, x, w, padding_mode=padding_mode, flip=flip)
    for name in names:
        got = CONV[case.nd](x, w, padding_mode=padding_mode, flip=flip, algorithm=name, **case.kw)
        assert_close(got, want)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("activation", [None, "relu", "relu6", "leaky_relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("algorithm", ["direct", "gemm", "depthwise", "pointwise", "winograd", "winograd_f2"])
def test_conv_fused_activation(activation, algorithm, dtype):
    case = {"depthwise": CASES[6], "pointwise": CASES[8]}.get(algorithm, CASES[2])
    x, w, b = 3 * rand(case.x, dtype, 6), rand(case.w, dtype, 7), rand(case.w[:1], dtype, 8)
    got = numbaconv.conv2d(x, w, b, activation=activation, negative_slope=0.2, algorithm=algorithm, **case.kw)
    assert_close(got, expected(case, x, w, b, activation=activation, negative_slope=0.2), dtype)


@pytest.mark.parametrize("padding", ["valid", "same", "same_lower", "full"])
@pytest.mark.parametrize("stride,dilation", [(1, 1), (2, 1), (3, 2), (2, 3)])
@pytest.mark.parametrize("size,kernel", [(10, 3), (11, 4), (7, 2)])
def test_conv_padding_strings(padding, stride, dilation, size, kernel):
    case = Case("p", (1, 2, size, size + 1), (3, 2, kernel, kernel),
                dict(padding=padding, stride=stride, dilation=dilation))
    x, w = rand(case.x, np.float64, 9), rand(case.w, np.float64, 10)
    if padding == "valid" and size < dilation * (kernel - 1) + 1:
        with pytest.raises(ValueError, match="output size .* < 1"):
            numbaconv.conv2d(x, w, **case.kw)
        return
    got = numbaconv.conv2d(x, w, **case.kw)
    assert_close(got, expected(case, x, w))
    if padding.startswith("same"):
        assert got.shape[2:] == (-(-size // stride), -(-(size + 1) // stride))


def test_same_puts_odd_pixel_at_end_and_same_lower_at_start():
    x = np.zeros((1, 1, 4)); x[0, 0, 0] = 1.0
    w = np.ones((1, 1, 2))
    assert numbaconv.conv1d(x, w, padding="same")[0, 0].tolist() == [1, 0, 0, 0]
    assert numbaconv.conv1d(x, w, padding="same_lower")[0, 0].tolist() == [1, 1, 0, 0]


@pytest.mark.parametrize("padding_mode,scipy_mode", [("zeros", "constant"), ("reflect", "mirror"),
                                                    ("replicate", "nearest"), ("circular", "wrap")])
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
    assert_close(got[0, 0], scipy.signal.correlate(img.astype(np.float64), k.astype(np.float64), mode=mode),
                 np.float32)
    got = numbaconv.conv2d(img[None, None], k[None, None], padding=mode, flip=True)
    assert_close(got[0, 0], scipy.signal.convolve(img.astype(np.float64), k.astype(np.float64), mode=mode),
                 np.float32)


def test_depthwise_conv2d_and_pointwise_conv2d():
    x = rand((2, 3, 7, 8), np.float32, 15)
    dw, pw = rand((6, 1, 3, 3), np.float32, 16), rand((5, 6), np.float32, 17)
    got = numbaconv.depthwise_conv2d(x, dw, stride=2, padding="same")
    assert_close(got, ref.conv(x, dw, stride=2, pads=[ref.same_pads(7, 3, 2, 1), ref.same_pads(8, 3, 2, 1)],
                                   groups=3), np.float32)
    y = rand((2, 6, 4, 5), np.float32, 18)
    assert_close(numbaconv.pointwise_conv2d(y, pw), ref.conv(y, pw[:, :, None, None]), np.float32)
    assert_close(numbaconv.pointwise_conv2d(y, pw[:, :, None, None]), ref.conv(y, pw[:, :, None, None]),
                 np.float32)
    xl = to_channels_last(x)
    assert_close(to_channels_first(numbaconv.depthwise_conv2d(xl, dw, padding=1, layout="NHWC")),
                 ref.conv(x, dw, pads=1, groups=3), np.float32)


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_separable_conv2d_equals_two_steps(layout):
    x = rand((2, 4, 9, 9), np.float64, 19)
    dw, dwb = rand((8, 1, 3, 3), np.float64, 20), rand((8,), np.float64, 21)
    pw, pwb = rand((6, 8), np.float64, 22), rand((6,), np.float64, 23)
    mid = ref.conv(x, dw, dwb, stride=2, pads=1, groups=4, act="relu")
    want = ref.conv(mid, pw[:, :, None, None], pwb, act="tanh")
    xin = to_channels_last(x) if layout == "NHWC" else x
    got = numbaconv.separable_conv2d(xin, dw, pw, pwb, depthwise_bias=dwb, stride=2, padding=1,
                                     depthwise_activation="relu", activation="tanh", layout=layout)
    assert_close(to_channels_first(got) if layout == "NHWC" else got, want)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_out_argument_is_filled_and_returned(dtype):
    case = CASES[2]
    x, w = rand(case.x, dtype, 24), rand(case.w, dtype, 25)
    out = np.full(numbaconv.conv_output_shape(case.x, case.w, padding=1), np.nan, dtype)
    result = numbaconv.conv2d(x, w, padding=1, out=out)
    assert result is out
    assert_close(out, expected(case, x, w), dtype)


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


@pytest.mark.parametrize("shape,kw,want", [
    ((1, 3, 224, 224), dict(weight_shape=(64, 3, 7, 7), stride=2, padding=3), (1, 64, 112, 112)),
    ((1, 3, 10), dict(weight_shape=(2, 3, 4), padding="same"), (1, 2, 10)),
    ((2, 5, 6, 8, 3), dict(weight_shape=(4, 3, 3, 3, 3), layout="NDHWC", padding="valid"), (2, 3, 4, 6, 4)),
])
def test_conv_output_shape(shape, kw, want):
    assert numbaconv.conv_output_shape(shape, **kw) == want


def test_params_count_flops_and_select_algorithms():
    p = numbaconv.conv_params("conv2d", 2, (1, 64, 56, 56), (64, 64, 3, 3), padding=1)
    assert p.flops == 2 * 64 * 56 * 56 * 64 * 9
    assert numbaconv.select_algorithm(p) == "winograd"
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
    assert numbaconv.select_algorithm(big_kernel) == "fft"
    strided = numbaconv.conv_params("conv2d", 2, (1, 1, 64, 64), (1, 1, 15, 15), padding="same", stride=2)
    assert numbaconv.select_algorithm(strided) == "depthwise"
    many_channels = numbaconv.conv_params("conv2d", 2, (1, 8, 64, 64), (8, 8, 15, 15), padding="same")
    assert numbaconv.select_algorithm(many_channels) == "gemm"


@pytest.mark.parametrize("padding_mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("kernel,dilation,multiplier", [((3, 3), (1, 1), 1), ((3, 3), (2, 3), 1),
                                                        ((5, 3), (1, 2), 2), ((3, 3), (1, 1), 3)])
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
        got = numbaconv.conv2d(x, w, b, padding=pads, dilation=dilation, groups=groups, padding_mode=padding_mode,
                               flip=flip, activation="relu6", algorithm=algorithm)
        want = ref.conv(x, w, b, pads=pads, dilation=dilation, groups=groups, padding_mode=padding_mode, flip=flip,
                        act="relu6")
        assert_close(got, want, np.float32)
    x1, w1 = rand((1, 2 * c_group, 11), np.float64, 53), rand((2, c_group, 3), np.float64, 54)
    assert_close(numbaconv.conv1d(x1, w1, padding=2, dilation=2, groups=2, padding_mode=padding_mode,
                                  algorithm=algorithm),
                 ref.conv(x1, w1, pads=2, dilation=2, groups=2, padding_mode=padding_mode))


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
@pytest.mark.parametrize("nd,x_shape,w_shape,kw", [
    (2, (2, 5, 9, 11), (5, 1, 3, 3), dict(padding=1)),
    (2, (1, 4, 10, 9), (4, 1, 3, 5), dict(stride=(2, 1), padding="same", dilation=(1, 2))),
    (1, (2, 3, 12), (3, 1, 5), dict(stride=2, padding=2)),
])
def test_depthwise_channels_last_kernel(nd, x_shape, w_shape, kw, padding_mode, activation):
    """Multiplier-1 depthwise convs in channels-last run the NHWC kernel (unit stride over C)."""
    x, w, b = rand(x_shape, np.float32, 33), rand(w_shape, np.float32, 34), rand(w_shape[:1], np.float32, 35)
    case = Case("nhwc", x_shape, w_shape, dict(kw, groups=x_shape[1]))
    got = CONV[nd](to_channels_last(x), w, b, layout=LAYOUT_LAST[nd], padding_mode=padding_mode, flip=True,
                   activation=activation, algorithm="depthwise", **case.kw)
    want = expected(case, x, w, b, padding_mode=padding_mode, flip=True, activation=activation)
    assert_close(to_channels_first(got), want, np.float32)
