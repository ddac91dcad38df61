"""numbaconv.grad's pooling, unpooling, interpolation and shuffle gradients: against tests/reference.py (the linear
ops' gradients as Jacobian transposes, max pooling's as torch's scatter of the saved indices) over shape cases x
options x dtypes x layouts on the CPU and CUDA backends; against torch autograd on random configurations; against
central finite differences; the adjoint identity <op(x), y> = <x, op_input(y)>; and bad input."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import numbaconv
from numbaconv import grad

import reference as ref
from helpers import (
    BACKEND_SETTINGS,
    LAYOUT_LAST,
    LAYOUTS,
    Case,
    assert_close,
    full,
    over_backends,
    rand,
    reference_pads,
    sized,
    to_backend,
    to_host,
)

FLOATS = [np.float32, np.float64]
MAX_POOL = {nd: getattr(numbaconv, f"max_pool{nd}d") for nd in (1, 2, 3)}
AVG_POOL = {nd: getattr(numbaconv, f"avg_pool{nd}d") for nd in (1, 2, 3)}
MAX_INPUT = {nd: getattr(grad, f"max_pool{nd}d_input") for nd in (1, 2, 3)}
AVG_INPUT = {nd: getattr(grad, f"avg_pool{nd}d_input") for nd in (1, 2, 3)}
ADAPTIVE_INPUT = {
    (kind, nd): getattr(grad, f"adaptive_{kind}_pool{nd}d_input") for kind in ("max", "avg") for nd in (1, 2, 3)
}
MAX_UNPOOL_INPUT = {nd: getattr(grad, f"max_unpool{nd}d_input") for nd in (1, 2, 3)}
UNPOOL_INPUT = {nd: getattr(grad, f"unpool{nd}d_input") for nd in (1, 2, 3)}
AVG_OPTIONS = [(True, None), (False, None), (True, 3)]  # (count_include_pad, divisor_override)


def in_layout(shape, layout):
    """A channels-first shape (N, C, *spatial) in `layout` ("first" or "last")."""
    return (shape[0], *shape[2:], shape[1]) if layout == "last" else tuple(shape)


def grad_run(backend, fn, arrays, input_shape=None, layout="first", **kw):
    """`fn([input_size,] *arrays, **kw)` on `backend`, channels-first host arrays (and shape) moved to `layout`;
    the result back as a channels-first host array."""
    last = layout == "last"
    args = [] if input_shape is None else [in_layout(input_shape, layout)]
    args += [to_backend(backend, a, last) for a in arrays]
    if last:
        kw["layout"] = LAYOUT_LAST[arrays[0].ndim - 2]
    return to_host(backend, fn(*args, **kw), last)


def ties(shape, seed):
    """Values on a coarse grid: overlapping windows often share their maximum (whose gradients then add up)."""
    return np.random.default_rng(seed).integers(0, 4, shape) * 0.5


# ---- pooling ----

POOL_CASES = [
    Case("1d_overlap", (2, 2, 9), kw=dict(kernel_size=3, stride=2, padding=1)),
    Case("1d_dilated_ceil", (1, 2, 10), kw=dict(kernel_size=3, stride=2, dilation=2, padding=2, ceil_mode=True)),
    Case("2d_pairs", (2, 2, 7, 6), kw=dict(kernel_size=(3, 2), stride=(2, 1), padding=((1, 0), (1, 1)))),
    Case("2d_same_ceil", (1, 3, 5, 7), kw=dict(kernel_size=3, stride=2, padding="same", ceil_mode=True)),
    Case("2d_gaps", (1, 2, 7, 7), kw=dict(kernel_size=2, stride=3)),  # inputs no window covers
    Case(
        "3d_mixed", (1, 2, 4, 5, 4), kw=dict(kernel_size=(2, 3, 2), stride=(1, 2, 2), padding=(1, 1, 0), ceil_mode=True)
    ),
]


def geometry(case):
    """The reference's pooling geometry of a case, padding strings resolved."""
    kw = case.kw
    stride = kw.get("stride", kw["kernel_size"])
    pads = reference_pads(case.x[2:], kw["kernel_size"], kw.get("padding", 0), stride, kw.get("dilation", 1))
    return dict(
        kernel=kw["kernel_size"],
        stride=kw.get("stride"),
        pads=pads,
        dilation=kw.get("dilation", 1),
        ceil_mode=kw.get("ceil_mode", False),
    )


# CPU: every case x dtype x layout; CUDA: every case in float32 in both layouts, two in float64.
@over_backends(
    "case,dtype,layout",
    [(c, d, lay) for c in POOL_CASES for d in FLOATS for lay in LAYOUTS],
    [(c, np.float32, lay) for c in POOL_CASES for lay in LAYOUTS]
    + [(POOL_CASES[i], np.float64, "last") for i in (1, 5)],
)
def test_max_pool_input_matches_reference(backend, case, dtype, layout):
    case = case.on(backend)
    x = ties(case.x, 1)
    _, indices = ref.max_pool(x, **geometry(case))  # the reference's own indices
    g = rand(indices.shape, dtype, 2)
    got = grad_run(backend, MAX_INPUT[case.nd], [g, indices], case.x, layout, **case.kw)
    assert got.dtype == dtype
    assert_close(got, ref.max_pool_input(case.x, g, indices))


# CPU: every case x divisor option x dtype x layout; CUDA: every case in float32, the options and layouts in turn.
@over_backends(
    "case,options,dtype,layout",
    [(c, o, d, lay) for c in POOL_CASES for o in AVG_OPTIONS for d in FLOATS for lay in LAYOUTS],
    [(c, AVG_OPTIONS[i % 3], np.float32, LAYOUTS[i % 2]) for i, c in enumerate(POOL_CASES)],
)
def test_avg_pool_input_matches_reference(backend, case, options, dtype, layout):
    case = case.on(backend)
    include, override = options
    geo = geometry(case)
    out_shape = numbaconv.pool_output_shape(case.x, **case.kw)
    g = rand(out_shape, dtype, 3)
    got = grad_run(
        backend,
        AVG_INPUT[case.nd],
        [g],
        case.x,
        layout,
        count_include_pad=include,
        divisor_override=override,
        **case.kw,
    )
    assert got.dtype == dtype

    def forward(b):
        return ref.avg_pool(b, **geo, count_include_pad=include, divisor_override=override)

    assert_close(got, ref.linear_input(forward, case.x, g))


