"""`residual=`: activation(conv(x, w) + bias + residual) in the convolution's own store, on every op and algorithm
of the convolution family and the transpose convs, against tests/reference.py and torch, both layouts,
float32/float64, CPU and CUDA (simulator: batch-1 cases, small blocks)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import numbaconv
from numbaconv import _launch_conv, _launch_transpose
from numbaconv._algorithms import applicable_algorithms

import reference as ref
from helpers import (
    LAYOUTS,
    Case,
    assert_close,
    full,
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
CONV_T = {1: numbaconv.conv_transpose1d, 2: numbaconv.conv_transpose2d, 3: numbaconv.conv_transpose3d}
# The row kernels store the plain feature map (activation None) in a loop of their own.
ACTIVATIONS = (None, "relu")

# Between them these reach every CPU kernel: plane, row, depthwise_row, depthwise_row3d, depthwise_nhwc,
# pointwise, gemm, fft, winograd, winograd_f2 (see numbaconv._algorithms.kernel_for).
CASES = [
    Case("1d", (2, 3, 11), (4, 3, 3), dict(padding=1)),
    Case("2d", (2, 8, 9, 7), (8, 8, 3, 3), dict(padding=1)),
    Case("2d_strided_groups", (1, 4, 9, 10), (6, 2, 3, 3), dict(stride=2, padding=(1, 0), groups=2)),
    Case("2d_depthwise_multiplier", (2, 3, 8, 9), (6, 1, 3, 3), dict(groups=3, padding=1)),
    Case("2d_depthwise_strided", (1, 4, 9, 8), (4, 1, 3, 3), dict(groups=4, stride=2, padding=1)),
    Case("2d_pointwise", (2, 5, 4, 6), (3, 5, 1, 1)),
    Case("3d", (1, 2, 4, 5, 6), (3, 2, 3, 3, 3), dict(padding=1)),
    Case("3d_depthwise", (1, 2, 4, 5, 5), (2, 1, 3, 3, 3), dict(groups=2, padding=(1, 0, 1))),
]
T_CASES = [
    Case("1d", (2, 3, 7), (3, 4, 3), dict(stride=2, padding=1, output_padding=1)),
    Case("2d_groups", (1, 4, 5, 4), (4, 3, 3, 3), dict(stride=2, padding=1, groups=2)),
    Case("3d", (1, 2, 3, 4, 3), (2, 3, 2, 3, 2), dict(stride=(1, 2, 2), padding=(0, 1, 0))),
]


def algorithms(case, backend="cpu"):
    params = numbaconv.conv_params("t", case.nd, case.x, case.w, **case.kw)
    return ("auto",) + applicable_algorithms(params, backend)


def pads_of(case):
    return reference_pads(case.x[2:], case.w[2:], case.kw.get("padding", 0))


def conv_expected(case, x, w, b, r, act):
    kw = case.kw
    return ref.conv(
        x,
        w,
        b,
        stride=kw.get("stride", 1),
        pads=pads_of(case),
        groups=kw.get("groups", 1),
        act=act,
        residual=r,
    )


def transpose_expected(case, x, w, b, r, act):
    kw = case.kw
    return ref.conv_transpose(
        x,
        w,
        b,
        stride=kw.get("stride", 1),
        pads=pads_of(case),
        output_padding=kw.get("output_padding", 0),
        groups=kw.get("groups", 1),
        act=act,
        residual=r,
    )


def run_residual(backend, op, x, *arrays, residual, layout="first", **kw):
    """helpers.run with `residual` (channels-first on the host) moved to the backend in the result's layout."""
    return run(backend, op, x, *arrays, layout=layout, residual=to_backend(backend, residual, layout == "last"), **kw)


def activations(backend):
    return ACTIVATIONS if backend == "cpu" else ("relu",)  # every simulated CUDA call runs threads in Python


# ---- every op and algorithm against the reference ----

