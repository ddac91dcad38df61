"""Hypothesis properties of the convolution family (float64, so equalities hold to rounding)."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import numbaconv

from helpers import assert_close, to_channels_first, to_channels_last

ALGORITHMS = st.sampled_from(["auto", "direct", "gemm"])


@st.composite
def conv_problem(draw, groups=True):
    """A random small 2-D convolution: (x, w, keyword arguments)."""
    g = draw(st.integers(1, 3)) if groups else 1
    cin, cout = g * draw(st.integers(1, 3)), g * draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    kw_args = dict(
        stride=(draw(st.integers(1, 3)), draw(st.integers(1, 3))),
        dilation=(draw(st.integers(1, 3)), draw(st.integers(1, 3))),
        groups=g,
        padding=draw(st.sampled_from([0, 1, "same", "full", ((1, 0), (0, 2))])),
    )
    h = draw(st.integers(kw_args["dilation"][0] * (kh - 1) + 1, 12))
    w = draw(st.integers(kw_args["dilation"][1] * (kw - 1) + 1, 12))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((draw(st.integers(1, 2)), cin, h, w))
    weight = rng.standard_normal((cout, cin // g, kh, kw))
    return x, weight, kw_args


@given(conv_problem(), st.floats(-3, 3), st.floats(-3, 3), ALGORITHMS)
def test_linearity(problem, a, b, algorithm):
    x, w, kw = problem
    x2 = np.random.default_rng(0).standard_normal(x.shape)
    lhs = numbaconv.conv2d(a * x + b * x2, w, algorithm=algorithm, **kw)
    rhs = a * numbaconv.conv2d(x, w, **kw) + b * numbaconv.conv2d(x2, w, **kw)
    assert_close(lhs, rhs)


@given(conv_problem(groups=False), st.integers(-5, 5), st.integers(-5, 5), ALGORITHMS)
def test_translation_equivariance_with_circular_padding(problem, dy, dx, algorithm):
    x, w, kw = problem
    kw = dict(kw, stride=1, padding="same", padding_mode="circular")
    shifted = numbaconv.conv2d(np.roll(x, (dy, dx), axis=(2, 3)), w, algorithm=algorithm, **kw)
    y = numbaconv.conv2d(x, w, **kw)
    # "same" with an even extent pads unevenly, so output and input grids coincide: the roll commutes.
    assert_close(shifted, np.roll(y, (dy, dx), axis=(2, 3)))


@given(conv_problem(), ALGORITHMS)
def test_dilated_conv_equals_conv_with_zero_inserted_kernel(problem, algorithm):
    x, w, kw = problem
    dy, dx = kw["dilation"]
    kh, kw_ = w.shape[2:]
    holes = np.zeros(w.shape[:2] + (dy * (kh - 1) + 1, dx * (kw_ - 1) + 1))
    holes[:, :, ::dy, ::dx] = w
    plain = dict(kw, dilation=1)
    if isinstance(kw["padding"], str):  # same/full depend on the extent, which both kernels share
        plain["padding"] = kw["padding"]
    assert_close(numbaconv.conv2d(x, w, algorithm=algorithm, **kw), numbaconv.conv2d(x, holes, **plain))


@given(conv_problem(), st.sampled_from(["zeros", "replicate", "circular"]), ALGORITHMS)
def test_flip_equals_correlation_with_rotated_kernel(problem, padding_mode, algorithm):
    x, w, kw = problem
    got = numbaconv.conv2d(x, w, flip=True, padding_mode=padding_mode, algorithm=algorithm, **kw)
    want = numbaconv.conv2d(x, np.ascontiguousarray(w[:, :, ::-1, ::-1]), padding_mode=padding_mode, **kw)
    assert_close(got, want)


@given(conv_problem(), ALGORITHMS)
def test_grouped_conv_equals_per_group_convs(problem, algorithm):
    x, w, kw = problem
    g = kw["groups"]
    cg, og = x.shape[1] // g, w.shape[0] // g
    parts = [
        numbaconv.conv2d(x[:, i * cg : (i + 1) * cg], w[i * og : (i + 1) * og], **dict(kw, groups=1)) for i in range(g)
    ]
    assert_close(numbaconv.conv2d(x, w, algorithm=algorithm, **kw), np.concatenate(parts, axis=1))


@given(conv_problem(groups=False), st.integers(1, 3))
def test_separable_equals_depthwise_then_pointwise(problem, multiplier):
    x, w, kw = problem
    c = x.shape[1]
    rng = np.random.default_rng(1)
    dw = rng.standard_normal((c * multiplier, 1) + w.shape[2:])
    pw = rng.standard_normal((3, c * multiplier))
    kw = dict(kw)
    del kw["groups"]
    two_steps = numbaconv.pointwise_conv2d(numbaconv.depthwise_conv2d(x, dw, **kw), pw)
    assert_close(numbaconv.separable_conv2d(x, dw, pw, **kw), two_steps)


@given(conv_problem(), st.sampled_from([None, "relu", "tanh"]), ALGORITHMS)
def test_channels_last_equals_channels_first_transposed(problem, activation, algorithm):
    x, w, kw = problem
    last = numbaconv.conv2d(to_channels_last(x), w, layout="NHWC", activation=activation, algorithm=algorithm, **kw)
    assert_close(to_channels_first(last), numbaconv.conv2d(x, w, activation=activation, **kw))