ADAPTIVE_CASES = [((2, 2, 7), (3,)), ((1, 2, 5, 6), (4, 9)), ((1, 2, 3, 4, 5), (2, 3, 2))]


@over_backends(
    "kind,shape,out_spatial,dtype,layout",
    [(k, s, o, d, lay) for k in ("max", "avg") for s, o in ADAPTIVE_CASES for d in FLOATS for lay in LAYOUTS],
    [(k, s, o, np.float32, LAYOUTS[i % 2]) for k in ("max", "avg") for i, (s, o) in enumerate(ADAPTIVE_CASES)],
)
def test_adaptive_pool_inputs_match_reference(backend, kind, shape, out_spatial, dtype, layout):
    """Adaptive windows overlap where the output size does not divide the input's, and repeat inputs where it is
    larger."""
    shape = sized(shape, backend)
    nd = len(shape) - 2
    x = ties(shape, 4)
    g = rand(shape[:2] + out_spatial, dtype, 5)
    if kind == "max":
        _, indices = ref.adaptive_pool(x, out_spatial, "max")
        want = ref.max_pool_input(shape, g, indices)
        arrays = [g, indices]
    else:
        want = ref.linear_input(lambda b: ref.adaptive_pool(b, out_spatial, "avg"), shape, g)
        arrays = [g]
    got = grad_run(backend, ADAPTIVE_INPUT[kind, nd], arrays, shape, layout, output_size=out_spatial)
    assert got.dtype == dtype
    assert_close(got, want)


# ---- unpooling ----

MAX_UNPOOL_CASES = [
    # (x shape, kw, output spatial size)
    ((2, 2, 5), dict(kernel_size=2), (10,)),
    ((1, 2, 3, 4), dict(kernel_size=3, stride=2, padding=1), (5, 7)),
    ((1, 2, 2, 3, 2), dict(kernel_size=2, stride=(1, 2, 2), output_size=(3, 7, 4)), (3, 7, 4)),
]


@over_backends(
    "shape,kw,out_spatial,dtype,layout",
    [(*c, d, lay) for c in MAX_UNPOOL_CASES for d in FLOATS for lay in LAYOUTS],
    [(*c, np.float32, LAYOUTS[i % 2]) for i, c in enumerate(MAX_UNPOOL_CASES)],
)
def test_max_unpool_input_matches_reference(backend, shape, kw, out_spatial, dtype, layout):
    """Random indices, many of them repeated: each input gets the gradient at its index."""
    shape = sized(shape, backend)
    indices = np.random.default_rng(6).integers(0, math.prod(out_spatial), shape)
    g = rand(shape[:2] + out_spatial, dtype, 7)
    got = grad_run(backend, MAX_UNPOOL_INPUT[len(shape) - 2], [g, indices], None, layout, **kw)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, ref.max_unpool_input(g, indices))


UNPOOL_CASES = [((2, 2, 3), 3), ((1, 2, 3, 2), (2, 3)), ((1, 1, 2, 3, 2), (2, 1, 2))]


@over_backends(
    "shape,scale,mode,dtype,layout",
    [
        (s, f, m, d, lay)
        for s, f in UNPOOL_CASES
        for m in ("nearest", "bed_of_nails")
        for d in FLOATS
        for lay in LAYOUTS
    ],
    [
        (s, f, m, np.float32, LAYOUTS[i % 2])
        for i, (s, f) in enumerate(UNPOOL_CASES)
        for m in ("nearest", "bed_of_nails")
    ],
)
def test_unpool_input_matches_reference(backend, shape, scale, mode, dtype, layout):
    shape = sized(shape, backend)
    nd = len(shape) - 2
    scales = (scale,) * nd if np.isscalar(scale) else scale
    g = rand(shape[:2] + tuple(n * s for n, s in zip(shape[2:], scales)), dtype, 8)
    got = grad_run(backend, UNPOOL_INPUT[nd], [g], None, layout, scale_factor=scale, mode=mode)
    assert got.dtype == dtype
    assert_close(got, ref.linear_input(lambda b: ref.unpool(b, scale, mode), shape, g))


# ---- interpolation ----

INTERPOLATE_CASES = [
    # (mode, x shape, interpolate's keywords)
    ("nearest", (2, 2, 5), dict(size=8)),
    ("nearest", (1, 2, 5, 4), dict(scale_factor=(0.6, 1.7))),
    ("nearest_exact", (1, 2, 4, 5), dict(size=(7, 3))),
    ("nearest_exact", (1, 1, 3, 2, 4), dict(scale_factor=1.5)),
    ("linear", (2, 1, 6), dict(scale_factor=1.6)),
    ("bilinear", (1, 2, 4, 5), dict(size=(7, 3))),
    ("bicubic", (1, 2, 4, 4), dict(scale_factor=(1.5, 0.75))),
    ("bicubic", (1, 1, 5, 3), dict(scale_factor=(0.7, 2.2), recompute_scale_factor=True)),
    ("trilinear", (1, 1, 3, 2, 4), dict(size=(4, 3, 2))),
]


def interpolated(x, mode, align_corners, kw):
    """The reference interpolation of channels-first x with interpolate's keywords."""
    nd = x.ndim - 2
    if "size" in kw:
        out, factors = tuple(np.broadcast_to(kw["size"], (nd,))), None
    else:
        given = tuple(np.broadcast_to(kw["scale_factor"], (nd,)))
        out = tuple(math.floor(n * f) for n, f in zip(x.shape[2:], given))
        factors = None if kw.get("recompute_scale_factor") else given
    if mode.startswith("nearest"):
        return ref.interpolate_nearest(x, out, factors, exact=mode == "nearest_exact")
    return ref.interpolate(x, out, "cubic" if mode == "bicubic" else "linear", bool(align_corners), factors)