# Each algorithm in both dtypes and both layouts, paired (float32 channels-first, float64 channels-last) rather
# than crossed: every residual kernel variant compiles, and the suite compiles half as many.
PAIRS = ((np.float32, "first"), (np.float64, "last"))
CPU_MATRIX = [(case, name, dtype, layout) for case in CASES for name in algorithms(case) for dtype, layout in PAIRS]
CUDA_MATRIX = [(case, name, np.float32, "first") for case in CASES for name in algorithms(case, "cuda")[1:]] + [
    (CASES[i], "auto", np.float64, "last") for i in (2, 4, 5)
]


@over_backends("case,algorithm,dtype,layout", CPU_MATRIX, CUDA_MATRIX)
def test_conv_residual_matches_reference(backend, case, algorithm, dtype, layout):
    case = case.on(backend)
    x, w, b = rand(case.x, dtype, 1), rand(case.w, dtype, 2), rand(case.w[:1], dtype, 3)
    shape = numbaconv.conv_output_shape(case.x, case.w, **case.kw)
    r = rand(shape, dtype, 4)
    for act in activations(backend):
        got = run_residual(backend, CONV[case.nd], x, w, b, residual=r, layout=layout, activation=act, **case.kw)
        assert got.dtype == dtype
        assert_close(got, conv_expected(case, x, w, b, r, act), dtype)


@over_backends(
    "case,algorithm,dtype,layout",
    [(c, a, d, lay) for c in T_CASES for a in ("direct", "gemm") for d, lay in PAIRS],
    [(c, "direct", d, lay) for c, d, lay in zip(T_CASES, (np.float32, np.float64, np.float32), LAYOUTS * 2)],
)
def test_conv_transpose_residual_matches_reference(backend, case, algorithm, dtype, layout):
    case = case.on(backend)
    x, w = rand(case.x, dtype, 5), rand(case.w, dtype, 6)
    b = rand((case.w[1] * case.kw.get("groups", 1),), dtype, 7)
    r = rand(numbaconv.conv_transpose_output_shape(case.x, case.w, **case.kw), dtype, 8)
    for act in activations(backend):
        got = run_residual(backend, CONV_T[case.nd], x, w, b, residual=r, layout=layout, activation=act, **case.kw)
        assert_close(got, transpose_expected(case, x, w, b, r, act), dtype)


