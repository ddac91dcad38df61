"""interpolate's linear, bilinear, trilinear and bicubic modes, and resize_conv2d's bilinear and bicubic modes,
against tests/reference.py and torch, over modes x align_corners x sizes and scale factors x layouts x dtypes, on
the CPU and CUDA backends (CUDA: batch-1 cases, small blocks); their properties and errors."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import numbaconv

import reference as ref
from helpers import (
    BACKEND_SETTINGS,
    LAYOUT_LAST,
    LAYOUTS,
    assert_close,
    full,
    over_backends,
    rand,
    reference_pads,
    run,
    sized,
    to_backend,
    to_channels_first,
    to_channels_last,
    to_host,
)

DIMS = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}
FLOATS = [np.float32, np.float64]


def out_spatial(shape, size=None, scale_factor=None, **_):
    """The output's spatial size: `size`, or floor(in * scale_factor) per dim."""
    nd = len(shape) - 2
    if size is not None:
        return tuple(int(v) for v in np.broadcast_to(size, (nd,)))
    return tuple(math.floor(n * f) for n, f in zip(shape[2:], np.broadcast_to(scale_factor, (nd,))))


def expected(x, mode, align_corners, kw):
    """The reference of `interpolate(x, mode=mode, align_corners=align_corners, **kw)`."""
    factor = None if kw.get("recompute_scale_factor") else kw.get("scale_factor")
    kind = "cubic" if mode == "bicubic" else "linear"
    return ref.interpolate(x, out_spatial(x.shape, **kw), kind, bool(align_corners), factor)


CASES = [
    # (name, mode, x shape, size or scale keywords)
    ("linear_up_size", "linear", (2, 3, 7), dict(size=12)),
    ("linear_down_scale", "linear", (2, 2, 11), dict(scale_factor=0.45)),
    ("linear_up_recompute", "linear", (1, 2, 5), dict(scale_factor=1.7, recompute_scale_factor=True)),
    ("linear_copy_rule", "linear", (1, 2, 5), dict(scale_factor=1.1)),  # out == in: torch copies the dim
    ("bilinear_size", "bilinear", (2, 2, 5, 6), dict(size=(9, 4))),
    ("bilinear_scale_mixed", "bilinear", (1, 3, 6, 5), dict(scale_factor=(1.7, 0.6))),
    ("bilinear_third_recompute", "bilinear", (1, 2, 7, 8), dict(scale_factor=1 / 3, recompute_scale_factor=True)),
    ("bilinear_to_one", "bilinear", (1, 1, 4, 3), dict(size=(1, 5))),
    ("bicubic_size", "bicubic", (2, 2, 5, 4), dict(size=(3, 7))),
    ("bicubic_scale", "bicubic", (1, 2, 4, 5), dict(scale_factor=2.5)),
    ("bicubic_recompute", "bicubic", (1, 1, 6, 3), dict(scale_factor=(0.7, 2.2), recompute_scale_factor=True)),
    ("trilinear_scale", "trilinear", (1, 2, 3, 4, 5), dict(scale_factor=(2, 0.5, 1.3))),
    ("trilinear_size", "trilinear", (2, 1, 4, 3, 2), dict(size=(2, 5, 3))),
]


# CPU: every case x align_corners x dtype x layout; CUDA: every case x align_corners, dtype and layout in turn.
@over_backends(
    "case,align_corners,dtype,layout",
    [(c, a, d, lay) for c in CASES for a in (False, True) for d in FLOATS for lay in LAYOUTS],
    [(c, a, FLOATS[i % 2], LAYOUTS[(i + a) % 2]) for i, c in enumerate(CASES) for a in (False, True)],
)
def test_interpolate_matches_reference(backend, case, align_corners, dtype, layout):
    _, mode, shape, kw = case
    x = rand(sized(shape, backend), dtype, 1)
    got = run(backend, numbaconv.interpolate, x, mode=mode, align_corners=align_corners, layout=layout, **kw)
    assert got.dtype == dtype
    assert_close(got, expected(x, mode, align_corners, kw))