@over_backends(
    "case,align_corners,dtype,layout",
    [
        (c, a, d, lay)
        for c in INTERPOLATE_CASES
        for a in ((None,) if c[0].startswith("nearest") else (False, True))
        for d in FLOATS
        for lay in LAYOUTS
    ],
    [
        (c, None if c[0].startswith("nearest") else bool(i % 2), np.float32, LAYOUTS[i % 2])
        for i, c in enumerate(INTERPOLATE_CASES)
    ],
)
def test_interpolate_input_matches_reference(backend, case, align_corners, dtype, layout):
    mode, shape, kw = case
    shape = sized(shape, backend)
    out_shape = interpolated(np.zeros(shape), mode, align_corners, kw).shape
    g = rand(out_shape, dtype, 9)
    got = grad_run(backend, grad.interpolate_input, [g], shape, layout, mode=mode, align_corners=align_corners, **kw)
    assert got.dtype == dtype
    assert_close(got, ref.linear_input(lambda b: interpolated(b, mode, align_corners, kw), shape, g))


# ---- shuffles ----


@pytest.mark.parametrize("layout", LAYOUTS)
def test_shuffle_inputs_invert_the_shuffles(backend, layout):
    """Each gradient is the inverse permutation: the reference's inverse shuffle, bit for bit (any dtype)."""
    last = layout == "last"
    g = rand(sized((2, 12, 2, 6), backend), np.float32, 10)
    rh, rw = 2, 3
    pixel = dict(layout="NHWC") if last else {}

    def on(fn, a, *args, **kw):
        moved = to_backend(backend, np.ascontiguousarray(np.moveaxis(a, 1, -1)) if last else a)
        got = to_host(backend, fn(moved, *args, **kw))
        return np.moveaxis(got, -1, 1) if last else got

    np.testing.assert_array_equal(on(grad.pixel_shuffle_input, g, (rh, rw), **pixel), ref.pixel_unshuffle(g, rh, rw))
    down = rand(sized((1, 8, 3, 4), backend), np.float64, 11)
    np.testing.assert_array_equal(on(grad.pixel_unshuffle_input, down, 2, **pixel), ref.pixel_shuffle(down, 2, 2))
    ints = np.arange(math.prod(g.shape)).reshape(g.shape)
    got = on(grad.channel_shuffle_input, ints, 3, layout="NHWC" if last else None)
    np.testing.assert_array_equal(got, ref.channel_shuffle(ints, 4))
    np.testing.assert_array_equal(ref.channel_shuffle(got, 3), ints)


# ---- unbatched, float16, out=, dtype=, empty, strided ----


def test_unbatched_input_gives_an_unbatched_gradient(backend):
    """An input_size (or indices, or grad_output) without the batch axis: the batch-of-one result without it."""
    x = ties((1, 2, 6, 5), 12)
    kw = dict(kernel_size=3, stride=2, padding=1)
    y, indices = numbaconv.max_pool2d(x, return_indices=True, **kw)
    adaptive = numbaconv.adaptive_max_pool2d(x, 3, return_indices=True)[1]
    g = rand(y.shape, np.float32, 13)
    calls = [
        (lambda s, *a: grad.max_pool2d_input(s, *a, **kw), x.shape, (g, indices)),
        (lambda s, *a: grad.avg_pool2d_input(s, *a, count_include_pad=False, **kw), x.shape, (g,)),
        (lambda s, *a: grad.adaptive_max_pool2d_input(s, *a, 3), x.shape, (g, adaptive)),
        (lambda s, *a: grad.adaptive_avg_pool2d_input(s, *a, (3, None)), x.shape, (rand((1, 2, 3, 5), np.float32),)),
        (lambda s, *a: grad.max_unpool2d_input(*a, 2, output_size=(6, 5)), None, (rand(x.shape, np.float32), indices)),
        (lambda s, *a: grad.unpool2d_input(*a, 2, "bed_of_nails"), None, (rand((1, 2, 6, 4), np.float32),)),
    ]
    for fn, shape, arrays in calls:
        batched = fn(shape, *[to_backend(backend, a) for a in arrays])
        single = fn(shape and shape[1:], *[to_backend(backend, a[0]) for a in arrays])
        assert single.shape == batched.shape[1:]
        np.testing.assert_array_equal(to_host(backend, single), to_host(backend, batched)[0])


def test_float16_out_dtype_empty_and_strided(backend):
    """float16 grad_output is summed in float32 and returned as float16; `dtype=` picks the result dtype; `out=` is
    filled and returned; an empty batch runs no kernel; a strided grad_output is read as it is."""
    shape = sized((2, 2, 6, 7), backend)
    kw = dict(kernel_size=3, stride=2, padding=1)
    g = rand(numbaconv.pool_output_shape(shape, **kw), np.float16, 16)
    want = ref.linear_input(lambda b: ref.avg_pool(b, 3, 2, 1), shape, g)
    got = to_host(backend, grad.avg_pool2d_input(shape, to_backend(backend, g), **kw))
    assert got.dtype == np.float16
    assert_close(got, want, np.float16)
    wide = to_host(backend, grad.avg_pool2d_input(shape, to_backend(backend, g), dtype=np.float64, **kw))
    assert wide.dtype == np.float64
    assert_close(wide, want, np.float32)
    out = full(backend, shape, np.nan, np.float32)
    assert grad.avg_pool2d_input(shape, to_backend(backend, g.astype(np.float32)), out=out, **kw) is out
    assert_close(to_host(backend, out), want, np.float32)
    empty = grad.avg_pool2d_input((0, *shape[1:]), to_backend(backend, g[:0]), **kw)
    assert to_host(backend, empty).shape == (0, *shape[1:])
    if backend == "cpu":  # a strided host view (CUDA arrays arrive as they are)
        wide_g = rand((2, 2, 3, 8), np.float64, 17)
        got = grad.avg_pool2d_input(shape, wide_g[:, :, :, ::2], **kw)
        assert_close(got, ref.linear_input(lambda b: ref.avg_pool(b, 3, 2, 1), shape, wide_g[:, :, :, ::2]))


# ---- against torch autograd ----


def _torch():
    torch = pytest.importorskip("torch")
    return torch, torch.nn.functional