@over_backends("algorithm,layout", [(a, lay) for a in ("direct", "gemm") for lay in LAYOUTS], [("auto", "last")])
def test_resize_conv2d_residual(backend, algorithm, layout):
    x, w, b = rand((1, 3, 4, 5), np.float64, 9), rand((4, 3, 3, 3), np.float64, 10), rand((4,), np.float64, 11)
    r = rand((1, 4, 8, 10), np.float64, 12)
    for act in activations(backend):
        got = run_residual(
            backend, numbaconv.resize_conv2d, x, w, b, residual=r, layout=layout, activation=act, padding=1
        )
        assert_close(got, ref.resize_conv(x, w, b, scale=2, pads=1, act=act, residual=r))


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
def test_resize_conv2d_interpolating_modes_take_the_residual(backend, mode):
    x, w, b = rand((1, 2, 4, 5), np.float64, 30), rand((3, 2, 3, 3), np.float64, 31), rand((3,), np.float64, 32)
    r = rand((1, 3, 8, 10), np.float64, 33)
    got = run_residual(backend, numbaconv.resize_conv2d, x, w, b, residual=r, mode=mode, padding=1, activation="relu")
    assert_close(got, ref.resize_conv(x, w, b, scale=2, mode=mode, pads=1, act="relu", residual=r))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_depthwise_pointwise_and_separable_residual(backend, layout):
    x = rand((1, 3, 6, 7), np.float64, 13)
    dw, dwb = rand((6, 1, 3, 3), np.float64, 14), rand((6,), np.float64, 15)
    pw, pwb = rand((5, 6), np.float64, 16), rand((5,), np.float64, 17)
    r_dw, r_pw = rand((1, 6, 6, 7), np.float64, 18), rand((1, 5, 6, 7), np.float64, 19)
    got = run_residual(
        backend, numbaconv.depthwise_conv2d, x, dw, dwb, residual=r_dw, layout=layout, padding=1, activation="relu"
    )
    assert_close(got, ref.conv(x, dw, dwb, pads=1, groups=3, act="relu", residual=r_dw))
    mid = ref.conv(x, dw, pads=1, groups=3)
    got = run_residual(backend, numbaconv.pointwise_conv2d, mid, pw, pwb, residual=r_pw, layout=layout)
    assert_close(got, ref.conv(mid, pw[:, :, None, None], pwb, residual=r_pw))
    # The residual belongs to the result: after the pointwise step, not between the steps.
    got = run_residual(
        backend,
        numbaconv.separable_conv2d,
        x,
        dw,
        pw,
        pwb,
        residual=r_pw,
        layout=layout,
        depthwise_bias=dwb,
        padding=1,
        depthwise_activation="relu",
        activation="tanh",
    )
    mid = ref.conv(x, dw, dwb, pads=1, groups=3, act="relu")
    assert_close(got, ref.conv(mid, pw[:, :, None, None], pwb, act="tanh", residual=r_pw))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_shuffle_and_spatially_separable_residual(backend, layout):
    """shuffle_conv2d's residual has the shape of the shuffled result; each group reads its shuffled channels."""
    x, w, b = rand((1, 4, 5, 6), np.float64, 20), rand((6, 2, 3, 3), np.float64, 21), rand((6,), np.float64, 22)
    r = rand((1, 6, 5, 6), np.float64, 23)
    got = run_residual(
        backend, numbaconv.shuffle_conv2d, x, w, b, residual=r, layout=layout, groups=2, padding=1, activation="relu"
    )
    assert_close(got, ref.activation(ref.shuffle_conv(x, w, b, groups=2, pads=1) + r, "relu"))
    col, row = rand((3, 4, 3, 1), np.float64, 24), rand((5, 3, 1, 3), np.float64, 25)
    r = rand((1, 5, 5, 6), np.float64, 26)
    got = run_residual(
        backend,
        numbaconv.spatially_separable_conv2d,
        x,
        col,
        row,
        b[:5],
        residual=r,
        layout=layout,
        padding=1,
        activation="relu",
    )
    want = ref.spatially_separable_conv(x, col, row, b[:5], pads=((1, 1), (1, 1)))
    assert_close(got, ref.activation(want + r, "relu"))


# ---- arrays: unbatched, out=, dtypes, strides ----


@pytest.mark.parametrize("layout", LAYOUTS)
def test_unbatched_residual_and_out(backend, layout):
    """Unbatched x takes an unbatched residual (and out=) and gives an unbatched result."""
    last = layout == "last"
    x, w, b = rand((3, 6, 7), np.float32, 27), rand((4, 3, 3, 3), np.float32, 28), rand((4,), np.float32, 29)
    r = rand((4, 6, 7), np.float32, 30)
    want = ref.conv(x[None], w, b, pads=1, act="relu", residual=r[None])[0]

    def move(a):  # unbatched (C, H, W) in the layout, on the backend
        return to_backend(backend, np.ascontiguousarray(np.moveaxis(a, 0, -1)) if last else a)

    def back(a):
        a = to_host(backend, a)
        return np.moveaxis(a, -1, 0) if last else a

    kw = dict(padding=1, activation="relu", layout="NHWC" if last else "NCHW")
    w_dev, b_dev = to_backend(backend, w), to_backend(backend, b)
    assert_close(back(numbaconv.conv2d(move(x), w_dev, b_dev, residual=move(r), **kw)), want, np.float32)
    out = full(backend, (6, 7, 4) if last else (4, 6, 7), np.nan, np.float32)
    assert numbaconv.conv2d(move(x), w_dev, b_dev, residual=move(r), out=out, **kw) is out
    assert_close(back(out), want, np.float32)
    xt, wt, rt = rand((3, 5), np.float32, 31), rand((3, 2, 3), np.float32, 32), rand((2, 11), np.float32, 33)
    t_kw = dict(stride=2, activation="relu", layout="NWC" if last else "NCW")
    got = numbaconv.conv_transpose1d(move(xt), to_backend(backend, wt), residual=move(rt), **t_kw)
    assert_close(back(got), ref.conv_transpose(xt[None], wt, stride=2, act="relu", residual=rt[None])[0], np.float32)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_out_argument_with_residual(backend, dtype):
    x, w = rand((1, 3, 6, 6), dtype, 34), rand((4, 3, 3, 3), dtype, 35)
    r = rand((1, 4, 6, 6), dtype, 36)
    out = full(backend, (1, 4, 6, 6), np.nan, dtype)
    got = numbaconv.conv2d(
        to_backend(backend, x),
        to_backend(backend, w),
        padding=1,
        residual=to_backend(backend, r),
        activation="relu",
        out=out,
    )
    assert got is out
    assert_close(to_host(backend, out), ref.conv(x, w, pads=1, act="relu", residual=r), dtype)


