"""Non-finite and extreme data: every convolution algorithm gives the zero-padded sum's NaN / +-Inf pattern
(tests/reference.py: np.pad with zeros, then sums of products), no overflow a direct sum avoids, and errors
local to each output's own window unless "fast" is asked for."""

import numpy as np

import numbaconv

import reference as ref
from helpers import over_backends, run

ALGORITHMS = {
    "cpu": ("auto", "fast", "direct", "gemm", "fft", "winograd", "winograd_f2"),
    "cuda": ("auto", "direct", "gemm"),
}


def assert_same_nonfinite(got, want, rtol=1e-4):
    """Same NaN positions, same +Inf and -Inf positions, finite values close (relative to the finite max)."""
    got = np.asarray(got, np.float64)
    for name, test in (("NaN", np.isnan), ("+Inf", np.isposinf), ("-Inf", np.isneginf)):
        np.testing.assert_array_equal(test(got), test(want), err_msg=f"{name} positions differ")
    finite = np.isfinite(want)
    scale = np.abs(want[finite]).max() if finite.any() else 1.0
    np.testing.assert_allclose(got[finite], want[finite], rtol=0, atol=rtol * scale)


def dense_case(seed=0, backend="cpu"):
    """On the CPU 8 channels in and out, 3x3, 12x12: every CPU algorithm applies (Winograd, FFT, plane, GEMM);
    on CUDA (the simulator runs each thread in Python) 4 channels, 6x6."""
    rng = np.random.default_rng(seed)
    c, size = (8, 12) if backend == "cpu" else (4, 6)
    x = rng.standard_normal((2, c, size, size)).astype(np.float32)
    return x, rng.standard_normal((c, c, 3, 3)).astype(np.float32)


@over_backends("algorithm", cpu=ALGORITHMS["cpu"], cuda=ALGORITHMS["cuda"])
def test_nan_and_inf_in_x_stay_in_the_windows_that_hold_them(backend, algorithm):
    x, w = dense_case(1, backend)
    last = x.shape[-1] - 1
    x[0, 3, 5, 5] = np.nan
    x[0, 1, 0, last] = np.inf
    x[1, 2, last, 2] = -np.inf
    x[1, 0, 3, 1] = np.inf
    x[1, 0, 3, 3] = -np.inf  # outputs whose window holds both: Inf - Inf = NaN
    got = run(backend, numbaconv.conv2d, x, w, padding=1, algorithm=algorithm)
    assert_same_nonfinite(got, ref.conv(x, w, pads=1))


@over_backends("algorithm", cpu=ALGORITHMS["cpu"], cuda=ALGORITHMS["cuda"])
def test_large_finite_data_does_not_overflow_where_a_direct_sum_does_not(backend, algorithm):
    x, w = dense_case(2, backend)
    x, w = x * np.float32(1e18), w * np.float32(1e18)  # products near 1e36, sums below float32's 3.4e38
    got = run(backend, numbaconv.conv2d, x, w, padding=1, algorithm=algorithm)
    want = ref.conv(x, w, pads=1)
    assert np.isfinite(want).all()
    assert_same_nonfinite(got, want)


CPU_GATHERS = [
    # (conv kwargs, weight shape, x shape, algorithm, layout): each CPU kernel that reads through index tables
    (dict(padding=1), (4, 4, 3, 3), (1, 4, 7, 9), "direct", "first"),  # plane kernel
    (dict(padding=1, stride=2), (4, 4, 3, 3), (1, 4, 7, 9), "direct", "first"),  # row kernel
    (dict(padding=1), (4, 4, 3, 3), (1, 4, 7, 9), "direct", "last"),  # row kernel, channels-last
    (dict(padding=1, groups=4, stride=2), (4, 1, 3, 3), (1, 4, 7, 9), "depthwise", "first"),  # depthwise_row
    (dict(padding=1, groups=4), (4, 1, 3, 3), (1, 4, 7, 9), "depthwise", "last"),  # depthwise_nhwc
    (dict(padding=1, groups=4), (4, 1, 3, 3, 3), (1, 4, 5, 6, 7), "depthwise", "first"),  # depthwise_row3d
    (dict(padding=(2, 1)), (4, 4, 3, 3), (1, 4, 7, 9), "gemm", "first"),
    (dict(padding=1), (8, 8, 3, 3), (1, 8, 8, 8), "winograd", "first"),
    (dict(padding=1), (8, 8, 3, 3), (1, 8, 8, 8), "winograd_f2", "first"),
    (dict(padding=2), (4, 4, 3, 3), (1, 4, 7, 9), "fft", "first"),
]
CUDA_GATHERS = [
    (dict(padding=1), (4, 4, 3, 3), (1, 4, 7, 9), "direct", "first"),
    (dict(padding=1, groups=4), (4, 1, 3, 3), (1, 4, 7, 9), "depthwise", "last"),
    (dict(padding=(2, 1)), (4, 4, 3, 3), (1, 4, 7, 9), "gemm", "first"),
]


@over_backends("kw,w_shape,x_shape,algorithm,layout", cpu=CPU_GATHERS, cuda=CUDA_GATHERS)
def test_a_nan_or_inf_weight_poisons_outputs_whose_tap_is_on_zero_padding(
    backend, kw, w_shape, x_shape, algorithm, layout
):
    rng = np.random.default_rng(3)
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = rng.standard_normal(w_shape).astype(np.float32)
    w[(1, 0) + (0,) * (w.ndim - 2)] = np.nan  # first tap: on the padding of the top/left edge outputs only
    w[(2, 0) + (-1,) * (w.ndim - 2)] = np.inf  # last tap: Inf x 0 on the bottom/right padding
    conv = {4: numbaconv.conv2d, 5: numbaconv.conv3d}[x.ndim]
    got = run(backend, conv, x, w, layout=layout, algorithm=algorithm, **kw)
    want = ref.conv(
        x,
        w,
        pads=kw["padding"] if np.isscalar(kw["padding"]) else list(zip(kw["padding"], kw["padding"])),
        stride=kw.get("stride", 1),
        groups=kw.get("groups", 1),
    )
    assert np.isnan(want).any() and np.isinf(want).any()
    assert_same_nonfinite(got, want)


def test_auto_errors_stay_local_to_each_window_and_fast_may_not():
    """A 1e6 spot in unit data: outputs whose 3x3 window misses it keep a direct sum's error under "auto"."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((1, 32, 24, 12)).astype(np.float32)
    w = rng.standard_normal((32, 32, 3, 3)).astype(np.float32)
    x[0, 0, 10, 5] = 1e6
    want = ref.conv(x, w, pads=1)
    far = np.ones(want.shape, bool)
    far[0, :, 9:12, 4:7] = False  # the outputs whose window holds the spot
    params = numbaconv.conv_params("conv2d", 2, x.shape, w.shape, padding=1)
    assert numbaconv.select_algorithm(params, fast=True) == "winograd"
    auto = numbaconv.conv2d(x, w, padding=1)
    assert np.abs(auto - want)[far].max() < 1e-3  # unit data: float32 rounding of a 288-term sum
    fast = numbaconv.conv2d(x, w, padding=1, algorithm="fast")
    assert np.abs(fast - want)[far].max() > 1e-1  # F(4x4) spreads the spot's rounding over its tile


def test_fast_is_auto_where_no_transform_applies():
    x, w = dense_case(5)
    got = numbaconv.conv2d(x, w, padding=1, stride=2, algorithm="fast")
    np.testing.assert_array_equal(got, numbaconv.conv2d(x, w, padding=1, stride=2))