def torch_input_grad(forward, x, g):
    """torch autograd's gradient of forward at x (NumPy) w.r.t. x, for grad_output g."""
    torch, _ = _torch()
    t = torch.tensor(x, requires_grad=True)
    y = forward(t)
    y.backward(torch.tensor(g, dtype=y.dtype))
    return t.grad.numpy()


def check_layouts(fn, arrays, input_shape, want, dtype, **kw):
    """fn on the CPU in both layouts (input_shape None: none) equals torch's gradient `want`."""
    for layout in LAYOUTS:
        got = grad_run("cpu", fn, arrays, input_shape, layout, **kw)
        assert got.dtype == dtype
        assert_close(got, want.astype(np.float64))


@st.composite
def torch_pool_geometry(draw):
    """A pooling torch accepts: pads at most half the kernel, on both sides alike."""
    nd = draw(st.integers(1, 3))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    spatial = tuple(draw(st.integers(k, k + 4)) for k in kernel)
    return nd, spatial, dict(kernel_size=kernel, stride=stride, padding=padding, ceil_mode=draw(st.booleans()))


@given(geo=torch_pool_geometry(), dilation=st.integers(1, 2), dtype=st.sampled_from(FLOATS), seed=st.integers(0, 99))
def test_max_pool_input_matches_torch(geo, dilation, dtype, seed):
    """torch's own indices (with ties: overlapping windows share maxima) and backward, both layouts."""
    _, functional = _torch()
    nd, spatial, kw = geo
    kw = dict(kw, dilation=dilation)
    x = ties((2, 2, *spatial), seed).astype(dtype)
    forward = getattr(functional, f"max_pool{nd}d")
    try:
        _, indices = forward(_torch()[0].tensor(x), return_indices=True, **kw)
    except RuntimeError:  # a geometry torch refuses (an output size < 1)
        return
    try:
        numbaconv.pool_output_shape(x.shape, **kw)
    except ValueError as err:  # a dilated window that misses the input (torch pools it as -inf)
        assert "reads no input element" in str(err)
        return
    g = rand(indices.shape, dtype, seed)
    want = torch_input_grad(lambda t: forward(t, **kw), x, g)
    check_layouts(MAX_INPUT[nd], [g, indices.numpy()], x.shape, want, dtype, **kw)


@given(
    geo=torch_pool_geometry(),
    include=st.booleans(),
    override=st.sampled_from([None, 2, 5]),
    dtype=st.sampled_from(FLOATS),
    seed=st.integers(0, 99),
)
def test_avg_pool_input_matches_torch(geo, include, override, dtype, seed):
    torch, functional = _torch()
    nd, spatial, kw = geo
    kw = dict(kw, count_include_pad=include)
    if nd > 1:  # torch's avg_pool1d has no divisor_override
        kw["divisor_override"] = override
    x = rand((2, 2, *spatial), dtype, seed)
    forward = getattr(functional, f"avg_pool{nd}d")
    try:
        g = rand(forward(torch.tensor(x), **kw).shape, dtype, seed + 1)
    except RuntimeError:  # an output size < 1
        return
    want = torch_input_grad(lambda t: forward(t, **kw), x, g)
    check_layouts(AVG_INPUT[nd], [g], x.shape, want, dtype, **kw)


@given(
    nd=st.integers(1, 3),
    data=st.data(),
    kind=st.sampled_from(["max", "avg"]),
    dtype=st.sampled_from(FLOATS),
    seed=st.integers(0, 99),
)
def test_adaptive_pool_inputs_match_torch(nd, data, kind, dtype, seed):
    torch, functional = _torch()
    spatial = tuple(data.draw(st.integers(1, 6)) for _ in range(nd))
    out_spatial = tuple(data.draw(st.integers(1, 7)) for _ in range(nd))
    x = ties((2, 2, *spatial), seed).astype(dtype)
    forward = getattr(functional, f"adaptive_{kind}_pool{nd}d")
    g = rand((2, 2, *out_spatial), dtype, seed + 1)
    want = torch_input_grad(lambda t: forward(t, out_spatial), x, g)
    arrays = [g, forward(torch.tensor(x), out_spatial, return_indices=True)[1].numpy()] if kind == "max" else [g]
    check_layouts(ADAPTIVE_INPUT[kind, nd], arrays, x.shape, want, dtype, output_size=out_spatial)


@given(nd=st.integers(1, 3), kernel=st.integers(1, 3), dtype=st.sampled_from(FLOATS), seed=st.integers(0, 99))
def test_unpool_inputs_match_torch(nd, kernel, dtype, seed):
    """max_unpool (random, repeated indices: torch's backward gathers) and both unpool modes (torch autograd of
    the same forwards written with torch ops)."""
    torch, functional = _torch()
    shape = (2, 2, *(3,) * nd)
    out_spatial = tuple(n * kernel for n in shape[2:])
    indices = np.random.default_rng(seed).integers(0, math.prod(out_spatial), shape)
    g = rand(shape[:2] + out_spatial, dtype, seed)
    forward = getattr(functional, f"max_unpool{nd}d")
    want = torch_input_grad(lambda t: forward(t, torch.tensor(indices), kernel), rand(shape, dtype, 1), g)
    check_layouts(MAX_UNPOOL_INPUT[nd], [g, indices], None, want, dtype, kernel_size=kernel)

    def nails(t):
        y = torch.zeros(shape[:2] + out_spatial, dtype=t.dtype)
        y[(slice(None), slice(None)) + (slice(None, None, kernel),) * nd] = t
        return y

    x = rand(shape, dtype, 2)
    want = torch_input_grad(lambda t: functional.interpolate(t, scale_factor=kernel, mode="nearest"), x, g)
    check_layouts(UNPOOL_INPUT[nd], [g], None, want, dtype, scale_factor=kernel)
    want = torch_input_grad(nails, x, g)
    check_layouts(UNPOOL_INPUT[nd], [g], None, want, dtype, scale_factor=kernel, mode="bed_of_nails")


MODES_ND = {"nearest": (1, 2, 3), "nearest-exact": (1, 2, 3), "linear": (1,), "bilinear": (2,), "bicubic": (2,)}
MODES_ND["trilinear"] = (3,)