# (x dtype, residual dtype): the residual is read in the compute dtype (float32 for float16 x).
MIXED = [
    (np.float32, np.float64),
    (np.float64, np.float32),
    (np.float64, np.float16),
    (np.float16, np.float16),
    (np.float16, np.float64),
]


@over_backends(
    "x_dtype,r_dtype,algorithm",
    [(a, b, alg) for a, b in MIXED for alg in ("direct", "gemm")],
    [(a, b, "auto") for a, b in MIXED[2:]],
)
def test_residual_of_another_float_dtype(backend, x_dtype, r_dtype, algorithm):
    x, w, b = rand((1, 3, 5, 6), x_dtype, 37), rand((4, 3, 3, 3), x_dtype, 38), rand((4,), x_dtype, 39)
    r = rand((1, 4, 5, 6), r_dtype, 40)
    got = run_residual(
        backend, numbaconv.conv2d, x, w, b, residual=r, padding=1, activation="relu", algorithm=algorithm
    )
    assert got.dtype == x_dtype
    compute = np.float32 if x_dtype == np.float16 else x_dtype
    assert_close(got, ref.conv(x, w, b, pads=1, act="relu", residual=r.astype(compute)), x_dtype)


@pytest.mark.parametrize("algorithm", ["direct", "gemm", "winograd", "winograd_f2", "fft", "pointwise"])
def test_strided_residual_views(algorithm):
    """A residual that is a strided view (every other pixel of a bigger array; a channels-last view of
    channels-first data) is read where it lies, as the kernels take any strides."""
    kernel = 1 if algorithm == "pointwise" else 3
    x, w = rand((2, 8, 6, 7), np.float64, 41), rand((8, 8, kernel, kernel), np.float64, 42)
    pad = kernel // 2
    big = rand((2, 8, 12, 14), np.float64, 43)
    r = big[:, :, ::2, ::2]
    got = numbaconv.conv2d(x, w, padding=pad, residual=r, algorithm=algorithm)
    assert_close(got, ref.conv(x, w, pads=pad, residual=r))
    first = rand((2, 8, 6, 7), np.float64, 44)
    got = numbaconv.conv2d(
        to_channels_last(x), w, padding=pad, residual=np.moveaxis(first, 1, -1), layout="NHWC", algorithm=algorithm
    )
    assert_close(to_channels_first(got), ref.conv(x, w, pads=pad, residual=first))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_residual_of_the_compute_dtype_is_not_copied(monkeypatch, dtype):
    """The kernels read the caller's residual itself: no temporary of the output's size."""
    seen = []
    for table in (_launch_conv.LAUNCHERS, _launch_transpose.LAUNCHERS):
        for key in list(table):
            monkeypatch.setitem(table, key, lambda *args, _seen=seen: _seen.append(args[4]))
    r = np.zeros((2, 4, 6, 6), dtype)
    numbaconv.conv2d(np.ones((2, 3, 6, 6), dtype), np.ones((4, 3, 3, 3), dtype), padding=1, residual=r)
    numbaconv.conv_transpose2d(np.ones((2, 3, 4, 4), dtype), np.ones((3, 4, 3, 3), dtype), residual=r)
    r_last = np.zeros((2, 6, 6, 4), dtype)[:, ::-1]
    numbaconv.conv2d(
        np.ones((2, 6, 6, 3), dtype), np.ones((4, 3, 3, 3), dtype), padding=1, residual=r_last, layout="NHWC"
    )
    assert [a is want for a, want in zip(seen, (r, r, r_last), strict=True)] == [True] * 3


