"""Transpose convolution and resize-conv against tests/reference.py, adjointness with conv, and every error, on the
CPU and CUDA backends (CUDA: batch-1 cases, small blocks)."""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import numbaconv
from numbaconv import _cpu

import reference as ref
from helpers import (
    BACKEND_SETTINGS,
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
    to_channels_last,
    to_host,
)

CONV_T = {1: numbaconv.conv_transpose1d, 2: numbaconv.conv_transpose2d, 3: numbaconv.conv_transpose3d}
ACTIVATIONS = [None, "relu", "relu6", "leaky_relu", "sigmoid", "tanh"]
ALGORITHMS = {"cpu": ("auto", "direct", "gemm"), "cuda": ("auto", "direct")}

CASES = [
    Case("1d_basic", (2, 3, 7), (3, 4, 3)),
    Case("1d_stride_dilation_outpad", (1, 2, 9), (2, 3, 3), dict(stride=3, dilation=2, padding=2, output_padding=2)),
    Case("1d_same_kernel_shorter_than_stride", (1, 2, 5), (2, 2, 2), dict(stride=3, padding="same")),
    Case("2d_stride2_k4", (2, 4, 5, 6), (4, 3, 4, 4), dict(stride=2, padding=1)),
    Case(
        "2d_pairs_rect",
        (1, 3, 4, 5),
        (3, 2, 3, 2),
        dict(stride=(2, 3), padding=((2, 0), (1, 3)), output_padding=(1, 0)),
    ),
    Case(
        "2d_grouped_dilated", (2, 6, 5, 5), (6, 2, 3, 3), dict(groups=3, dilation=(2, 1), stride=(1, 2), padding=(1, 0))
    ),
    Case("2d_depthwise", (1, 4, 6, 5), (4, 1, 3, 3), dict(groups=4, stride=2, padding=1, output_padding=1)),
    Case("2d_gemm_sized", (2, 16, 5, 4), (16, 4, 4, 4), dict(stride=2, padding=1)),
    Case(
        "2d_outpad_below_dilation",
        (1, 2, 4, 5),
        (2, 3, 2, 3),
        dict(stride=(1, 2), dilation=(3, 1), output_padding=(2, 1)),
    ),
    Case("2d_same", (1, 3, 5, 4), (3, 2, 3, 4), dict(stride=2, padding="same")),
    Case("2d_crop_beyond_kernel", (1, 2, 6, 6), (2, 2, 3, 3), dict(padding=3)),
    Case("3d_basic", (1, 2, 3, 4, 3), (2, 3, 2, 3, 2), dict(stride=(1, 2, 2), padding=(0, 1, 0))),
    Case("3d_groups_same", (2, 4, 3, 3, 4), (4, 1, 3, 2, 3), dict(stride=2, groups=2, padding="same")),
]
IDS = ids(CASES)


def reference_geometry(case, kw=None):
    """(pads, output_padding) of a case, with "same" resolved from its definition: output = in * stride."""
    kw = case.kw if kw is None else kw
    stride, dilation, padding = kw.get("stride", 1), kw.get("dilation", 1), kw.get("padding", 0)
    if padding == "same":
        pads, extra = [], []
        for n, k, s, d in zip(case.x[2:], case.w[2:], *(np.broadcast_to(v, (case.nd,)) for v in (stride, dilation))):
            lo, hi = ref.same_pads(n * s, k, s, d)
            pads.append((lo, hi))
            extra.append(n * s - ((n - 1) * s + d * (k - 1) + 1 - lo - hi))
        return pads, tuple(extra)
    return reference_pads(case.x[2:], case.w[2:], padding), kw.get("output_padding", 0)


def expected(case, x, w, b=None, **options):
    kw = {**case.kw, **options}
    pads, output_padding = reference_geometry(case, kw)
    return ref.conv_transpose(
        x,
        w,
        b,
        stride=kw.get("stride", 1),
        pads=pads,
        output_padding=output_padding,
        dilation=kw.get("dilation", 1),
        groups=kw.get("groups", 1),
        act=kw.get("activation"),
        negative_slope=kw.get("negative_slope", 0.01),
    )


def bias_for(case, dtype, seed=3):
    return rand((case.w[1] * case.kw.get("groups", 1),), dtype, seed)


_EXPECTED = {}


def inputs_and_expected(case, dtype):
    """Inputs in `dtype` and the float64 reference, computed once per (case, shape, dtype) (the reference is
    slow)."""
    x, w, b = rand(case.x, dtype, 1), rand(case.w, dtype, 2), bias_for(case, dtype)
    key = (case.name, case.x, np.dtype(dtype).name)
    if key not in _EXPECTED:
        _EXPECTED[key] = expected(case, x, w, b)
    return x, w, b, _EXPECTED[key]


# CPU: every case x algorithm x float32/float64 x layout; CUDA: every case x CUDA algorithm in float32.
@over_backends(
    "case,algorithm,dtype,layout",
    [(c, a, d, lay) for c in CASES for a in ALGORITHMS["cpu"] for d in (np.float32, np.float64) for lay in LAYOUTS],
    [(c, a, np.float32, "first") for c in CASES for a in ALGORITHMS["cuda"]],
)
def test_conv_transpose_matches_reference(backend, case, algorithm, dtype, layout):
    case = case.on(backend)
    x, w, b, want = inputs_and_expected(case, dtype)
    got = run(backend, CONV_T[case.nd], x, w, b, layout=layout, algorithm=algorithm, **case.kw)
    assert got.dtype == dtype
    assert_close(got, want, dtype)