@st.composite
def torch_interpolation(draw):
    mode = draw(st.sampled_from(list(MODES_ND)))
    nd = draw(st.sampled_from(MODES_ND[mode]))
    spatial = tuple(draw(st.integers(1, 5)) for _ in range(nd))
    align = (
        draw(st.sampled_from([None, False, True])) if mode in ("linear", "bilinear", "bicubic", "trilinear") else None
    )
    if draw(st.booleans()):
        kw = dict(size=tuple(draw(st.integers(1, 8)) for _ in range(nd)))
    else:
        factors = tuple(draw(st.sampled_from([0.5, 0.8, 1.3, 1.5, 2.0, 2.7])) for _ in range(nd))
        kw = dict(scale_factor=factors, recompute_scale_factor=draw(st.booleans()))
    return mode, spatial, dict(kw, mode=mode, align_corners=align)


def torch_copies_backward(mode, spatial, kw):
    """Where torch's CPU backward is not the adjoint of its own forward: nearest copies grad_output along a dim
    whose output size equals the input's whatever the scale, bicubic when every dim does, while their forwards use
    the scale (numbaconv's gradient is the forward's adjoint: test_interpolate_input_is_the_adjoint_where_torch_copies)."""
    if "scale_factor" not in kw or kw["recompute_scale_factor"] or mode not in ("nearest", "bicubic"):
        return False
    same = [math.floor(n * f) == n and f != 1 for n, f in zip(spatial, kw["scale_factor"])]
    return any(same) if mode == "nearest" else all(same)


@given(case=torch_interpolation(), dtype=st.sampled_from(FLOATS), seed=st.integers(0, 99))
def test_interpolate_input_matches_torch(case, dtype, seed):
    torch, functional = _torch()
    mode, spatial, kw = case
    x = rand((2, 2, *spatial), dtype, seed)
    try:
        y = functional.interpolate(torch.tensor(x), **kw)
    except (RuntimeError, ValueError):  # an output size < 1
        return
    if torch_copies_backward(mode, spatial, kw):
        return
    g = rand(tuple(y.shape), dtype, seed + 1)
    want = torch_input_grad(lambda t: functional.interpolate(t, **kw), x, g)
    check_layouts(grad.interpolate_input, [g], x.shape, want, dtype, **kw)


def test_interpolate_input_is_the_adjoint_where_torch_copies():
    """scale_factor=1.1 on 7 pixels: 7 outputs that read inputs 0, 0, 1, ..., 5 (torch's forward too); torch's
    backward copies grad_output there instead, numbaconv gives the forward's adjoint."""
    x, g = rand((1, 1, 7), np.float64, 18), rand((1, 1, 7), np.float64, 19)
    got = grad.interpolate_input(x.shape, g, scale_factor=1.1)
    np.testing.assert_array_equal(got[0, 0], [g[0, 0, 0] + g[0, 0, 1], *g[0, 0, 2:], 0.0])
    assert np.vdot(numbaconv.interpolate(x, scale_factor=1.1), g) == pytest.approx(np.vdot(x, got))
    _, functional = _torch()
    want = torch_input_grad(lambda t: functional.interpolate(t, scale_factor=1.1), x, g)
    np.testing.assert_array_equal(want, g)  # torch's copy


@pytest.mark.parametrize("dtype", FLOATS)
def test_shuffle_inputs_match_torch(dtype):
    _, functional = _torch()
    x = rand((2, 12, 2, 3), dtype, 20)
    g = rand((2, 3, 4, 6), dtype, 21)
    want = torch_input_grad(lambda t: functional.pixel_shuffle(t, 2), x, g)
    np.testing.assert_array_equal(grad.pixel_shuffle_input(g, 2), want)
    want = torch_input_grad(lambda t: functional.pixel_unshuffle(t, 2), g, x)
    np.testing.assert_array_equal(grad.pixel_unshuffle_input(x, 2), want)
    want = torch_input_grad(lambda t: functional.channel_shuffle(t, 3), x, x[::-1].copy())
    np.testing.assert_array_equal(grad.channel_shuffle_input(x[::-1].copy(), 3), want)


# ---- finite differences and the adjoint identity ----


FD_X = np.random.default_rng(23).permutation(16).reshape(1, 1, 4, 4) * 0.25  # distinct values


def finite_difference(loss, x, h=1e-4):
    """Central differences of the scalar loss(x) w.r.t. every element of float64 x."""
    out = np.zeros_like(x)
    for i in np.ndindex(*x.shape):
        step = np.zeros_like(x)
        step[i] = h
        out[i] = (loss(x + step) - loss(x - step)) / (2 * h)
    return out