def test_residual_on_finite_data_only_algorithms_with_non_finite_data():
    """Winograd and FFT fall back to the GEMM path on non-finite data; the residual goes with it."""
    x, w = rand((1, 8, 6, 6), np.float64, 45), rand((8, 8, 3, 3), np.float64, 46)
    x[0, 0, 2, 3] = np.nan
    r = rand((1, 8, 6, 6), np.float64, 47)
    want = ref.conv(x, w, pads=1, residual=r)
    for algorithm in ("winograd", "winograd_f2", "fft"):
        got = numbaconv.conv2d(x, w, padding=1, residual=r, algorithm=algorithm)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        assert_close(np.nan_to_num(got), np.nan_to_num(want))


def test_tune_times_and_runs_with_the_residual():
    from numbaconv import tuning

    tuning.clear()
    x, w, r = rand((1, 4, 6, 6), np.float64, 48), rand((5, 4, 3, 3), np.float64, 49), rand((1, 5, 6, 6), np.float64, 50)
    got = numbaconv.conv2d(x, w, padding=1, residual=r, activation="relu", algorithm="tune")
    assert_close(got, ref.conv(x, w, pads=1, act="relu", residual=r))
    tuning.clear()


# ---- torch ----


@pytest.mark.parametrize(
    "nd,algorithm,dtype",
    [
        (1, "direct", np.float64),
        (2, "gemm", np.float32),
        (2, "winograd_f2", np.float64),
        (2, "fft", np.float64),
        (2, "direct", np.float32),
        (3, "gemm", np.float64),
    ],
)
def test_conv_residual_matches_torch(nd, algorithm, dtype):
    """torch: F.conv{nd}d(x, w, b) + residual, then relu."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    spatial = (7, 6, 5)[:nd]
    x, w, b = rand((2, 4, *spatial), dtype, 51), rand((6, 4) + (3,) * nd, dtype, 52), rand((6,), dtype, 53)
    r = rand((2, 6, *spatial), dtype, 54)
    conv = getattr(F, f"conv{nd}d")
    want = F.relu(conv(*map(torch.from_numpy, (x, w, b)), padding=1) + torch.from_numpy(r)).numpy()
    got = CONV[nd](x, w, b, padding=1, residual=r, activation="relu", algorithm=algorithm)
    assert_close(got, want.astype(np.float64), dtype)


def test_resnet_basic_block_matches_torch():
    """conv, BN (folded), ReLU, conv, BN (folded), add the identity, ReLU: two calls."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x = rand((2, 8, 6, 6), np.float32, 55)
    w1, b1 = rand((8, 8, 3, 3), np.float32, 56), rand((8,), np.float32, 57)
    w2, b2 = rand((8, 8, 3, 3), np.float32, 58), rand((8,), np.float32, 59)
    h = numbaconv.conv2d(x, w1, b1, padding=1, activation="relu")
    y = numbaconv.conv2d(h, w2, b2, padding=1, residual=x, activation="relu")
    tx = torch.from_numpy(x)
    th = F.relu(F.conv2d(tx, torch.from_numpy(w1), torch.from_numpy(b1), padding=1))
    want = F.relu(F.conv2d(th, torch.from_numpy(w2), torch.from_numpy(b2), padding=1) + tx).numpy()
    assert_close(y, want.astype(np.float64), np.float32)