def test_conv_transpose_float16_accumulates_in_float32(backend):
    """float16 on three cases in both layouts, the backend's algorithms in turn, and into an `out=` array."""
    runs = [
        (CASES[2], "first"),
        (CASES[3], "last"),
        (CASES[12], "first"),
        (CASES[2], "last"),
        (CASES[3], "first"),
        (CASES[12], "last"),
    ]
    for i, (case, layout) in enumerate(runs):
        case = case.on(backend)
        algorithm = ALGORITHMS[backend][i % len(ALGORITHMS[backend])]
        x, w, b = rand(case.x, np.float16, 7), rand(case.w, np.float16, 8), bias_for(case, np.float16, 9)
        got = run(backend, CONV_T[case.nd], x, w, b, layout=layout, algorithm=algorithm, **case.kw)
        assert got.dtype == np.float16
        assert_close(got, expected(case, x, w, b), np.float16)
    case = CASES[3].on(backend)
    x, w = rand(case.x, np.float16, 17), rand(case.w, np.float16, 18)
    out = full(backend, numbaconv.conv_transpose_output_shape(case.x, case.w, **case.kw), np.nan, np.float16)
    assert numbaconv.conv_transpose2d(to_backend(backend, x), to_backend(backend, w), out=out, **case.kw) is out
    assert_close(to_host(backend, out), expected(case, x, w), np.float16)
    # float16 input, float32 weight, float16 out.
    x, w = rand((1, 2, 4, 5), np.float16, 10), rand((2, 3, 3, 3), np.float32, 11)
    half = full(backend, (1, 3, 8, 9), np.nan, np.float16)
    assert (
        numbaconv.conv_transpose2d(
            to_backend(backend, x), to_backend(backend, w), stride=2, padding=1, output_padding=(1, 0), out=half
        )
        is half
    )
    assert_close(to_host(backend, half), ref.conv_transpose(x, w, stride=2, pads=1, output_padding=(1, 0)), np.float16)


# CPU: one case, every activation x algorithm x float32/float64. CUDA: every case channels-last in float64, the
# activations in turn.
@over_backends(
    "case,activation,algorithm,dtype,layout",
    [
        (CASES[3], act, a, d, "first")
        for act in ACTIVATIONS
        for a in ("direct", "gemm")
        for d in (np.float32, np.float64)
    ],
    [(c, ACTIVATIONS[(i + 1) % len(ACTIVATIONS)], "auto", np.float64, "last") for i, c in enumerate(CASES)],
)
def test_conv_transpose_fused_activation(backend, case, activation, algorithm, dtype, layout):
    case = case.on(backend)
    x, w, b = 3 * rand(case.x, dtype, 4), rand(case.w, dtype, 5), bias_for(case, dtype, 6)
    got = run(
        backend,
        CONV_T[case.nd],
        x,
        w,
        b,
        layout=layout,
        activation=activation,
        negative_slope=0.2,
        algorithm=algorithm,
        **case.kw,
    )
    assert_close(got, expected(case, x, w, b, activation=activation, negative_slope=0.2), dtype)


@pytest.mark.parametrize(
    "size,kernel,stride,dilation", [(5, 3, 2, 1), (4, 4, 2, 1), (6, 2, 3, 1), (3, 3, 2, 2), (7, 1, 1, 1), (4, 5, 3, 1)]
)
def test_same_padding_gives_input_times_stride(size, kernel, stride, dilation):
    case = Case(
        "same", (1, 2, size, size + 1), (2, 3, kernel, kernel), dict(stride=stride, dilation=dilation, padding="same")
    )
    x, w = rand(case.x, np.float64, 7), rand(case.w, np.float64, 8)
    got = numbaconv.conv_transpose2d(x, w, **case.kw)
    assert got.shape[2:] == (size * stride, (size + 1) * stride)
    assert_close(got, expected(case, x, w))


def test_same_is_the_adjoint_of_conv_same():
    """conv2d(padding="same", stride=s) maps s*n pixels to n; its adjoint is conv_transpose2d(padding="same")."""
    x, w = rand((1, 3, 12, 9), np.float64, 9), rand((4, 3, 4, 3), np.float64, 10)
    y = rand((1, 4, 4, 3), np.float64, 11)
    lhs = np.vdot(numbaconv.conv2d(x, w, stride=3, padding="same"), y)
    rhs = np.vdot(x, numbaconv.conv_transpose2d(y, w, stride=3, padding="same"))
    assert lhs == pytest.approx(rhs, rel=1e-10)


def test_same_crops_the_odd_pixel_at_the_end():
    x = np.zeros((1, 1, 3))
    x[0, 0, 0] = 1.0
    got = numbaconv.conv_transpose1d(x, np.array([[[1.0, 2.0, 3.0, 4.0]]]), stride=2, padding="same")
    # full output [1, 2, 3, 4, 0, 0, 0, 0] (length 8) cropped by (1, 1) to length 6
    assert got[0, 0].tolist() == [2, 3, 4, 0, 0, 0]