TORCH_KWARGS = [
    lambda nd: dict(size=tuple(range(7, 7 + nd))),  # up
    lambda nd: dict(size=tuple(range(2, 2 + nd))),  # down
    lambda nd: dict(scale_factor=1.7),  # non-integer, 1 / 1.7 != in / out
    lambda nd: dict(scale_factor=0.55),
    lambda nd: dict(scale_factor=(2.3, 0.8, 1.5)[:nd], recompute_scale_factor=True),
    lambda nd: dict(scale_factor=1.1, recompute_scale_factor=False),  # out == in along every dim
    lambda nd: dict(scale_factor=2),
]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("mode", list(DIMS))
def test_interpolate_matches_torch(mode, dtype):
    """Every mode x align_corners (None, False, True) x size / scale_factor (with and without
    recompute_scale_factor, up and down, non-integer) x layout against torch's CPU kernels."""
    torch = pytest.importorskip("torch")
    nd = DIMS[mode]
    x = rand((2, 3, 5, 6, 4)[: nd + 2], dtype, 2)
    for align_corners in (None, False, True):
        for make in TORCH_KWARGS:
            kw = dict(mode=mode, align_corners=align_corners, **make(nd))
            want = torch.nn.functional.interpolate(torch.from_numpy(x), **kw).numpy()
            got = numbaconv.interpolate(x, **kw)
            assert got.dtype == dtype
            assert_close(got, want.astype(np.float64))
            last = numbaconv.interpolate(to_channels_last(x), layout=LAYOUT_LAST[nd], **kw)
            assert_close(to_channels_first(last), want.astype(np.float64))


def test_interpolate_nearest_recompute_scale_factor_matches_torch():
    torch = pytest.importorskip("torch")
    x = rand((1, 2, 5, 7), np.float32, 3)
    for mode in ("nearest", "nearest-exact"):
        for factor in (1.3, 0.7, (2.6, 1.45)):
            kw = dict(mode=mode, scale_factor=factor, recompute_scale_factor=True)
            want = torch.nn.functional.interpolate(torch.from_numpy(x), **kw).numpy()
            np.testing.assert_array_equal(numbaconv.interpolate(x, **kw), want)


def test_interpolate_float16(backend):
    """float16 in, float16 out, computed in float32 (CPU: a float32 copy; CUDA: read and converted)."""
    x = rand(sized((2, 2, 3, 4), backend), np.float16, 4)
    for mode, layout in [("bilinear", "first"), ("bicubic", "last")]:
        got = run(backend, numbaconv.interpolate, x, scale_factor=1.5, mode=mode, layout=layout)
        assert got.dtype == np.float16
        assert_close(got, expected(x, mode, False, dict(scale_factor=1.5)))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_interpolate_out_argument_and_strided_input(backend, layout):
    """A strided view (of a device array on CUDA) into a NaN-filled `out=`: every output written, the caller's
    array returned; an empty batch runs no kernel."""
    last = layout == "last"
    big = rand(sized((2, 3, 8, 10), backend), np.float64, 5)
    kw = dict(size=(7, 3), mode="bicubic", align_corners=True)
    want = expected(big[:, :, ::2, 1::2], "bicubic", True, kw)
    if last:
        x = to_backend(backend, big, channels_last=True)[:, ::2, 1::2]
        kw["layout"] = "NHWC"
    else:
        x = to_backend(backend, big)[:, :, ::2, 1::2]
    out = full(backend, to_channels_last(want).shape if last else want.shape, np.nan, np.float64)
    assert numbaconv.interpolate(x, out=out, **kw) is out
    assert_close(to_host(backend, out, last), want)
    empty = to_backend(backend, np.zeros((0, 2, 3, 3), np.float32))
    assert numbaconv.interpolate(empty, size=5, mode="bilinear").shape == (0, 2, 5, 5)


def test_interpolate_has_no_unbatched_form_as_torch():
    """torch reads a 3-d array as (N, C, W): linear takes it as a batch, bilinear refuses it."""
    x = rand((2, 3, 5), np.float32, 6)
    assert numbaconv.interpolate(x, size=9, mode="linear").shape == (2, 3, 9)
    with pytest.raises(ValueError, match=r"interpolate: mode='bilinear' needs 4-d input \(2 spatial dims\)"):
        numbaconv.interpolate(x, size=9, mode="bilinear")


def test_interpolate_conventions():
    """align_corners maps the corner pixels onto each other; the half-pixel rule holds the border pixels and
    bicubic overshoots."""
    x = np.array([[[0.0, 3.0]]])
    assert numbaconv.interpolate(x, size=4, mode="linear", align_corners=True).tolist() == [[[0, 1, 2, 3]]]
    # src = (dst + 0.5) / 2 - 0.5 = -0.25 (raised to 0), 0.25, 0.75, 1.25 (past the last pixel: it repeats)
    assert numbaconv.interpolate(x, size=4, mode="linear").tolist() == [[[0, 0.75, 2.25, 3]]]
    step = np.array([[[[0.0, 0.0, 1.0, 1.0]]]])
    y = numbaconv.interpolate(step, size=(1, 8), mode="bicubic")[0, 0, 0]
    assert y.min() < 0 and y.max() > 1  # Keys' kernel rings at an edge