@pytest.mark.parametrize("algorithm", ["direct", "gemm"])
def test_conv_transpose_residual_matches_torch(algorithm):
    """A U-Net decoder step: upsample by a transpose conv and add the skip connection, then relu."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x, w, b = rand((2, 8, 4, 5), np.float64, 60), rand((8, 4, 4, 4), np.float64, 61), rand((4,), np.float64, 62)
    skip = rand((2, 4, 8, 10), np.float64, 63)
    want = F.relu(
        F.conv_transpose2d(*map(torch.from_numpy, (x, w, b)), stride=2, padding=1) + torch.from_numpy(skip)
    ).numpy()
    got = numbaconv.conv_transpose2d(
        x, w, b, stride=2, padding=1, residual=skip, activation="relu", algorithm=algorithm
    )
    assert_close(got, want)


# ---- properties ----


@st.composite
def conv_problem(draw):
    """A small random 2-D convolution: (x, w, b, keyword arguments, output shape)."""
    g = draw(st.integers(1, 2))
    cin, cout = g * draw(st.integers(1, 3)), g * draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kw_args = dict(
        stride=(draw(st.integers(1, 2)), draw(st.integers(1, 2))),
        groups=g,
        padding=draw(st.sampled_from([0, 1, "same", ((1, 0), (0, 2))])),
    )
    h, w = draw(st.integers(kh, 8)), draw(st.integers(kw, 8))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    x, weight = rng.standard_normal((draw(st.integers(1, 2)), cin, h, w)), rng.standard_normal((cout, cin // g, kh, kw))
    shape = numbaconv.conv_output_shape(x.shape, weight.shape, **kw_args)
    return x, weight, rng.standard_normal(cout), kw_args, rng.standard_normal(shape)


@given(conv_problem(), st.sampled_from(["auto", "direct", "gemm"]), st.sampled_from([None, "relu", "tanh"]))
def test_residual_is_added_after_the_bias_and_before_the_activation(problem, algorithm, activation):
    """conv(residual=r, activation=a) == a(conv(residual=None, activation=None) + r)."""
    x, w, b, kw, r = problem
    plain = numbaconv.conv2d(x, w, b, algorithm=algorithm, **kw)
    got = numbaconv.conv2d(x, w, b, residual=r, activation=activation, algorithm=algorithm, **kw)
    assert_close(got, ref.activation(plain + r, activation))


@given(
    st.integers(1, 3),
    st.integers(1, 3),
    st.sampled_from(["direct", "gemm"]),
    st.integers(0, 2**16),
)
def test_transpose_residual_is_added_before_the_activation(stride, kernel, algorithm, seed):
    rng = np.random.default_rng(seed)
    x, w, b = rng.standard_normal((1, 3, 4, 3)), rng.standard_normal((3, 2, kernel, kernel)), rng.standard_normal(2)
    plain = numbaconv.conv_transpose2d(x, w, b, stride=stride, algorithm=algorithm)
    r = rng.standard_normal(plain.shape)
    got = numbaconv.conv_transpose2d(x, w, b, stride=stride, residual=r, activation="relu", algorithm=algorithm)
    assert_close(got, np.maximum(plain + r, 0))


# ---- errors, before any kernel runs ----

X = np.zeros((2, 4, 8, 8), np.float32)
W = np.zeros((6, 4, 3, 3), np.float32)
R = np.zeros((2, 6, 6, 6), np.float32)


class FakeCudaArray:
    """Stands in for a CuPy array: only the interface matters to dispatch."""

    __cuda_array_interface__ = {"shape": (2, 6, 6, 6), "typestr": "<f4", "data": (0, False), "version": 3}
    shape, ndim, dtype = (2, 6, 6, 6), 4, np.dtype(np.float32)


def _overlapping_out():
    buf = np.zeros(2 * R.size + 8, np.float32)
    return dict(residual=buf[: R.size].reshape(R.shape), out=buf[8 : 8 + R.size].reshape(R.shape))


@pytest.fixture
def no_kernels(monkeypatch):
    def boom(*args):
        raise AssertionError("a kernel was launched")

    for table in (_launch_conv.LAUNCHERS, _launch_transpose.LAUNCHERS):
        for key in list(table):
            monkeypatch.setitem(table, key, boom)


@pytest.mark.usefixtures("no_kernels")
@pytest.mark.parametrize(
    "call,exc,match",
    [
        (
            lambda: numbaconv.conv2d(X, W, residual=R.tolist()),
            TypeError,
            r"conv2d: residual must be a NumPy array, a CPU array with __dlpack__ .*got builtins.list",
        ),
        (
            lambda: numbaconv.conv2d(X, W, residual=np.zeros((2, 6, 8, 8), np.float32)),
            ValueError,
            r"conv2d: residual.shape=\(2, 6, 8, 8\) must equal the result shape \(2, 6, 6, 6\)",
        ),
        (
            lambda: numbaconv.conv2d(X, W, residual=R[0]),
            ValueError,
            r"conv2d: residual.shape=\(6, 6, 6\) must equal the result shape \(2, 6, 6, 6\)",
        ),
        (
            lambda: numbaconv.conv2d(X[0], W, residual=R),
            ValueError,
            r"conv2d: residual.shape=\(2, 6, 6, 6\) must equal the result shape \(6, 6, 6\)",
        ),
        (
            lambda: numbaconv.conv2d(
                np.zeros((2, 8, 9, 4), np.float32), W, layout="NHWC", residual=np.zeros((2, 6, 6, 7), np.float32)
            ),
            ValueError,
            r"conv2d: residual.shape=\(2, 6, 6, 7\) must equal the result shape \(2, 6, 7, 6\)",
        ),
        (
            lambda: numbaconv.conv2d(X, W, residual=R.astype(np.int32)),
            TypeError,
            r"conv2d: residual dtype int32 is not supported; use a float dtype \(float16, float32, float64\)",
        ),
        (
            lambda: numbaconv.conv2d(X, W, residual=R.astype(np.complex64)),
            TypeError,
            r"conv2d: residual dtype complex64 is not supported",
        ),
        (lambda: numbaconv.conv2d(X, W, residual=R.astype(bool)), TypeError, r"conv2d: residual dtype bool"),
        (
            lambda: numbaconv.conv2d(X, W, residual=FakeCudaArray()),
            TypeError,
            r"conv2d: x is a host \(NumPy\) array but residual is a CUDA array \(FakeCudaArray\)",
        ),
        (lambda: numbaconv.conv2d(X, W, residual=R, out=R), ValueError, r"conv2d: out overlaps residual"),
        (lambda: numbaconv.conv2d(X, W, **_overlapping_out()), ValueError, r"conv2d: out overlaps residual"),
        (
            lambda: numbaconv.conv3d(X[:, :, None], W[:, :, None], residual=R),
            ValueError,
            r"conv3d: residual.shape=\(2, 6, 6, 6\) must equal the result shape \(2, 6, 1, 6, 6\)",
        ),
        (
            lambda: numbaconv.depthwise_conv2d(X, np.zeros((4, 1, 3, 3), np.float32), residual=[0.0]),
            TypeError,
            r"depthwise_conv2d: residual must be a NumPy array",
        ),
        (
            lambda: numbaconv.pointwise_conv2d(X, np.zeros((6, 4), np.float32), residual=R),
            ValueError,
            r"pointwise_conv2d: residual.shape=\(2, 6, 6, 6\) must equal the result shape \(2, 6, 8, 8\)",
        ),
        (
            lambda: numbaconv.separable_conv2d(
                X, np.zeros((4, 1, 3, 3), np.float32), np.zeros((6, 4), np.float32), residual=R.astype(np.int8)
            ),
            TypeError,
            r"separable_conv2d: residual dtype int8 is not supported",
        ),
        (
            lambda: numbaconv.separable_conv2d(
                X, np.zeros((4, 1, 3, 3), np.float32), np.zeros((5, 4), np.float32), residual=R
            ),
            ValueError,
            r"separable_conv2d: residual.shape=\(2, 6, 6, 6\) must equal the result shape \(2, 5, 6, 6\)",
        ),
        (
            lambda: numbaconv.shuffle_conv2d(X, np.zeros((6, 2, 3, 3), np.float32), groups=2, residual=R[:, :, :5]),
            ValueError,
            r"shuffle_conv2d: residual.shape=\(2, 6, 5, 6\) must equal the result shape \(2, 6, 6, 6\)",
        ),
        (
            lambda: numbaconv.spatially_separable_conv2d(
                X, np.zeros((4, 4, 3), np.float32), np.zeros((6, 4, 3), np.float32), residual=R[:1]
            ),
            ValueError,
            r"spatially_separable_conv2d: residual.shape=\(1, 6, 6, 6\) must equal the result shape \(2, 6, 6, 6\)",
        ),
        (
            lambda: numbaconv.conv_transpose2d(X, np.zeros((4, 6, 3, 3), np.float32), residual=R),
            ValueError,
            r"conv_transpose2d: residual.shape=\(2, 6, 6, 6\) must equal the result shape \(2, 6, 10, 10\)",
        ),
        (
            lambda: numbaconv.conv_transpose1d(X[:, :, 0], np.zeros((4, 6, 3), np.float32), residual=R[:, :, 0]),
            ValueError,
            r"conv_transpose1d: residual.shape=\(2, 6, 6\) must equal the result shape \(2, 6, 10\)",
        ),
        (
            lambda: numbaconv.conv_transpose2d(
                X, np.zeros((4, 6, 3, 3), np.float32), residual=np.zeros((2, 6, 10, 10), np.uint8)
            ),
            TypeError,
            r"conv_transpose2d: residual dtype uint8 is not supported",
        ),
        (
            lambda: numbaconv.resize_conv2d(X, W, residual=R),
            ValueError,
            r"resize_conv2d: residual.shape=\(2, 6, 6, 6\) must equal the result shape \(2, 6, 16, 16\)",
        ),
    ],
)
def test_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# ---- CUDA ----


@pytest.mark.cuda
def test_cuda_residual_errors(dev):
    x, w = dev(X), dev(W)
    with pytest.raises(TypeError, match=r"conv2d: x is a host \(NumPy\) array but residual is a CUDA array"):
        numbaconv.conv2d(X, W, residual=dev(R))
    with pytest.raises(TypeError, match=r"conv2d: residual is a host \(NumPy\) array but x is a CUDA array"):
        numbaconv.conv2d(x, w, residual=R)
    with pytest.raises(ValueError, match=r"conv2d: residual.shape=\(2, 6, 5, 6\) must equal the result shape"):
        numbaconv.conv2d(x, w, residual=dev(np.zeros((2, 6, 5, 6), np.float32)))
    with pytest.raises(TypeError, match=r"conv2d: residual dtype int32 is not supported"):
        numbaconv.conv2d(x, w, residual=dev(R.astype(np.int32)))
    r = dev(R)
    with pytest.raises(ValueError, match=r"conv2d: out overlaps residual"):
        numbaconv.conv2d(x, w, residual=r, out=r)


# ---- warmup ----


def test_warmup_compiles_no_residual_variant(monkeypatch):
    """numbaconv.warmup's steps launch every kernel without a residual, so only the variants without one compile
    ahead; a residual variant compiles on its first use."""
    from numbaconv.warmup import plan

    residuals = []
    for table in (_launch_conv.LAUNCHERS, _launch_transpose.LAUNCHERS):
        for key in list(table):
            monkeypatch.setitem(table, key, lambda *args, _seen=residuals: _seen.append(args[4]))
    for _, call in plan(["conv", "transpose"], ["float32"], LAYOUTS):
        call()
    assert residuals and all(r is None for r in residuals)