@given(
    data=st.data(),
    stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    groups=st.sampled_from([1, 2]),
    kernel=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    algorithm=st.sampled_from(["direct", "gemm"]),
)
def test_adjoint_of_conv(data, stride, dilation, groups, kernel, algorithm):
    """<conv2d(x, w), y> == <x, conv_transpose2d(y, w)> with the same geometry and output_size = x's size."""
    size = data.draw(st.tuples(st.integers(3, 8), st.integers(3, 8)))
    pads = tuple(data.draw(st.tuples(st.integers(0, 2), st.integers(0, 2))) for _ in range(2))
    padding = pads if data.draw(st.booleans()) else tuple(p[0] for p in pads)
    c_in, c_out = 2 * groups, groups * data.draw(st.integers(1, 2))
    spans = [
        n + sum(p) - d * (k - 1)
        for n, p, k, d in zip(
            size, pads if isinstance(padding[0], tuple) else [(p, p) for p in padding], kernel, dilation
        )
    ]
    assume(all(s >= 1 for s in spans))
    x, w = rand((1, c_in, *size), np.float64, 12), rand((c_out, c_in // groups, *kernel), np.float64, 13)
    fwd = numbaconv.conv2d(x, w, stride=stride, padding=padding, dilation=dilation, groups=groups)
    y = rand(fwd.shape, np.float64, 14)
    back = numbaconv.conv_transpose2d(
        y, w, stride=stride, padding=padding, dilation=dilation, groups=groups, output_size=size, algorithm=algorithm
    )
    assert back.shape == x.shape
    assert np.vdot(fwd, y) == pytest.approx(np.vdot(x, back), rel=1e-9, abs=1e-9)


@BACKEND_SETTINGS
@given(
    size=st.integers(1, 6),
    kernel=st.integers(1, 4),
    stride=st.integers(1, 5),
    dilation=st.integers(1, 3),
    pads=st.tuples(st.integers(0, 4), st.integers(0, 4)),
    groups=st.sampled_from([1, 2]),
    data=st.data(),
)
def test_random_1d_geometry_matches_reference(backend, size, kernel, stride, dilation, pads, groups, data):
    """Strides beyond the kernel (outputs no tap reaches), crops beyond the output's edge, output_padding up to
    max(stride, dilation) - 1, groups, each algorithm of the backend."""
    output_padding = data.draw(st.integers(0, max(stride, dilation) - 1))
    algorithm = data.draw(st.sampled_from(ALGORITHMS[backend][1:]))
    assume((size - 1) * stride - sum(pads) + dilation * (kernel - 1) + output_padding + 1 >= 1)
    n = 2 if backend == "cpu" else 1
    x, w, b = (
        rand((n, 2, size), np.float64, 40),
        rand((2, 2, kernel), np.float64, 41),
        rand((2 * groups,), np.float64, 42),
    )
    got = run(
        backend,
        numbaconv.conv_transpose1d,
        x,
        w,
        b,
        stride=stride,
        dilation=dilation,
        padding=(pads,),
        output_padding=output_padding,
        groups=groups,
        algorithm=algorithm,
    )
    assert_close(
        got,
        ref.conv_transpose(
            x, w, b, stride=stride, pads=[pads], output_padding=output_padding, dilation=dilation, groups=groups
        ),
    )


@pytest.mark.parametrize("layout", LAYOUTS)
def test_output_size_solves_output_padding(backend, layout):
    x, w = rand((1, 2, 4, 5), np.float64, 15), rand((2, 3, 3, 3), np.float64, 16)
    for size, pad in [((7, 9), (0, 0)), ((8, 10), (1, 1)), ((8, 9), (1, 0))]:
        want = ref.conv_transpose(x, w, stride=2, pads=1, output_padding=pad)
        full_shape = (1, *size, 3) if layout == "last" else (1, 3, *size)
        for output_size in (size, list(size), full_shape):
            got = run(
                backend, numbaconv.conv_transpose2d, x, w, stride=2, padding=1, output_size=output_size, layout=layout
            )
            assert_close(got, want)


@pytest.mark.parametrize(
    "input_size,output_size,kw,want",
    [
        (7, 14, dict(kernel_size=3, stride=2, padding=1), (1,)),
        ((7, 7), (13, 14), dict(kernel_size=3, stride=2, padding=1), (0, 1)),
        (
            (4, 4, 4),
            (8, 9, 12),
            dict(kernel_size=(4, 3, 3), stride=(2, 2, 3), padding=((1, 1), (0, 0), (0, 1))),
            (0, 0, 1),
        ),
        (5, 15, dict(kernel_size=3, stride=1, dilation=4, padding=0), (2,)),
        ((5, 6), (10, 12), dict(kernel_size=3, stride=2, padding="same"), (0, 0)),
    ],
)
def test_output_padding_for(input_size, output_size, kw, want):
    assert numbaconv.output_padding_for(input_size, output_size, **kw) == want


def test_output_padding_for_agrees_with_the_size_formula():
    """torch's size formula written out here: the solved padding must produce the asked size."""
    for n, k, s, d, p in [(5, 3, 2, 1, 1), (4, 4, 3, 1, 0), (6, 2, 1, 3, 2), (3, 5, 4, 2, 3)]:
        base = (n - 1) * s - 2 * p + d * (k - 1) + 1
        for q in range(max(s, d)):
            assert numbaconv.output_padding_for(n, base + q, k, stride=s, padding=p, dilation=d) == (q,)


@pytest.mark.parametrize(
    "shape,kw,want",
    [
        ((1, 64, 28, 28), dict(weight_shape=(64, 32, 4, 4), stride=2, padding=1), (1, 32, 56, 56)),
        ((2, 3, 10), dict(weight_shape=(3, 5, 3), stride=3, padding="same"), (2, 5, 30)),
        (
            (2, 5, 6, 7, 4),
            dict(weight_shape=(4, 3, 3, 3, 3), groups=2, layout="NDHWC", output_padding=(0, 1, 0), stride=(1, 2, 1)),
            (2, 7, 14, 9, 6),
        ),
        ((1, 2, 5, 5), dict(weight_shape=(2, 1, 3, 3), padding=((2, 0), (0, 3)), dilation=2), (1, 1, 7, 6)),
    ],
)
def test_conv_transpose_output_shape(shape, kw, want):
    assert numbaconv.conv_transpose_output_shape(shape, **kw) == want


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_out_argument_is_filled_and_returned(backend, dtype):
    case = CASES[3].on(backend)
    x, w = rand(case.x, dtype, 17), rand(case.w, dtype, 18)
    out = full(backend, numbaconv.conv_transpose_output_shape(case.x, case.w, **case.kw), np.nan, dtype)
    assert numbaconv.conv_transpose2d(to_backend(backend, x), to_backend(backend, w), out=out, **case.kw) is out
    assert_close(to_host(backend, out), expected(case, x, w), dtype)


def test_integer_input_with_explicit_dtype_and_non_contiguous_input():
    x = np.random.default_rng(19).integers(-5, 5, (1, 2, 4, 6)).astype(np.int16)
    w = np.arange(2 * 3 * 2 * 2, dtype=np.int64).reshape(2, 3, 2, 2)
    got = numbaconv.conv_transpose2d(x, w, stride=2, dtype=np.float32)
    assert got.dtype == np.float32
    assert_close(got, ref.conv_transpose(x, w, stride=2), np.float32)
    xs = rand((2, 3, 10, 12), np.float64, 20)[:, :, ::2, 1::3]
    ws = rand((3, 2, 3, 3), np.float64, 21)
    for algorithm in ("direct", "gemm"):
        assert_close(
            numbaconv.conv_transpose2d(xs, ws, stride=2, algorithm=algorithm), ref.conv_transpose(xs, ws, stride=2)
        )


@pytest.mark.parametrize("budget", [1 << 30, 4096, 600])
def test_gemm_blocks_of_images_and_channels(monkeypatch, budget):
    """Small workspaces force blocks of a few images, then chunks of channels; the result must not change."""
    monkeypatch.setattr(_cpu, "WORKSPACE_BYTES", budget)
    x, w = rand((5, 4, 3, 4), np.float64, 22), rand((4, 6, 3, 2), np.float64, 23)
    b = rand((12,), np.float64, 24)
    want = ref.conv_transpose(x, w, b, stride=(2, 1), pads=[(1, 0), (0, 1)], groups=2)
    got = numbaconv.conv_transpose2d(x, w, b, stride=(2, 1), padding=((1, 0), (0, 1)), groups=2, algorithm="gemm")
    assert_close(got, want)


def test_matches_torch():
    """A third oracle where torch is installed (the package never needs it)."""
    torch = pytest.importorskip("torch")
    x, w = rand((2, 6, 5, 7), np.float64, 25), rand((6, 2, 3, 4), np.float64, 26)
    for kw in [
        dict(stride=2, padding=1, output_padding=1),
        dict(stride=(3, 2), padding=(2, 0), dilation=(1, 2), groups=3, output_padding=(2, 0)),
    ]:
        b = rand((2 * kw.get("groups", 1),), np.float64, 27)
        want = torch.nn.functional.conv_transpose2d(
            torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b), **kw
        ).numpy()
        for algorithm in ("direct", "gemm"):
            assert_close(numbaconv.conv_transpose2d(x, w, b, algorithm=algorithm, **kw), want)


def test_params_flops_and_algorithm_choice():
    from numbaconv._algorithms import select_resize_algorithm, select_transpose_algorithm

    p = numbaconv.conv_transpose_params("t", 2, (1, 64, 28, 28), (64, 32, 4, 4), stride=2, padding=1)
    assert isinstance(p, numbaconv.ConvTransposeParams)
    assert p.out_shape == (1, 32, 56, 56)
    assert p.flops == 2 * 64 * 28 * 28 * 32 * 16
    assert select_transpose_algorithm(p) == "gemm"
    dw = numbaconv.conv_transpose_params("t", 2, (1, 32, 28, 28), (32, 1, 4, 4), stride=2, padding=1, groups=32)
    assert select_transpose_algorithm(dw) == "direct"
    small = numbaconv.conv_transpose_params("t", 1, (1, 4, 28), (4, 4, 3))
    assert select_transpose_algorithm(small) == "direct"
    assert select_transpose_algorithm(p, "cuda") == "direct"
    from numbaconv._params_transpose import resize_conv_params

    assert select_resize_algorithm(resize_conv_params("t", (1, 8, 4, 4), (16, 8, 3, 3), padding=1)) == "gemm"
    assert select_resize_algorithm(resize_conv_params("t", (1, 8, 4, 4), (8, 1, 3, 3), padding=1, groups=8)) == "direct"


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_tap_tables_pack_the_index_maps(case):
    """The CUDA kernel's packed (tap, input) rows hold exactly the index maps' hits, in tap order, then -1."""
    p = numbaconv.conv_transpose_params("t", case.nd, case.x, case.w, **case.kw)
    for table, index_map in zip(p.tap_tables(), p.index_maps()):
        assert table.shape[0] == index_map.shape[0]
        for row, hits in zip(table, index_map):
            taps = np.flatnonzero(hits >= 0)
            assert row[: len(taps), 0].tolist() == taps.tolist()
            assert row[: len(taps), 1].tolist() == hits[taps].tolist()
            assert (row[len(taps) :] == -1).all()


# ---- resize_conv2d ----

RESIZE_CASES = [
    Case("default_same", (2, 3, 4, 5), (4, 3, 3, 3)),
    Case("scale_per_dim_pairs", (1, 2, 3, 4), (3, 2, 3, 2), dict(scale_factor=(3, 2), padding=((1, 0), (2, 1)))),
    Case("stride_dilation_groups", (1, 4, 5, 4), (6, 2, 3, 3), dict(stride=2, dilation=2, groups=2, padding=2)),
    Case("reflect", (2, 2, 3, 3), (2, 2, 3, 3), dict(padding_mode="reflect", scale_factor=2)),
    Case(
        "replicate_valid", (1, 3, 4, 4), (2, 3, 5, 2), dict(padding="valid", padding_mode="replicate", scale_factor=3)
    ),
    Case("circular_full", (1, 2, 2, 3), (2, 2, 3, 3), dict(padding="full", padding_mode="circular")),
    Case("gemm_sized", (1, 8, 4, 4), (16, 8, 3, 3), dict(stride=(1, 2))),
    Case("scale_one_is_conv", (1, 2, 5, 5), (3, 2, 3, 3), dict(scale_factor=1, padding=1)),
]


def resize_expected(x, w, b, kw):
    kw = dict(kw)
    scale = kw.pop("scale_factor", 2)
    scale = (scale, scale) if np.isscalar(scale) else scale
    size = [n * s for n, s in zip(x.shape[2:], scale)]
    pads = reference_pads(size, w.shape[2:], kw.pop("padding", "same"), kw.get("stride", 1), kw.get("dilation", 1))
    return ref.resize_conv(
        x,
        w,
        b,
        scale=scale,
        stride=kw.get("stride", 1),
        pads=pads,
        dilation=kw.get("dilation", 1),
        groups=kw.get("groups", 1),
        padding_mode=kw.get("padding_mode", "zeros"),
        act=kw.get("activation"),
        negative_slope=kw.get("negative_slope", 0.01),
    )


@over_backends(
    "case,algorithm",
    [(c, a) for c in RESIZE_CASES for a in ("auto", "direct", "gemm")],
    [(c, "direct") for c in RESIZE_CASES],
)
def test_resize_conv2d_matches_reference(backend, case, algorithm):
    case = case.on(backend)
    x, w, b = rand(case.x, np.float64, 30), rand(case.w, np.float64, 31), rand(case.w[:1], np.float64, 32)
    assert_close(
        run(backend, numbaconv.resize_conv2d, x, w, b, algorithm=algorithm, **case.kw),
        resize_expected(x, w, b, case.kw),
    )


RESIZE_ALGORITHM_CASES = {
    "gemm": Case("gemm", (1, 2, 2, 3), (3, 2, 3, 2), dict(scale_factor=(2, 1), padding=((1, 0), (0, 1)))),
    "depthwise": Case("depthwise", (1, 2, 3, 2), (4, 1, 3, 3), dict(groups=2, padding_mode="reflect", stride=(1, 2))),
    "auto": Case("auto", (1, 2, 3, 2), (2, 2, 3, 3), dict(padding_mode="circular")),
}


@over_backends("algorithm", ["gemm", "auto"], ["gemm", "depthwise", "auto"])
def test_resize_conv2d_algorithms(backend, algorithm):
    """Every resize algorithm of the backend (CUDA takes conv's names, depthwise included) in float32."""
    case = RESIZE_ALGORITHM_CASES[algorithm]
    x, w, b = rand(case.x, np.float32, 33), rand(case.w, np.float32, 34), rand(case.w[:1], np.float32, 35)
    got = run(backend, numbaconv.resize_conv2d, x, w, b, algorithm=algorithm, **case.kw)
    assert_close(got, resize_expected(x, w, b, case.kw), np.float32)


@over_backends("algorithm", ["direct", "gemm"], ["direct"])
def test_resize_conv2d_nhwc_float32_activation_and_out(backend, algorithm):
    xs = (2, 3, 4, 3) if backend == "cpu" else (1, 3, 4, 3)
    x, w, b = rand(xs, np.float32, 33), rand((4, 3, 3, 3), np.float32, 34), rand((4,), np.float32, 35)
    _check_resize_nhwc_into_out(backend, x, w, b, algorithm)


def _check_resize_nhwc_into_out(backend, x, w, b, algorithm):
    """resize_conv2d of channels-last x into a NaN-filled `out=`, with an activation, uneven scale and stride."""
    dtype = x.dtype.type
    kw = dict(scale_factor=(2, 3), activation="leaky_relu", negative_slope=0.3, stride=(2, 1))
    want = resize_expected(x, w, b, kw)
    out = full(backend, to_channels_last(want).shape, np.nan, dtype)
    moved = [to_backend(backend, x, channels_last=True), to_backend(backend, w), to_backend(backend, b)]
    assert numbaconv.resize_conv2d(*moved, layout="NHWC", out=out, algorithm=algorithm, **kw) is out
    assert_close(to_host(backend, out, channels_last=True), want, dtype)


def test_resize_conv2d_float16(backend):
    """float16 channels-last: auto, then with an activation into an `out=` array."""
    x, w = rand((1, 2, 3, 3), np.float16, 36), rand((3, 2, 3, 3), np.float16, 37)
    got = run(backend, numbaconv.resize_conv2d, x, w, layout="last")
    assert got.dtype == np.float16 and got.shape == (1, 3, 6, 6)
    assert_close(got, resize_expected(x, w, None, {}), np.float16)
    x, w, b = rand((1, 3, 3, 2), np.float16, 36), rand((4, 3, 3, 3), np.float16, 37), rand((4,), np.float16, 38)
    _check_resize_nhwc_into_out(backend, x, w, b, "direct")


def test_resize_conv_reads_each_input_pixel_for_its_whole_cell():
    """A one-hot input lights up exactly its scale x scale cell under a 1x1 kernel."""
    x = np.zeros((1, 1, 3, 2))
    x[0, 0, 1, 1] = 1.0
    got = numbaconv.resize_conv2d(x, np.ones((1, 1, 1, 1)), scale_factor=(2, 3))[0, 0]
    want = np.zeros((6, 6))
    want[2:4, 3:6] = 1.0
    assert got.tolist() == want.tolist()


# ---- errors ----

X2, W2 = np.ones((1, 4, 5, 5)), np.ones((4, 2, 3, 3))


class FakeDeviceArray:
    """Looks like a CUDA array to the dispatcher; never reaches a kernel."""

    __cuda_array_interface__ = {"shape": (1, 4, 5, 5), "typestr": "<f8", "data": (0, False), "version": 3}
    shape, dtype = (1, 4, 5, 5), np.dtype(np.float64)


ERRORS = [
    (
        lambda: numbaconv.conv_transpose2d(X2, W2, layout="NWC"),
        ValueError,
        r"conv_transpose2d: layout='NWC' must be 'NCHW' or 'NHWC' for 2-d input",
    ),
    (
        lambda: numbaconv.conv_transpose2d(X2[0, 0], W2),
        ValueError,
        r"conv_transpose2d: input must be 4-d \(NCHW\) or 3-d unbatched, got 2-d shape \(5, 5\)",
    ),
    (
        lambda: numbaconv.conv_transpose2d(X2, W2[0]),
        ValueError,
        r"conv_transpose2d: weight must be 4-d \(C_in, C_out/groups, \*kernel\), got 3-d",
    ),
    (
        lambda: numbaconv.conv_transpose2d(X2, W2, groups=0),
        ValueError,
        r"conv_transpose2d: groups=0 must be a positive integer",
    ),
    (
        lambda: numbaconv.conv_transpose2d(X2, W2, groups=3),
        ValueError,
        r"conv_transpose2d: groups=3 must divide in_channels=4",
    ),
    (
        lambda: numbaconv.conv_transpose2d(X2, np.ones((2, 4, 3, 3))),
        ValueError,
        r"conv_transpose2d: weight.shape\[0\]=2 must equal in_channels=4 \(weight is \(C_in, C_out/groups",
    ),
    (
        lambda: numbaconv.conv_transpose2d(X2, np.ones((4, 0, 3, 3))),
        ValueError,
        r"conv_transpose2d: weight.shape=\(4, 0, 3, 3\) must have no zero-size dimension",
    ),
    (
        lambda: numbaconv.conv_transpose2d(np.ones((1, 4, 0, 5)), W2),
        ValueError,
        r"conv_transpose2d: input shape \(1, 4, 0, 5\) must have no zero-size dimension",
    ),
    (
        lambda: numbaconv.conv_transpose2d(X2, W2, stride=(0, 1)),
        ValueError,
        r"conv_transpose2d: stride=\(0, 1\) must be positive",
    ),
    (
        lambda: numbaconv.conv_transpose2d(X2, W2, dilation=1.5),
        TypeError,
        r"conv_transpose2d: dilation=1.5 must be an int or a sequence of 2 ints",
    ),
    (
        lambda: numbaconv.conv_transpose2d(X2, W2, padding="valid"),
        ValueError,
        r"conv_transpose2d: padding='valid' must be 'same', an int, 2 ints or 2 \(lo, hi\) pairs",
    ),
    (
        lambda: numbaconv.conv_transpose2d(X2, W2, padding=(1, 2, 3)),
        ValueError,
        r"conv_transpose2d: padding=\(1, 2, 3\) must be an int, 2 ints, 2 \(lo, hi\) pairs, or 'same'",
    ),
    (lambda: numbaconv.conv_transpose2d(X2, W2, padding=-1), ValueError, r"conv_transpose2d: padding=-1 must be >= 0"),
    (
        lambda: numbaconv.conv_transpose2d(X2, W2, padding=((0, -1), (0, 0))),
        ValueError,
        r"conv_transpose2d: padding=\(\(0, -1\), \(0, 0\)\) must be non-negative",
    ),
    (
        lambda: numbaconv.conv_transpose2d(X2, W2, output_padding=-1),
        ValueError,
        r"conv_transpose2d: output_padding=-1 must be >= 0",
    ),
    (
        lambda: numbaconv.conv_transpose2d(X2, W2, stride=2, output_padding=(0, 2)),
        ValueError,
        r"conv_transpose2d: output_padding=\(0, 2\) must be smaller than stride or dilation along spatial dim 1 "
        r"\(output_padding=2, stride=2, dilation=1\)",
    ),
    (
        lambda: numbaconv.conv_transpose2d(X2, W2, output_padding=1),
        ValueError,
        r"output_padding=\(1, 1\) must be smaller than stride or dilation along spatial dim 0",
    ),
    (
        lambda: numbaconv.conv_transpose2d(X2, W2, stride=2, padding="same", output_padding=1),
        ValueError,
        r"conv_transpose2d: output_padding=\(1, 1\) must be 0 with padding='same' \(the output size is input \* "
        r"stride\)",
    ),
    (
        lambda: numbaconv.conv_transpose2d(X2, W2, stride=2, output_padding=1, output_size=(10, 10)),
        ValueError,
        r"conv_transpose2d: pass output_size or output_padding, not both",
    ),
    (
        lambda: numbaconv.conv_transpose2d(X2, W2, output_size=(7,)),
        TypeError,
        r"conv_transpose2d: output_size=\(7,\) must be 2 ints \(the spatial size\) or a full shape of 4 ints",
    ),
    (
        lambda: numbaconv.conv_transpose2d(X2, W2, output_size=(7.0, 7)),
        TypeError,
        r"conv_transpose2d: output_size=\(7.0, 7\) must be 2 ints",
    ),
    (
        lambda: numbaconv.conv_transpose2d(X2, W2, output_size=(0, 7)),
        ValueError,
        r"conv_transpose2d: output_size=\(0, 7\) must be positive",
    ),
    (
        lambda: numbaconv.conv_transpose2d(X2, W2, stride=2, padding="same", output_size=(10, 11)),
        ValueError,
        r"conv_transpose2d: output_size=\(10, 11\) must be input \* stride = \(10, 10\) with padding='same'",
    ),
    (
        lambda: numbaconv.conv_transpose2d(X2, W2, stride=2, padding=1, output_size=(9, 11)),
        ValueError,
        r"conv_transpose2d: output_size=\(9, 11\) is unreachable along spatial dim 1: out = \(in - 1\) \* stride - "
        r"pad_lo - pad_hi \+ dilation \* \(kernel - 1\) \+ output_padding \+ 1 with in=5, stride=2, pad=\(1, 1\), "
        r"dilation=1, kernel=3 reaches 9 to 10 \(output_padding 0 to 1\)",
    ),
    (
        lambda: numbaconv.conv_transpose2d(X2, W2, padding=(4, 0)),
        ValueError,
        r"conv_transpose2d: output size -1 < 1 along spatial dim 0: out = \(in - 1\) \* stride - pad_lo - pad_hi \+ "
        r"dilation \* \(kernel - 1\) \+ output_padding \+ 1 with in=5, stride=1, pad=\(4, 4\), dilation=1, kernel=3, "
        r"output_padding=0",
    ),
    (
        lambda: numbaconv.conv_transpose2d(X2, W2, activation="gelu"),
        ValueError,
        r"conv_transpose2d: activation='gelu' is not one of None, 'relu'",
    ),
    (
        lambda: numbaconv.conv_transpose2d(X2, W2, negative_slope="x"),
        TypeError,
        r"conv_transpose2d: negative_slope='x' must be a real number",
    ),
    (
        lambda: numbaconv.conv_transpose2d(X2, W2, algorithm="winograd"),
        ValueError,
        r"conv_transpose2d: algorithm='winograd' is unknown; valid CPU algorithms: 'auto', 'direct', 'gemm'",
    ),
    (
        lambda: numbaconv.conv_transpose2d(X2, W2, np.ones(4)),
        ValueError,
        r"conv_transpose2d: bias.shape=\(4,\) must be \(out_channels,\) = \(2,\)",
    ),
    (
        lambda: numbaconv.conv_transpose2d(X2, W2, out=np.empty((1, 2, 7, 6))),
        ValueError,
        r"conv_transpose2d: out.shape=\(1, 2, 7, 6\) must equal the result shape \(1, 2, 7, 7\)",
    ),
    (
        lambda: numbaconv.conv_transpose2d(X2, W2, out=np.empty((1, 2, 7, 7), np.float32)),
        TypeError,
        r"conv_transpose2d: out.dtype=float32 must equal the result dtype float64",
    ),
    (
        lambda: numbaconv.conv_transpose2d(X2, W2.astype(bool)),
        TypeError,
        r"conv_transpose2d: weight dtype bool is not supported",
    ),
    (
        lambda: numbaconv.conv_transpose2d(X2.astype(np.int32), W2),
        TypeError,
        r"conv_transpose2d: integer input \(int32\) needs an explicit accumulate dtype",
    ),
    (
        lambda: numbaconv.conv_transpose2d(X2.tolist(), W2),
        TypeError,
        r"conv_transpose2d: x must be a NumPy array, a CPU array with __dlpack__",
    ),
    (
        lambda: numbaconv.conv_transpose2d(X2, W2, out=FakeDeviceArray()),
        TypeError,
        r"conv_transpose2d: x is a host \(NumPy\) array but out is a CUDA array",
    ),
    (
        lambda: numbaconv.resize_conv2d(np.ones((1, 2, 3, 3)), np.ones((2, 2, 3, 3)), out=FakeDeviceArray()),
        TypeError,
        r"resize_conv2d: x is a host \(NumPy\) array but out is a CUDA array",
    ),
    (
        lambda: numbaconv.conv_transpose3d(np.ones((1, 2, 3, 3, 3)), np.ones((2, 2, 1, 1, 1)), stream=0),
        ValueError,
        r"conv_transpose3d: stream=0 applies to CUDA arrays only; these are NumPy arrays",
    ),
    (
        lambda: numbaconv.resize_conv2d(X2, np.ones((2, 4, 3, 3)), stream=0),
        ValueError,
        r"resize_conv2d: stream=0 applies to CUDA arrays only",
    ),
    (
        lambda: numbaconv.conv_transpose_output_shape((1, 4), (4, 2)),
        ValueError,
        r"conv_transpose_output_shape: input_shape=\(1, 4\) must have 3, 4 or 5 dims",
    ),
    (
        lambda: numbaconv.conv_transpose_output_shape((1, 4, 5), (4, 2, 3), stride=2, output_padding=2),
        ValueError,
        r"conv_transpose1d: output_padding=\(2,\) must be smaller than stride or dilation",
    ),
    (
        lambda: numbaconv.output_padding_for((5, 5), (9, 9, 9), 3),
        ValueError,
        r"output_padding_for: per-dim arguments have different lengths: input_size=\(5, 5\), "
        r"output_size=\(9, 9, 9\)",
    ),
    (
        lambda: numbaconv.output_padding_for(5, 12, 3, stride=2, padding=1),
        ValueError,
        r"output_padding_for: output_size=\(12,\) is unreachable along spatial dim 0: out = \(in - 1\) \* stride - "
        r"pad_lo - pad_hi \+ dilation \* \(kernel - 1\) \+ output_padding \+ 1 with in=5, stride=2, pad=\(1, 1\), "
        r"dilation=1, kernel=3 reaches 9 to 10",
    ),
    (
        lambda: numbaconv.output_padding_for(5, 11, 3, stride=2, padding="same"),
        ValueError,
        r"output_padding_for: output_size=\(11,\) must be input \* stride = \(10,\) with padding='same'",
    ),
    (lambda: numbaconv.output_padding_for(5, 9, 0), ValueError, r"output_padding_for: kernel_size=0 must be positive"),
    (
        lambda: numbaconv.resize_conv2d(X2, np.ones((2, 4, 3, 3)), scale_factor=0),
        ValueError,
        r"resize_conv2d: scale_factor=0 must be positive",
    ),
    (
        lambda: numbaconv.resize_conv2d(X2, np.ones((2, 4, 3, 3)), scale_factor=1.5),
        TypeError,
        r"resize_conv2d: scale_factor=1.5 must be an int or a sequence of 2 ints",
    ),
    (
        lambda: numbaconv.resize_conv2d(X2[0, 0], np.ones((2, 4, 3, 3))),
        ValueError,
        r"resize_conv2d: input must be 4-d \(NCHW\) or 3-d unbatched, got 2-d shape \(5, 5\)",
    ),
    (
        lambda: numbaconv.resize_conv2d(X2, np.ones((2, 4, 3, 3)), layout="NCDHW"),
        ValueError,
        r"resize_conv2d: layout='NCDHW' must be 'NCHW' or 'NHWC' for 2-d input",
    ),
    (
        lambda: numbaconv.resize_conv2d(X2, np.ones((2, 3, 3, 3))),
        ValueError,
        r"resize_conv2d: weight.shape\[1\]=3 must equal in_channels / groups",
    ),
    (
        lambda: numbaconv.resize_conv2d(X2, np.ones((2, 4, 3, 3)), padding="valid", scale_factor=1, dilation=3),
        ValueError,
        r"resize_conv2d: output size -1 < 1 along spatial dim 0",
    ),
    (
        lambda: numbaconv.resize_conv2d(X2, np.ones((2, 4, 3, 3)), padding_mode="mirror"),
        ValueError,
        r"resize_conv2d: padding_mode='mirror' is not one of 'zeros', 'reflect'",
    ),
    (
        lambda: numbaconv.resize_conv2d(X2, np.ones((2, 4, 3, 3)), algorithm="depthwise"),
        ValueError,
        r"resize_conv2d: algorithm='depthwise' is unknown; valid CPU algorithms: 'auto', 'direct', 'gemm'",
    ),
    (
        lambda: numbaconv.resize_conv2d(X2, np.ones((2, 4, 3, 3)), np.ones(3)),
        ValueError,
        r"resize_conv2d: bias.shape=\(3,\) must be \(out_channels,\) = \(2,\)",
    ),
    (
        lambda: numbaconv.resize_conv2d(X2, np.ones((2, 4, 3, 3)), out=X2),
        ValueError,
        r"resize_conv2d: out.shape=\(1, 4, 5, 5\) must equal the result shape \(1, 2, 10, 10\)",
    ),
]


@pytest.mark.parametrize("call,exc,match", ERRORS, ids=[f"e{i}" for i in range(len(ERRORS))])
def test_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_out_overlapping_input_is_rejected():
    buf = np.zeros(2 * 4 * 7 * 7)
    x = buf[: 4 * 25].reshape(1, 4, 5, 5)
    out = buf[: 2 * 49].reshape(1, 2, 7, 7)
    with pytest.raises(ValueError, match=r"conv_transpose2d: out overlaps x"):
        numbaconv.conv_transpose2d(x, W2, out=out)


# ---- CUDA only ----


@pytest.mark.cuda
@pytest.mark.usefixtures("small_blocks")
def test_cuda_stream_argument(dev):
    from numba import cuda

    x, w = rand((1, 2, 4, 5), np.float32, 10), rand((2, 3, 3, 3), np.float32, 11)
    want = ref.conv_transpose(x, w, stride=2, pads=1, output_padding=(1, 0))
    out = cuda.device_array((1, 3, 8, 9), np.float32)
    got = numbaconv.conv_transpose2d(
        dev(x), dev(w), stride=2, padding=1, output_size=(8, 9), out=out, stream=cuda.stream()
    )
    assert got is out
    assert_close(out.copy_to_host(), want, np.float32)


@pytest.mark.cuda
def test_cuda_errors_and_mixing(dev):
    from numba import cuda

    x, w = rand((1, 4, 5, 5), np.float32), rand((4, 2, 3, 3), np.float32)
    with pytest.raises(
        ValueError,
        match=r"conv_transpose2d: algorithm='gemm' is unknown; valid CUDA algorithms: "
        r"'auto', 'direct'$",
    ):
        numbaconv.conv_transpose2d(dev(x), dev(w), algorithm="gemm")
    with pytest.raises(TypeError, match=r"conv_transpose2d: weight is a host \(NumPy\) array but x is a CUDA array"):
        numbaconv.conv_transpose2d(dev(x), w)
    with pytest.raises(
        ValueError,
        match=r"conv_transpose2d: out.shape=\(1, 2, 7, 6\) must equal the result shape "
        r"\(1, 2, 7, 7\)",
    ):
        numbaconv.conv_transpose2d(dev(x), dev(w), out=cuda.device_array((1, 2, 7, 6), np.float32))
    with pytest.raises(ValueError, match=r"conv_transpose2d: out overlaps x"):
        d = dev(np.zeros((1, 4, 5, 5), np.float32))
        numbaconv.conv_transpose2d(d, dev(np.ones((4, 1, 1, 1), np.float32)), groups=4, out=d)
    with pytest.raises(
        ValueError,
        match=r"resize_conv2d: algorithm='pointwise' is unknown; valid CUDA algorithms: "
        r"'auto', 'direct', 'gemm', 'depthwise'",
    ):
        numbaconv.resize_conv2d(dev(x), dev(np.ones((2, 4, 3, 3), np.float32)), algorithm="pointwise")
    with pytest.raises(ValueError, match=r"resize_conv2d: algorithm='depthwise' does not apply to this convolution"):
        numbaconv.resize_conv2d(dev(x), dev(np.ones((2, 4, 3, 3), np.float32)), algorithm="depthwise")
    with pytest.raises(TypeError, match=r"resize_conv2d: x is a host \(NumPy\) array but out is a CUDA array"):
        numbaconv.resize_conv2d(x, np.ones((2, 4, 3, 3), np.float32), out=cuda.device_array((1, 2, 10, 10)))