@pytest.mark.parametrize(
    "forward,gradient",
    [
        (
            lambda x: numbaconv.avg_pool2d(x, 3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
            lambda s, g: grad.avg_pool2d_input(s, g, 3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
        ),
        (  # (1, 4, 4) as 4 channels of a 1-d signal
            lambda x: numbaconv.avg_pool1d(x[0], 2, stride=1, dilation=2, divisor_override=3)[None],
            lambda s, g: grad.avg_pool1d_input(s[1:], g[0], 2, stride=1, dilation=2, divisor_override=3)[None],
        ),
        (
            lambda x: numbaconv.interpolate(x, size=(5, 3), mode="bicubic"),
            lambda s, g: grad.interpolate_input(s, g, size=(5, 3), mode="bicubic"),
        ),
        (
            lambda x: numbaconv.interpolate(x, scale_factor=1.7, mode="bilinear", align_corners=True),
            lambda s, g: grad.interpolate_input(s, g, scale_factor=1.7, mode="bilinear", align_corners=True),
        ),
        (
            lambda x: numbaconv.interpolate(x, size=(6, 2), mode="nearest_exact"),
            lambda s, g: grad.interpolate_input(s, g, size=(6, 2), mode="nearest_exact"),
        ),
        (  # distinct values: the maxima do not move under the step
            lambda x: numbaconv.max_pool2d(x, 2, stride=1, padding=1),
            lambda s, g: grad.max_pool2d_input(
                s, g, numbaconv.max_pool2d(FD_X, 2, stride=1, padding=1, return_indices=True)[1], 2, stride=1, padding=1
            ),
        ),
    ],
)
def test_gradients_match_finite_differences(forward, gradient):
    g = rand(forward(FD_X).shape, np.float64, 22)
    numeric = finite_difference(lambda x: float(np.vdot(forward(x), g)), FD_X)
    np.testing.assert_allclose(gradient(FD_X.shape, g), numeric, rtol=1e-6, atol=1e-8)


@BACKEND_SETTINGS
@given(data=st.data())
def test_adjoint_identity(backend, data):
    """<op(x), y> = <x, op_input(y)> for the linear ops on random geometries (average pooling with every option,
    unpooling, interpolation, the shuffles), float64; 1-d and 2-d on CUDA, where the simulator is slow."""
    nd = data.draw(st.integers(1, 3 if backend == "cpu" else 2), label="nd")
    spatial = tuple(data.draw(st.integers(1, 5)) for _ in range(nd))
    shape = (data.draw(st.integers(1, 2)), 4, *spatial)
    x = rand(shape, np.float64, data.draw(st.integers(0, 99)))
    op = data.draw(st.sampled_from(["avg", "unpool", "interpolate", "shuffle"]), label="op")
    if op == "avg":
        kernel = tuple(data.draw(st.integers(1, 3)) for _ in range(nd))
        dilation = tuple(data.draw(st.integers(1, 2)) for _ in range(nd))
        kw = dict(
            kernel_size=kernel,
            stride=tuple(data.draw(st.integers(1, 3)) for _ in range(nd)),
            padding=tuple(data.draw(st.integers(0, d * (k - 1))) for k, d in zip(kernel, dilation)),
            dilation=dilation,
            ceil_mode=data.draw(st.booleans()),
            count_include_pad=data.draw(st.booleans()),
            divisor_override=data.draw(st.sampled_from([None, 2])),
        )
        forward = lambda a, **k: AVG_POOL[nd](a, **kw, **k)
        backward = lambda y, **k: AVG_INPUT[nd](layout_of(shape, k), y, **kw, **k)
        try:
            numbaconv.pool_output_shape(shape, **{k: v for k, v in kw.items() if k in POOL_SHAPE_ARGS})
        except ValueError:  # no output, or a window that misses the input
            return
    elif op == "unpool":
        kw = dict(
            scale_factor=data.draw(st.integers(1, 3)), mode=data.draw(st.sampled_from(["nearest", "bed_of_nails"]))
        )
        forward = lambda a, **k: getattr(numbaconv, f"unpool{nd}d")(a, **kw, **k)
        backward = lambda y, **k: UNPOOL_INPUT[nd](y, **kw, **k)
    elif op == "interpolate":
        smooth = {1: ["linear"], 2: ["bilinear", "bicubic"], 3: ["trilinear"]}[nd]
        mode = data.draw(st.sampled_from(["nearest", "nearest_exact", *smooth]))
        kw = dict(size=tuple(data.draw(st.integers(1, 6)) for _ in range(nd)), mode=mode)
        forward = lambda a, **k: numbaconv.interpolate(a, **kw, **k)
        backward = lambda y, **k: grad.interpolate_input(layout_of(shape, k), y, **kw, **k)
    else:
        forward = lambda a, **k: numbaconv.channel_shuffle(a, 2, **k)
        backward = lambda y, **k: grad.channel_shuffle_input(y, 2, **k)
    layout = data.draw(st.sampled_from(LAYOUTS), label="layout")
    y = grad_run(backend, forward, [x], None, layout)
    r = rand(y.shape, np.float64, 24)
    back = grad_run(backend, backward, [r], None, layout)
    assert back.shape == x.shape
    assert np.vdot(y, r) == pytest.approx(np.vdot(x, back), rel=1e-10, abs=1e-10)


POOL_SHAPE_ARGS = ("kernel_size", "stride", "padding", "dilation", "ceil_mode")


def layout_of(shape, kw):
    """`shape` (channels-first) in the layout named by the keywords `kw` (grad_run passes layout= for channels-last)."""
    return in_layout(shape, "last" if "layout" in kw else "first")


# ---- indices the forward did not give ----


def test_stray_indices_never_read_out_of_bounds(monkeypatch):
    """With the check skipped, indices anywhere (outside the plane, negative, in another window) are only compared,
    never used as addresses: each contributes nothing, the rest as torch (and the bounds-checked pass reads this)."""
    from numbaconv import _grad_pool

    x = ties((1, 2, 5, 6), 25)
    kw = dict(kernel_size=3, stride=2, padding=1)
    _, indices = numbaconv.max_pool2d(x, return_indices=True, **kw)
    g = rand(indices.shape, np.float64, 26)
    hostile = indices.copy()
    hostile[0, 0, 0, :] = [-(2**62), 2**62, 29]  # far out, far out, a position outside window (0, 2)
    hostile[0, 1, 2, 2] = 0
    monkeypatch.setattr(_grad_pool, "strays", lambda call, params: np.full((1, 2), -1))
    valid = hostile == indices
    want = ref.max_pool_input(x.shape, np.where(valid, g, 0.0), np.where(valid, indices, 0))
    assert_close(grad.max_pool2d_input(x.shape, g, hostile, **kw), want)


@BACKEND_SETTINGS
@given(data=st.data())
def test_the_window_check_flags_exactly_the_indices_outside_their_windows(backend, data):
    """Random geometry (padding, dilation, ceil_mode, 1 to 3 dims) and the forward's indices, some moved by a row,
    a pixel or out of the plane: the check refuses exactly when an index is not a tap of its own window, naming the
    first one (planes in (n, c) order, outputs in C order), as the window's definition says."""
    nd = data.draw(st.integers(1, 3), "nd")
    size = tuple(data.draw(st.integers(2, 5)) for _ in range(nd))
    kernel = tuple(data.draw(st.integers(1, 3)) for _ in range(nd))
    stride = tuple(data.draw(st.integers(1, 3)) for _ in range(nd))
    dilation = tuple(data.draw(st.integers(1, 2)) for _ in range(nd))
    padding = tuple(data.draw(st.integers(0, d * (k - 1))) for k, d in zip(kernel, dilation))
    kw = dict(kernel_size=kernel, stride=stride, padding=padding, dilation=dilation)
    kw["ceil_mode"] = data.draw(st.booleans(), "ceil_mode")
    x = rand((2, 2, *size), seed=27)
    try:
        _, indices = MAX_POOL[nd](x, return_indices=True, **kw)
    except ValueError:  # no output, or a window that misses the input
        return
    plane = math.prod(size)
    moves = data.draw(st.lists(st.sampled_from([0, 0, 1, -1, size[-1], -plane, plane]), min_size=indices.size,
                               max_size=indices.size), "moves")  # fmt: skip
    moved = indices + np.reshape(moves, indices.shape)

    def window(o):  # flat positions of output o's taps inside the input
        axes = [[q * s - p + k * d for k in range(kk)] for q, s, p, d, kk in zip(o, stride, padding, dilation, kernel)]
        taps = [t for t in np.ndindex(*kernel) if all(0 <= axes[i][t[i]] < size[i] for i in range(nd))]
        return {int(np.ravel_multi_index([axes[i][t[i]] for i in range(nd)], size)) for t in taps}

    first = next(
        ((n, c, o) for n in range(2) for c in range(2) for o in np.ndindex(*indices.shape[2:])
         if moved[(n, c, *o)] not in window(o)),
        None,
    )  # fmt: skip
    g = rand(indices.shape, seed=28)
    args = (to_backend(backend, g), to_backend(backend, moved))
    if first is None:
        to_host(backend, MAX_INPUT[nd](x.shape, *args, **kw))
        return
    at = ", ".join(map(str, (first[0], first[1], *first[2])))
    with pytest.raises(ValueError, match=rf"indices\[{at}\]={moved[(first[0], first[1], *first[2])]} is not a"):
        MAX_INPUT[nd](x.shape, *args, **kw)


# ---- bad input ----

X = np.zeros((1, 2, 6, 6), np.float32)
Y = np.zeros((1, 2, 3, 3), np.float32)
IDX = np.zeros((1, 2, 3, 3), np.int64)


@pytest.mark.parametrize(
    "call,err,match",
    [
        (
            lambda: grad.max_pool2d_input(X.shape, Y[:, :, :2], IDX[:, :, :2], 2),
            ValueError,
            r"max_pool2d_input: grad_output.shape=\(1, 2, 2, 3\) must equal the shape \(1, 2, 3, 3\) of "
            r"max_pool2d's output on an input of shape \(1, 2, 6, 6\)",
        ),
        (
            lambda: grad.max_pool2d_input(X.shape[1:], Y, IDX, 2),
            ValueError,
            r"max_pool2d_input: grad_output.shape=\(1, 2, 3, 3\) must equal the shape \(2, 3, 3\) of max_pool2d's",
        ),
        (
            lambda: grad.max_pool2d_input(X.shape, Y, IDX[..., :2], 2),
            ValueError,
            r"max_pool2d_input: indices.shape=\(1, 2, 3, 2\) must equal grad_output.shape=\(1, 2, 3, 3\)",
        ),
        (
            lambda: grad.max_pool2d_input(X.shape, Y, IDX.astype(np.float32), 2),
            TypeError,
            r"max_pool2d_input: indices dtype float32 must be an integer dtype \(max_pool2d with return_indices",
        ),
        (
            lambda: grad.max_pool2d_input(X.shape, Y, IDX + 1, 2),
            ValueError,
            r"max_pool2d_input: indices\[0, 0, 0, 1\]=1 is not a position inside that output's pooling window",
        ),
        (
            lambda: grad.adaptive_max_pool2d_input(X.shape, Y, IDX - 1, 3),
            ValueError,
            r"adaptive_max_pool2d_input: indices\[0, 0, 0, 0\]=-1 is not a position inside",
        ),
        (
            lambda: grad.max_pool2d_input([1, 2, 6.0, 6], Y, IDX, 2),
            TypeError,
            r"max_pool2d_input: input_size=\[1, 2, 6.0, 6\] must be a sequence of ints",
        ),
        (
            lambda: grad.max_pool2d_input((2, 6, 6, 1, 1), Y, IDX, 2),
            ValueError,
            r"max_pool2d_input: input_size must be 4-d or 3-d unbatched, got 5-d shape \(2, 6, 6, 1, 1\)",
        ),
        (
            lambda: grad.avg_pool2d_input((1, 2, -6, 6), Y, 2),
            ValueError,
            r"avg_pool2d_input: input_size=\(1, 2, -6, 6\) must not be negative",
        ),
        (
            lambda: grad.avg_pool2d_input(X.shape, Y.astype(np.int32), 2),
            TypeError,
            r"avg_pool2d_input: grad_output dtype int32 is not supported; use one of float16, float32, float64",
        ),
        (
            lambda: grad.avg_pool2d_input(X.shape, Y, 2, dtype=np.int32),
            TypeError,
            r"avg_pool2d_input: dtype=int32 is not supported",
        ),
        (
            lambda: grad.avg_pool2d_input(X.shape, Y, 2, divisor_override=0),
            ValueError,
            r"avg_pool2d_input: divisor_override=0 must be None or a positive int",
        ),
        (
            lambda: grad.avg_pool2d_input(X.shape, Y, 2, padding=2),
            ValueError,
            r"avg_pool2d_input: padding \(2, 2\) along spatial dim 0 must be smaller than the dilated kernel extent",
        ),
        (
            lambda: grad.avg_pool2d_input(X.shape, Y, 2, out=np.zeros((1, 2, 6, 6))),
            TypeError,
            r"avg_pool2d_input: out.dtype=float64 must equal the result dtype float32",
        ),
        (
            lambda: grad.avg_pool2d_input(Y.shape, Y[:, :, :1, :1], 3, out=Y),
            ValueError,
            r"avg_pool2d_input: out overlaps grad_output",
        ),
        (
            lambda: grad.adaptive_avg_pool2d_input(X.shape, Y, (3, 4)),
            ValueError,
            r"adaptive_avg_pool2d_input: grad_output.shape=\(1, 2, 3, 3\) must equal the shape \(1, 2, 3, 4\)",
        ),
        (
            lambda: grad.max_unpool2d_input(X, IDX + 36, 2),
            ValueError,
            r"max_unpool2d_input: indices\[0, 0, 0, 0\]=36 is outside \[0, 36\): indices are flat positions",
        ),
        (
            lambda: grad.max_unpool2d_input(X[:, :, :5], IDX, 2),
            ValueError,
            r"max_unpool2d_input: grad_output.shape=\(1, 2, 5, 6\) must equal the shape \(1, 2, 6, 6\) of "
            r"max_unpool2d's output",
        ),
        (
            lambda: grad.max_unpool2d_input(X, IDX[0, 0], 2),
            ValueError,
            r"max_unpool2d_input: indices must be 4-d or 3-d unbatched, got 2-d shape \(3, 3\)",
        ),
        (
            lambda: grad.max_unpool2d_input(X, IDX.astype(float), 2),
            TypeError,
            r"max_unpool2d_input: indices dtype float64 must be an integer dtype",
        ),
        (
            lambda: grad.unpool2d_input(X[:, :, :5], 2),
            ValueError,
            r"unpool2d_input: grad_output.shape=\(1, 2, 5, 6\) \(NCHW\) has size 5 along spatial dim 0, which must "
            r"be a multiple of scale_factor 2",
        ),
        (
            lambda: grad.unpool2d_input(X, 2, mode="bilinear"),
            ValueError,
            r"unpool2d_input: mode='bilinear' is not one of 'nearest', 'bed_of_nails'",
        ),
        (
            lambda: grad.interpolate_input(X.shape, Y, size=4),
            ValueError,
            r"interpolate_input: grad_output.shape=\(1, 2, 3, 3\) must equal the shape \(1, 2, 4, 4\) of "
            r"interpolate's output",
        ),
        (
            lambda: grad.interpolate_input(X.shape, Y, size=3, mode="linear"),
            ValueError,
            r"interpolate_input: mode='linear' needs 3-d input",
        ),
        (
            lambda: grad.interpolate_input((6, 6), Y, size=3),
            ValueError,
            r"interpolate_input: input must be 3-, 4- or 5-d \(N, C, \*spatial\), got 2-d shape \(6, 6\)",
        ),
        (
            lambda: grad.pixel_shuffle_input(X[:, :, :5], 2),
            ValueError,
            r"pixel_shuffle_input: grad_output height 5 must be divisible by upscale_factor 2",
        ),
        (
            lambda: grad.pixel_unshuffle_input(X, 2),
            ValueError,
            r"pixel_unshuffle_input: grad_output channels 2 must be divisible by downscale_factor\*\*2 = 2 \* 2 = 4",
        ),
        (
            lambda: grad.pixel_unshuffle_input(X, 0),
            ValueError,
            r"pixel_unshuffle_input: downscale_factor=0 must be positive",
        ),
        (
            lambda: grad.channel_shuffle_input(X, 3),
            ValueError,
            r"channel_shuffle_input: groups=3 must divide the number of channels 2",
        ),
        (
            lambda: grad.channel_shuffle_input(X.astype(object), 2),
            TypeError,
            r"channel_shuffle_input: grad_output dtype object is not supported",
        ),
        (
            lambda: grad.max_pool2d_input(X.shape, Y, IDX, 2, stream=0),
            ValueError,
            r"max_pool2d_input: stream=0 applies to CUDA arrays only",
        ),
    ],
)
def test_errors(call, err, match):
    with pytest.raises(err, match=match):
        call()


def test_no_kernel_runs_on_bad_indices(monkeypatch):
    """The window check raises before the gradient is launched (and before `out=` is written)."""
    from numbaconv import _launch_grad_pool

    def refuse(*args):
        raise AssertionError("a gradient kernel ran")

    for kind in ("max", "max_unpool"):
        monkeypatch.setitem(_launch_grad_pool.LAUNCHERS, (kind, "cpu"), refuse)
    out = np.full(X.shape, 7.0, np.float32)
    with pytest.raises(ValueError, match="is not a position inside"):
        grad.max_pool2d_input(X.shape, Y, IDX + 2, 2, out=out)
    with pytest.raises(ValueError, match="is outside"):
        grad.max_unpool2d_input(X, IDX - 1, 2)
    assert (out == 7).all()


def test_grad_names_are_not_in_numbaconv_all():
    assert not set(grad.__all__) & set(numbaconv.__all__)
    assert all(callable(getattr(grad, name)) for name in grad.__all__)


# ---- CUDA only ----


@pytest.mark.cuda
@pytest.mark.usefixtures("small_blocks")
def test_cuda_index_checks_run_on_the_device_before_any_write(dev):
    from numba import cuda

    g = rand((1, 2, 3, 3), np.float32, 27)
    out = dev(np.full(X.shape, 7.0, np.float32))
    bad = numbaconv.max_pool2d(rand(X.shape, np.float32), 2, return_indices=True)[1]
    bad[0, 1, 2, 1] = 10**12
    with pytest.raises(ValueError, match=r"max_pool2d_input: indices\[0, 1, 2, 1\]=1000000000000 is not a position"):
        grad.max_pool2d_input(X.shape, dev(g), dev(bad), 2, out=out)
    last = np.ascontiguousarray(np.moveaxis(bad, 1, -1))
    with pytest.raises(ValueError, match=r"indices\[2, 1, 1\]=1000000000000"):  # unbatched channels-last
        grad.max_pool2d_input((6, 6, 2), dev(np.moveaxis(g, 1, -1)[0].copy()), dev(last[0]), 2, layout="NHWC")
    with pytest.raises(ValueError, match=r"max_unpool2d_input: indices\[0, 1, 2, 1\]=1000000000000 is outside"):
        grad.max_unpool2d_input(dev(X), dev(bad), 2)
    np.testing.assert_array_equal(out.copy_to_host(), 7.0)
    stream = cuda.stream()
    got = grad.avg_pool2d_input(X.shape, dev(g), 2, stream=stream)
    stream.synchronize()
    assert_close(got.copy_to_host(), ref.linear_input(lambda b: ref.avg_pool(b, 2), X.shape, g))
    with pytest.raises(
        TypeError, match=r"max_pool2d_input: grad_output is a host \(NumPy\) array but indices is a CUDA"
    ):
        grad.max_pool2d_input(X.shape, g, dev(IDX), 2)