# ---- properties ----


@BACKEND_SETTINGS
@given(
    mode=st.sampled_from(list(DIMS)),
    spatial=st.lists(st.integers(1, 5), min_size=3, max_size=3),
    channels=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
def test_same_size_with_align_corners_is_the_identity(backend, mode, spatial, channels, seed):
    x = rand((1, channels, *spatial[: DIMS[mode]]), np.float32, seed)
    got = run(backend, numbaconv.interpolate, x, size=x.shape[2:], mode=mode, align_corners=True)
    np.testing.assert_array_equal(got, x)


@BACKEND_SETTINGS
@given(
    nd=st.integers(1, 3),
    sizes=st.lists(st.tuples(st.integers(2, 5), st.integers(1, 9)), min_size=3, max_size=3),
    slopes=st.lists(st.floats(-4, 4), min_size=4, max_size=4),
)
def test_linear_modes_keep_a_linear_ramp_with_align_corners(backend, nd, sizes, slopes):
    """A ramp c + sum_d a_d * i_d resized with align_corners=True is the ramp at the source coordinates
    dst * (in - 1) / (out - 1): linear interpolation is exact on linear functions."""
    mode = {1: "linear", 2: "bilinear", 3: "trilinear"}[nd]
    ins, outs = [n for n, _ in sizes[:nd]], [o for _, o in sizes[:nd]]
    grids = np.meshgrid(*[np.arange(n, dtype=np.float64) for n in ins], indexing="ij")
    x = (slopes[-1] + sum(a * g for a, g in zip(slopes, grids)))[None, None]
    src = [np.arange(o) * ((n - 1) / (o - 1) if o > 1 else 0.0) for n, o in zip(ins, outs)]
    want = slopes[-1] + sum(a * g for a, g in zip(slopes, np.meshgrid(*src, indexing="ij")))
    got = run(backend, numbaconv.interpolate, x, size=tuple(outs), mode=mode, align_corners=True)
    assert_close(got, want[None, None])


# ---- resize_conv2d ----

RESIZE_CASES = [
    # (name, x shape, weight shape, keywords)
    ("same", (2, 3, 4, 5), (4, 3, 3, 3), dict()),
    ("scale_pairs_stride", (1, 2, 3, 4), (3, 2, 3, 2), dict(scale_factor=(3, 2), padding=((1, 0), (2, 1)), stride=2)),
    ("groups_reflect", (1, 4, 3, 3), (4, 2, 3, 3), dict(groups=2, padding_mode="reflect", activation="relu")),
]


def resize_expected(x, w, b, mode, align_corners, kw):
    """The reference of `resize_conv2d(x, w, b, mode=mode, align_corners=align_corners, **kw)`."""
    kw = dict(kw)
    scale = kw.pop("scale_factor", 2)
    scale = (scale, scale) if np.isscalar(scale) else scale
    size = [n * s for n, s in zip(x.shape[2:], scale)]
    pads = reference_pads(size, w.shape[2:], kw.pop("padding", "same"), kw.get("stride", 1))
    return ref.resize_conv(
        x,
        w,
        b,
        scale=scale,
        mode=mode,
        align_corners=align_corners,
        stride=kw.get("stride", 1),
        pads=pads,
        groups=kw.get("groups", 1),
        padding_mode=kw.get("padding_mode", "zeros"),
        act=kw.get("activation"),
    )


@over_backends(
    "case,mode,align_corners,layout,algorithm",
    [
        (c, m, a, lay, alg)
        for c in RESIZE_CASES
        for m in ("bilinear", "bicubic")
        for a in (False, True)
        for lay in LAYOUTS
        for alg in ("direct", "gemm")
    ],
    [(c, m, i % 2 == 1, LAYOUTS[i % 2], "auto") for i, c in enumerate(RESIZE_CASES) for m in ("bilinear", "bicubic")],
)
def test_resize_conv2d_modes_match_reference(backend, case, mode, align_corners, layout, algorithm):
    _, xs, ws, kw = case
    x, w, b = rand(sized(xs, backend), np.float64, 7), rand(ws, np.float64, 8), rand(ws[:1], np.float64, 9)
    got = run(
        backend,
        numbaconv.resize_conv2d,
        x,
        w,
        b,
        mode=mode,
        align_corners=align_corners,
        layout=layout,
        algorithm=algorithm,
        **kw,
    )
    assert_close(got, resize_expected(x, w, b, mode, align_corners, kw))


def test_resize_conv2d_modes_match_torch():
    """conv2d(interpolate(x)) in torch, float32, both layouts, and unbatched x."""
    torch = pytest.importorskip("torch")
    functional = torch.nn.functional
    x, w, b = rand((2, 3, 4, 5), np.float32, 10), rand((4, 3, 3, 3), np.float32, 11), rand((4,), np.float32, 12)
    for mode in ("bilinear", "bicubic"):
        for align_corners in (None, True):
            up = functional.interpolate(
                torch.from_numpy(x), scale_factor=(2, 3), mode=mode, align_corners=align_corners
            )
            want = functional.conv2d(up, torch.from_numpy(w), torch.from_numpy(b), padding=1).numpy()
            kw = dict(scale_factor=(2, 3), mode=mode, align_corners=align_corners)
            assert_close(numbaconv.resize_conv2d(x, w, b, **kw), want.astype(np.float64))
            last = numbaconv.resize_conv2d(to_channels_last(x), w, b, layout="NHWC", **kw)
            assert_close(to_channels_first(last), want.astype(np.float64))
            assert_close(numbaconv.resize_conv2d(x[1], w, b, **kw), want[1].astype(np.float64))


def test_resize_conv2d_modes_out_float16_and_empty(backend):
    """A float16 x through a float32 intermediate into a NaN-filled `out=`; an empty batch."""
    x, w = rand(sized((2, 2, 3, 3), backend), np.float16, 13), rand((3, 2, 3, 3), np.float16, 14)
    want = resize_expected(x, w, None, "bilinear", False, {})
    out = full(backend, want.shape, np.nan, np.float16)
    moved = [to_backend(backend, x), to_backend(backend, w)]
    assert numbaconv.resize_conv2d(*moved, mode="bilinear", out=out) is out
    assert_close(to_host(backend, out), want, np.float16)
    empty = to_backend(backend, np.zeros((0, 2, 3, 3), np.float32))
    assert numbaconv.resize_conv2d(empty, to_backend(backend, w), mode="bicubic").shape == (0, 3, 6, 6)


# ---- errors ----

X1, X2, X3 = np.zeros((1, 2, 4), np.float32), np.zeros((1, 2, 4, 4), np.float32), np.zeros((1, 2, 3, 3, 3))
W = np.ones((2, 2, 3, 3), np.float32)


@pytest.mark.parametrize(
    "call_,err,match",
    [
        (
            lambda: numbaconv.interpolate(X2, size=4, align_corners=True),
            ValueError,
            r"interpolate: align_corners=True applies only to the interpolating modes 'linear', 'bilinear', "
            r"'bicubic', 'trilinear'; leave it None with mode='nearest'",
        ),
        (
            lambda: numbaconv.interpolate(X2, size=4, mode="nearest_exact", align_corners=False),
            ValueError,
            r"interpolate: align_corners=False applies only to the interpolating modes .* mode='nearest_exact'",
        ),
        (
            lambda: numbaconv.interpolate(X2, size=4, mode="bilinear", align_corners="yes"),
            TypeError,
            r"interpolate: align_corners='yes' must be a bool",
        ),
        (
            lambda: numbaconv.interpolate(X1, size=4, mode="bilinear"),
            ValueError,
            r"interpolate: mode='bilinear' needs 4-d input \(2 spatial dims\), got 3-d shape \(1, 2, 4\)",
        ),
        (
            lambda: numbaconv.interpolate(X2, size=4, mode="linear"),
            ValueError,
            r"interpolate: mode='linear' needs 3-d input \(1 spatial dims\), got 4-d shape \(1, 2, 4, 4\)",
        ),
        (
            lambda: numbaconv.interpolate(X2, size=4, mode="trilinear"),
            ValueError,
            r"interpolate: mode='trilinear' needs 5-d input \(3 spatial dims\), got 4-d",
        ),
        (
            lambda: numbaconv.interpolate(X3, size=4, mode="bicubic"),
            ValueError,
            r"interpolate: mode='bicubic' needs 4-d input \(2 spatial dims\), got 5-d",
        ),
        (
            lambda: numbaconv.interpolate(X2, size=4, scale_factor=2, mode="bilinear"),
            ValueError,
            r"interpolate: pass exactly one of size and scale_factor \(got size=4, scale_factor=2\)",
        ),
        (
            lambda: numbaconv.interpolate(X2, mode="bicubic"),
            ValueError,
            r"interpolate: pass exactly one of size and scale_factor \(got size=None, scale_factor=None\)",
        ),
        (
            lambda: numbaconv.interpolate(X2, size=(3, 0), mode="bilinear"),
            ValueError,
            r"interpolate: size=\(3, 0\) must be positive",
        ),
        (
            lambda: numbaconv.interpolate(X2, scale_factor=(2, -1.5), mode="bilinear"),
            ValueError,
            r"interpolate: scale_factor=\(2, -1.5\) must be positive and finite",
        ),
        (
            lambda: numbaconv.interpolate(X1, scale_factor=0.2, mode="linear"),
            ValueError,
            r"interpolate: scale_factor=0.2 gives output size floor\(4 \* 0.2\) = 0 < 1 along spatial dim 0",
        ),
        (
            lambda: numbaconv.interpolate(X2, size=3, mode="bilinear", recompute_scale_factor=True),
            ValueError,
            r"interpolate: recompute_scale_factor=True is not meaningful with an explicit size",
        ),
        (
            lambda: numbaconv.interpolate(X2, scale_factor=2, recompute_scale_factor=1),
            TypeError,
            r"interpolate: recompute_scale_factor=1 must be a bool",
        ),
        (
            lambda: numbaconv.interpolate(X2.astype(np.int16), size=3, mode="bilinear"),
            TypeError,
            r"interpolate: mode='bilinear' needs float16, float32 or float64 input, got int16; the nearest modes "
            r"copy any dtype",
        ),
        (
            lambda: numbaconv.interpolate(X2, size=5, mode="bicubic", out=np.zeros((1, 2, 5, 5))),
            TypeError,
            r"interpolate: out.dtype=float64 must equal the result dtype float32",
        ),
        (
            lambda: numbaconv.resize_conv2d(X2, W, mode="linear"),
            ValueError,
            r"resize_conv2d: mode='linear' is not one of 'nearest', 'bilinear', 'bicubic'",
        ),
        (
            lambda: numbaconv.resize_conv2d(X2, W, align_corners=True),
            ValueError,
            r"resize_conv2d: align_corners=True applies only to the interpolating modes .* mode='nearest'",
        ),
        (
            lambda: numbaconv.resize_conv2d(X2, W, mode="bilinear", scale_factor=1.5),
            TypeError,
            r"resize_conv2d: scale_factor=1.5 must be an int or a sequence of 2 ints",
        ),
        (
            lambda: numbaconv.resize_conv2d(X2, W, np.ones(3), mode="bicubic"),
            ValueError,
            r"resize_conv2d: bias.shape=\(3,\) must be \(out_channels,\) = \(2,\)",
        ),
        (
            lambda: numbaconv.resize_conv2d(X2, W, mode="bilinear", algorithm="fft"),
            ValueError,
            r"resize_conv2d: algorithm='fft' is unknown; valid CPU algorithms: 'auto', 'direct', 'gemm'",
        ),
        (
            lambda: numbaconv.resize_conv2d(X2, W, mode="bilinear", out=np.zeros((1, 2, 4, 4), np.float32)),
            ValueError,
            r"resize_conv2d: out.shape=\(1, 2, 4, 4\) must equal the result shape \(1, 2, 8, 8\)",
        ),
    ],
)
def test_errors(call_, err, match):
    with pytest.raises(err, match=match):
        call_()


def test_resize_conv2d_checks_everything_before_interpolating(monkeypatch):
    """A bad bias, algorithm or out= is reported before the interpolation kernel runs."""
    from numbaconv import unpool

    def refuse(*args):
        raise AssertionError("the interpolation ran before a check")

    monkeypatch.setattr(unpool, "launch", refuse)
    for kw in (dict(bias=np.ones(3)), dict(algorithm="fft"), dict(out=np.zeros((1, 2, 4, 4), np.float32))):
        with pytest.raises(ValueError, match=r"resize_conv2d: "):
            numbaconv.resize_conv2d(X2, W, mode="bilinear", **kw)
