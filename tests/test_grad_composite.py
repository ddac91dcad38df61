"""numbaconv.grad, the two-step convolutions (separable_conv2d, spatially_separable_conv2d, shuffle_conv2d,
resize_conv2d): every gradient against tests/reference.py (each step's loop reference, chained) on CPU and CUDA
(simulator: batch-1 cases, small blocks), against torch autograd over random configurations (separable =
F.conv2d(groups=C) then a 1x1 F.conv2d, shuffle conv = grouped F.conv2d + channel shuffle, resize conv =
F.interpolate then F.conv2d), central finite differences, the intermediate= shortcut, the call conventions, every
error, and the bench's backward rows."""

import inspect

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import numbaconv
from numbaconv import grad

import reference as ref
from helpers import (
    LAYOUTS,
    Case,
    assert_close,
    over_backends,
    rand,
    reference_pads,
    to_backend,
    to_host,
    torch_activation,
    torch_padded,
)

ACTIVATIONS = [None, "relu", "relu6", "leaky_relu", "sigmoid", "tanh"]
SLOPE = 0.2


def moved(backend, last, **arrays):
    """The named channels-first host arrays on `backend`, in the layout (`last`: channels-last; None stays None)."""
    return {k: None if a is None else to_backend(backend, a, last) for k, a in arrays.items()}


def layout_kw(kw, last):
    return dict(kw, layout="NHWC") if last else dict(kw)


def check(backend, got, want, dtype, last=False):
    """Results of `backend` (the first channels-last when `last`) against the reference, None where it is None."""
    for i, (g, w) in enumerate(zip(got, want)):
        if w is None:
            assert g is None
            continue
        g = to_host(backend, g, last and i == 0)
        assert g.dtype == dtype
        assert_close(g, w, dtype)


# ---- separable_conv2d ----

SEPARABLE = [
    Case("basic", (2, 3, 6, 5), (3, 1, 3, 3), dict(pw=(4, 3), padding=1)),
    Case(
        "multiplier_stride_reflect_dilation",
        (1, 2, 7, 6),
        (4, 1, 3, 2),
        dict(pw=(3, 4, 1, 1), stride=2, padding=((2, 1), (1, 1)), dilation=(1, 2), padding_mode="reflect"),
    ),
    Case("same_circular", (2, 2, 5, 5), (2, 1, 3, 3), dict(pw=(3, 2), padding="same", padding_mode="circular")),
]


def separable_case(case, dtype, seed=0):
    kw = dict(case.kw)
    pw_shape = kw.pop("pw")
    x, dw, pw = rand(case.x, dtype, seed), rand(case.w, dtype, seed + 1), rand(pw_shape, dtype, seed + 2)
    c_mid = case.w[0]
    pads = reference_pads(case.x[2:], case.w[2:], kw.get("padding", 0), kw.get("stride", 1), kw.get("dilation", 1))
    geometry = dict(
        stride=kw.get("stride", 1),
        pads=pads,
        dilation=kw.get("dilation", 1),
        padding_mode=kw.get("padding_mode", "zeros"),
    )
    return x, dw, pw, rand((pw_shape[0],), dtype, seed + 3), rand((c_mid,), dtype, seed + 4), kw, geometry


@over_backends(
    "case,dtype,layout",
    [(c, d, lay) for c in SEPARABLE for d in (np.float32, np.float64) for lay in LAYOUTS],
    [(c, np.float32, "first") for c in SEPARABLE] + [(SEPARABLE[1], np.float64, "last")],
)
def test_separable_grads_match_reference(backend, case, dtype, layout):
    """_backward with both biases and both activations, and each single gradient (the intermediate recomputed,
    or given) against the chained loop references."""
    case, last = case.on(backend), layout == "last"
    x, dw, pw, b, db, kw, geometry = separable_case(case, dtype)
    acts = dict(depthwise_activation="tanh", activation="sigmoid", negative_slope=SLOPE)
    y = numbaconv.separable_conv2d(x, dw, pw, b, depthwise_bias=db, **kw, **acts)
    mid = numbaconv.depthwise_conv2d(x, dw, db, **kw, activation="tanh", dtype=np.float64).astype(dtype)
    gy = rand(y.shape, dtype, 9)
    want = ref.separable_grads(x, dw, pw, gy, b, db, **geometry, depthwise_act="tanh", act="sigmoid")
    on = moved(backend, last, x=x, gy=gy, y=y, mid=mid)
    dwb, pwb, dbb = (to_backend(backend, a) for a in (dw, pw, db))
    kw = layout_kw(kw, last)
    fused = dict(output=on["y"], **acts)
    got = grad.separable_conv2d_backward(on["x"], dwb, pwb, on["gy"], depthwise_bias=dbb, **kw, **fused)
    check(backend, got, want, dtype, last)
    gx = grad.separable_conv2d_input(tuple(on["x"].shape), dwb, pwb, on["gy"], intermediate=on["mid"], **kw, **fused)
    check(backend, [gx], want[:1], dtype, last)
    pair = grad.separable_conv2d_weights(on["x"], dwb, pwb, on["gy"], depthwise_bias=dbb, **kw, **fused)
    check(backend, pair, want[1:3], dtype)
    given_mid = grad.separable_conv2d_weights(on["x"], dwb, pwb, on["gy"], intermediate=on["mid"], **kw, **fused)
    check(backend, given_mid, want[1:3], dtype)
    gb = grad.separable_conv2d_bias(on["gy"], output=on["y"], activation="sigmoid", layout=kw.get("layout"))
    check(backend, [gb], want[3:4], dtype)


# ---- spatially_separable_conv2d ----

SPATIAL = [
    Case("basic", (2, 2, 6, 6), (3, 2, 3), dict(row=(4, 3, 3))),
    Case(
        "groups_same_stride_reflect_flip",
        (1, 4, 7, 6),
        (4, 2, 3, 1),
        dict(row=(6, 2, 1, 2), groups=2, stride=(2, 1), padding="same", padding_mode="reflect", flip=True),
    ),
    Case(
        "pairs_replicate_dilation",
        (2, 2, 5, 6),
        (2, 2, 2),
        dict(row=(2, 2, 3), padding=((1, 0), (2, 1)), padding_mode="replicate", stride=(1, 2), dilation=(2, 1)),
    ),
]


def spatial_case(case, dtype, seed=10):
    kw = dict(case.kw)
    row_shape = kw.pop("row")
    col, row = rand(case.w, dtype, seed + 1), rand(row_shape, dtype, seed + 2)
    col4 = col.reshape(col.shape[:3] + (1,)) if col.ndim == 3 else col
    row4 = row.reshape(row.shape[:2] + (1, row.shape[2])) if row.ndim == 3 else row
    stride, dilation = (tuple(np.broadcast_to(kw.get(k, 1), (2,))) for k in ("stride", "dilation"))
    kernel = (col4.shape[2], row4.shape[3])
    # a padding string pads each pass for its own kernel: the H pads depend on H alone, the W pads on W alone
    pads = reference_pads(case.x[2:], kernel, kw.get("padding", 0), stride, dilation)
    geometry = dict(
        stride=stride,
        pads=pads,
        dilation=dilation,
        groups=kw.get("groups", 1),
        padding_mode=kw.get("padding_mode", "zeros"),
        flip=kw.get("flip", False),
    )
    x = rand(case.x, dtype, seed)
    return x, col, row, col4, row4, rand((row.shape[0],), dtype, seed + 3), kw, geometry


@over_backends(
    "case,dtype,layout",
    [(c, d, lay) for c in SPATIAL for d in (np.float32, np.float64) for lay in LAYOUTS],
    [(c, np.float32, "first") for c in SPATIAL] + [(SPATIAL[1], np.float64, "last")],
)
def test_spatially_separable_grads_match_reference(backend, case, dtype, layout):
    case, last = case.on(backend), layout == "last"
    x, col, row, col4, row4, b, kw, geometry = spatial_case(case, dtype)
    y = numbaconv.spatially_separable_conv2d(x, col, row, b, **kw, activation="leaky_relu", negative_slope=SLOPE)
    gy = rand(y.shape, dtype, 19)
    gx, g_col, g_row, gb = ref.spatially_separable_grads(
        x, col4, row4, gy, b, **geometry, act="leaky_relu", negative_slope=SLOPE
    )
    want = [gx, g_col.reshape(col.shape), g_row.reshape(row.shape), gb]
    on = moved(backend, last, x=x, gy=gy, y=y)
    colb, rowb = to_backend(backend, col), to_backend(backend, row)
    kw = layout_kw(kw, last)
    fused = dict(output=on["y"], activation="leaky_relu", negative_slope=SLOPE)
    check(
        backend,
        grad.spatially_separable_conv2d_backward(on["x"], colb, rowb, on["gy"], **kw, **fused),
        want,
        dtype,
        last,
    )
    gx = grad.spatially_separable_conv2d_input(tuple(on["x"].shape), colb, rowb, on["gy"], **kw, **fused)
    check(backend, [gx], want[:1], dtype, last)
    check(
        backend, grad.spatially_separable_conv2d_weights(on["x"], colb, rowb, on["gy"], **kw, **fused), want[1:3], dtype
    )


# ---- shuffle_conv2d ----

SHUFFLE = [
    Case("g2", (2, 4, 5, 5), (6, 2, 3, 3), dict(groups=2, padding=1)),
    Case(
        "g3_stride_circular_flip",
        (1, 6, 6, 5),
        (6, 2, 3, 2),
        dict(groups=3, stride=2, padding="same", padding_mode="circular", flip=True),
    ),
]


def conv_geometry(case, kw):
    pads = reference_pads(case.x[2:], case.w[2:], kw.get("padding", 0), kw.get("stride", 1), kw.get("dilation", 1))
    return dict(
        stride=kw.get("stride", 1),
        pads=pads,
        dilation=kw.get("dilation", 1),
        padding_mode=kw.get("padding_mode", "zeros"),
        flip=kw.get("flip", False),
    )


@over_backends(
    "case,dtype,layout",
    [(c, d, lay) for c in SHUFFLE for d in (np.float32, np.float64) for lay in LAYOUTS],
    [(SHUFFLE[0], np.float32, "first"), (SHUFFLE[1], np.float64, "last")],
)
def test_shuffle_conv_grads_match_reference(backend, case, dtype, layout):
    case, last = case.on(backend), layout == "last"
    x, w, b = rand(case.x, dtype, 20), rand(case.w, dtype, 21), rand((case.w[0],), dtype, 22)
    y = numbaconv.shuffle_conv2d(x, w, b, **case.kw, activation="relu6")
    gy = rand(y.shape, dtype, 23)
    geometry = conv_geometry(case, case.kw)
    want = ref.shuffle_conv_grads(x, w, gy, b, case.kw["groups"], act="relu6", **geometry)
    on = moved(backend, last, x=x, gy=gy, y=y)
    wb = to_backend(backend, w)
    kw = layout_kw(case.kw, last)
    fused = dict(output=on["y"], activation="relu6")
    check(backend, grad.shuffle_conv2d_backward(on["x"], wb, on["gy"], **kw, **fused), want, dtype, last)
    check(
        backend, [grad.shuffle_conv2d_input(tuple(on["x"].shape), wb, on["gy"], **kw, **fused)], want[:1], dtype, last
    )
    check(backend, [grad.shuffle_conv2d_weight(on["x"], w.shape, on["gy"], **kw, **fused)], want[1:2], dtype)
    layout_only = {"layout": "NHWC"} if last else {}
    bias = grad.shuffle_conv2d_bias(on["gy"], groups=case.kw["groups"], **layout_only, **fused)
    check(backend, [bias], want[2:], dtype)


# ---- resize_conv2d ----

RESIZE = [
    Case("nearest", (2, 2, 3, 4), (3, 2, 3, 3)),
    Case(
        "nearest_scale23_stride_reflect_groups",
        (1, 2, 3, 3),
        (2, 1, 3, 2),
        dict(scale_factor=(2, 3), stride=2, padding=1, padding_mode="reflect", groups=2),
    ),
    Case("bilinear_align_dilation", (2, 2, 3, 4), (3, 2, 3, 3), dict(mode="bilinear", align_corners=True, dilation=2)),
    Case("bicubic_valid_stride", (1, 2, 4, 3), (2, 2, 2, 2), dict(mode="bicubic", padding="valid", stride=(1, 2))),
]


def resize_reference(case, x, w, gy, b, act):
    kw = case.kw
    scale = tuple(np.broadcast_to(kw.get("scale_factor", 2), (2,)))
    up = tuple(n * s for n, s in zip(case.x[2:], scale))
    pads = reference_pads(up, case.w[2:], kw.get("padding", "same"), kw.get("stride", 1), kw.get("dilation", 1))
    return ref.resize_conv_grads(
        x,
        w,
        gy,
        b,
        scale,
        kw.get("mode", "nearest"),
        bool(kw.get("align_corners")),
        act=act,
        stride=kw.get("stride", 1),
        pads=pads,
        dilation=kw.get("dilation", 1),
        groups=kw.get("groups", 1),
        padding_mode=kw.get("padding_mode", "zeros"),
    )


@over_backends(
    "case,dtype,layout",
    [(c, d, lay) for c in RESIZE for d in (np.float32, np.float64) for lay in LAYOUTS],
    [(c, np.float32, "first") for c in RESIZE[:3]] + [(RESIZE[3], np.float64, "last")],
)
def test_resize_conv_grads_match_reference(backend, case, dtype, layout):
    case, last = case.on(backend), layout == "last"
    x, w, b = rand(case.x, dtype, 30), rand(case.w, dtype, 31), rand((case.w[0],), dtype, 32)
    y = numbaconv.resize_conv2d(x, w, b, **case.kw, activation="sigmoid")
    gy = rand(y.shape, dtype, 33)
    want = resize_reference(case, x, w, gy, b, "sigmoid")
    on = moved(backend, last, x=x, gy=gy, y=y)
    wb = to_backend(backend, w)
    kw = layout_kw(case.kw, last)
    fused = dict(output=on["y"], activation="sigmoid")
    check(backend, grad.resize_conv2d_backward(on["x"], wb, on["gy"], **kw, **fused), want, dtype, last)
    check(backend, [grad.resize_conv2d_input(tuple(on["x"].shape), wb, on["gy"], **kw, **fused)], want[:1], dtype, last)
    check(backend, [grad.resize_conv2d_weight(on["x"], w.shape, on["gy"], **kw, **fused)], want[1:2], dtype)


# ---- against torch autograd, over random configurations ----


def draw_common(data):
    return dict(
        last=data.draw(st.sampled_from(LAYOUTS), "layout") == "last",
        dtype=data.draw(st.sampled_from([np.float32, np.float64]), "dtype"),
        activation=data.draw(st.sampled_from(ACTIVATIONS), "activation"),
        bias=data.draw(st.booleans(), "bias"),
        unbatched=data.draw(st.booleans(), "unbatched"),
    )


def draw_geometry(data, size, kernel):
    """stride, dilation, padding (every form) and the reference's pads of a random 2-d conv over `size`, valid for
    the padding mode drawn (reflect: pads below the size; circular: at most the size)."""
    stride = tuple(data.draw(st.integers(1, 2)) for _ in range(2))
    dilation = tuple(data.draw(st.integers(1, 2)) for _ in range(2))
    mode = data.draw(st.sampled_from(["zeros", "reflect", "replicate", "circular"]), "padding_mode")
    pairs = tuple(tuple(data.draw(st.integers(0, 2)) for _ in range(2)) for _ in range(2))
    form = data.draw(st.sampled_from(["int", "pairs", "same", "valid"]), "padding form")
    padding = {"int": pairs[0][0], "pairs": pairs, "same": "same", "valid": "valid"}[form]
    pads = reference_pads(size, kernel, padding, stride, dilation)
    assume(all(n + lo + hi >= d * (k - 1) + 1 for n, (lo, hi), k, d in zip(size, pads, kernel, dilation)))
    assume(mode != "reflect" or all(max(p) < n for p, n in zip(pads, size)))
    assume(mode != "circular" or all(max(p) <= n for p, n in zip(pads, size)))
    return dict(stride=stride, dilation=dilation, padding=padding, padding_mode=mode), pads


def torch_reference(torch, leaves, forward, seed):
    """torch autograd of `forward(tensors) -> (y, intermediate or None)` at the float64 `leaves`: (y, the
    intermediate, grad_output, {leaf: gradient})."""
    tensors = {name: torch.tensor(a, requires_grad=True) for name, a in leaves.items()}
    y, mid = forward(tensors)
    gy = rand(tuple(y.shape), np.float64, seed)
    y.backward(torch.tensor(gy))
    mid = None if mid is None else mid.detach().numpy()
    return (
        y.detach().numpy(),
        mid,
        gy,
        {name: None if t.grad is None else t.grad.numpy() for name, t in tensors.items()},
    )


def caller(a, common):
    """A batched channels-first float64 array as the caller passes it: the drawn layout, dtype and batching."""
    if a is None:
        return None
    a = np.moveaxis(a, 1, -1) if common["last"] else a
    return np.ascontiguousarray((a[0] if common["unbatched"] else a).astype(common["dtype"]))


def compare_with_torch(got: dict, want: dict, common):
    """Our gradients (the input's as the caller gets it) against torch's; a None gradient is one not asked for."""
    for name, g in got.items():
        if g is None:
            assert name.endswith("bias") and not common.get(name, False), name
            continue
        if name == "input":
            g = g[None] if common["unbatched"] else g
            g = np.moveaxis(g, -1, 1) if common["last"] else g
        assert g.dtype == common["dtype"], name
        assert_close(g, want[name], common["dtype"])


def layout_of(common):
    return {"layout": "NHWC"} if common["last"] else {}


@given(data=st.data())
def test_separable_backward_matches_torch_autograd(data):
    """F.conv2d(groups=C) + depthwise bias + depthwise activation, then a 1x1 F.conv2d + bias + activation; every
    padding form and mode, stride, dilation, a channel multiplier, a 2-d or 4-d pointwise weight, the intermediate
    given or recomputed."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    channels, multiplier, c_out = (data.draw(st.integers(1, n)) for n in (3, 2, 3))
    size = tuple(data.draw(st.integers(2, 6)) for _ in range(2))
    kernel = tuple(data.draw(st.integers(1, 3)) for _ in range(2))
    options, pads = draw_geometry(data, size, kernel)
    common = draw_common(data)
    depthwise_act = data.draw(st.sampled_from(ACTIVATIONS), "depthwise_activation")
    depthwise_bias = data.draw(st.booleans(), "depthwise_bias")
    pointwise_4d = data.draw(st.booleans(), "4-d pointwise weight")
    give_mid = data.draw(st.booleans(), "intermediate given")
    c_mid = channels * multiplier
    leaves = dict(
        input=rand((1 if common["unbatched"] else 2, channels, *size), seed=40),
        depthwise_weight=rand((c_mid, 1, *kernel), seed=41),
        pointwise_weight=rand((c_out, c_mid, 1, 1) if pointwise_4d else (c_out, c_mid), seed=42),
        bias=rand((c_out,), seed=43),
        depthwise_bias=rand((c_mid,), seed=44),
    )

    def forward(t):
        x = torch_padded(torch, t["input"], pads, options["padding_mode"])
        db = t["depthwise_bias"] if depthwise_bias else None
        conv = dict(stride=options["stride"], dilation=options["dilation"], groups=channels)
        mid = torch_activation(torch, F.conv2d(x, t["depthwise_weight"], db, **conv), depthwise_act)
        pw = t["pointwise_weight"].reshape(c_out, c_mid, 1, 1)
        return torch_activation(torch, F.conv2d(mid, pw, t["bias"]), common["activation"]), mid

    y, mid, gy, want = torch_reference(torch, leaves, forward, 45)
    fused = dict(activation=common["activation"], output=caller(y, common)) if common["activation"] else {}
    got = grad.separable_conv2d_backward(
        caller(leaves["input"], common),
        leaves["depthwise_weight"].astype(common["dtype"]),
        leaves["pointwise_weight"].astype(common["dtype"]),
        caller(gy, common),
        bias=common["bias"],
        depthwise_bias=leaves["depthwise_bias"].astype(common["dtype"]) if depthwise_bias else None,
        depthwise_activation=depthwise_act,
        intermediate=caller(mid, common) if give_mid else None,
        negative_slope=0.2,
        **options,
        **layout_of(common),
        **fused,
    )
    names = ("input", "depthwise_weight", "pointwise_weight", "bias", "depthwise_bias")
    compare_with_torch(dict(zip(names, got)), want, dict(common, depthwise_bias=depthwise_bias))


@given(data=st.data())
def test_spatially_separable_backward_matches_torch_autograd(data):
    """A kH x 1 F.conv2d (the H parts of the geometry) then a 1 x kW one (the W parts) + bias + activation: every
    padding form and mode, stride, dilation, groups, flip, 3-d or 4-d weights."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    groups = data.draw(st.sampled_from([1, 2]), "groups")
    c_in, c_mid, c_out = (groups * data.draw(st.integers(1, 2)) for _ in range(3))
    size = tuple(data.draw(st.integers(2, 6)) for _ in range(2))
    kernel = tuple(data.draw(st.integers(1, 3)) for _ in range(2))
    options, pads = draw_geometry(data, size, kernel)
    flip = data.draw(st.booleans(), "flip")
    four_d = data.draw(st.booleans(), "4-d weights")
    common = draw_common(data)
    col_shape, row_shape = (c_mid, c_in // groups, kernel[0]), (c_out, c_mid // groups, kernel[1])
    leaves = dict(
        input=rand((1 if common["unbatched"] else 2, c_in, *size), seed=50),
        column_weight=rand((*col_shape, 1) if four_d else col_shape, seed=51),
        row_weight=rand((*row_shape[:2], 1, kernel[1]) if four_d else row_shape, seed=52),
        bias=rand((c_out,), seed=53),
    )

    def forward(t):
        col, row = t["column_weight"].reshape(*col_shape, 1), t["row_weight"].reshape(*row_shape[:2], 1, kernel[1])
        col, row = (w.flip((2, 3)) if flip else w for w in (col, row))
        (s_h, s_w), (d_h, d_w), mode = options["stride"], options["dilation"], options["padding_mode"]
        x = torch_padded(torch, t["input"], [pads[0], (0, 0)], mode)
        mid = F.conv2d(x, col, stride=(s_h, 1), dilation=(d_h, 1), groups=groups)
        mid = torch_padded(torch, mid, [(0, 0), pads[1]], mode)
        y = F.conv2d(mid, row, t["bias"], stride=(1, s_w), dilation=(1, d_w), groups=groups)
        return torch_activation(torch, y, common["activation"]), None

    y, _, gy, want = torch_reference(torch, leaves, forward, 54)
    fused = dict(activation=common["activation"], output=caller(y, common)) if common["activation"] else {}
    got = grad.spatially_separable_conv2d_backward(
        caller(leaves["input"], common),
        leaves["column_weight"].astype(common["dtype"]),
        leaves["row_weight"].astype(common["dtype"]),
        caller(gy, common),
        bias=common["bias"],
        groups=groups,
        flip=flip,
        negative_slope=0.2,
        **options,
        **layout_of(common),
        **fused,
    )
    compare_with_torch(dict(zip(("input", "column_weight", "row_weight", "bias"), got)), want, common)


@given(data=st.data())
def test_shuffle_conv_backward_matches_torch_autograd(data):
    """A grouped F.conv2d + bias, then F.channel_shuffle, then the activation: every padding form and mode,
    stride, dilation, flip."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    groups = data.draw(st.sampled_from([2, 3]), "groups")
    c_in, c_out = (groups * data.draw(st.integers(1, 2)) for _ in range(2))
    size = tuple(data.draw(st.integers(2, 6)) for _ in range(2))
    kernel = tuple(data.draw(st.integers(1, 3)) for _ in range(2))
    options, pads = draw_geometry(data, size, kernel)
    flip = data.draw(st.booleans(), "flip")
    common = draw_common(data)
    leaves = dict(
        input=rand((1 if common["unbatched"] else 2, c_in, *size), seed=60),
        weight=rand((c_out, c_in // groups, *kernel), seed=61),
        bias=rand((c_out,), seed=62),
    )

    def forward(t):
        w = t["weight"].flip((2, 3)) if flip else t["weight"]
        x = torch_padded(torch, t["input"], pads, options["padding_mode"])
        y = F.conv2d(x, w, t["bias"], stride=options["stride"], dilation=options["dilation"], groups=groups)
        return torch_activation(torch, F.channel_shuffle(y, groups), common["activation"]), None

    y, _, gy, want = torch_reference(torch, leaves, forward, 63)
    fused = dict(activation=common["activation"], output=caller(y, common)) if common["activation"] else {}
    got = grad.shuffle_conv2d_backward(
        caller(leaves["input"], common),
        leaves["weight"].astype(common["dtype"]),
        caller(gy, common),
        bias=common["bias"],
        groups=groups,
        flip=flip,
        negative_slope=0.2,
        **options,
        **layout_of(common),
        **fused,
    )
    compare_with_torch(dict(zip(("input", "weight", "bias"), got)), want, common)


@given(data=st.data())
def test_resize_conv_backward_matches_torch_autograd(data):
    """F.interpolate (nearest, bilinear, bicubic; align_corners) by integer scale factors, then F.conv2d + bias +
    activation: every padding form and mode, stride, dilation, groups."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    groups = data.draw(st.sampled_from([1, 2]), "groups")
    c_in, c_out = (groups * data.draw(st.integers(1, 2)) for _ in range(2))
    size = tuple(data.draw(st.integers(1, 4)) for _ in range(2))
    scale = tuple(data.draw(st.integers(1, 3)) for _ in range(2))
    mode = data.draw(st.sampled_from(["nearest", "bilinear", "bicubic"]), "mode")
    align_corners = None if mode == "nearest" else data.draw(st.booleans(), "align_corners")
    kernel = tuple(data.draw(st.integers(1, 3)) for _ in range(2))
    up = tuple(n * s for n, s in zip(size, scale))
    options, pads = draw_geometry(data, up, kernel)
    common = draw_common(data)
    leaves = dict(
        input=rand((1 if common["unbatched"] else 2, c_in, *size), seed=70),
        weight=rand((c_out, c_in // groups, *kernel), seed=71),
        bias=rand((c_out,), seed=72),
    )

    def forward(t):
        x = F.interpolate(t["input"], scale_factor=scale, mode=mode, align_corners=align_corners)
        x = torch_padded(torch, x, pads, options["padding_mode"])
        y = F.conv2d(x, t["weight"], t["bias"], stride=options["stride"], dilation=options["dilation"], groups=groups)
        return torch_activation(torch, y, common["activation"]), None

    y, _, gy, want = torch_reference(torch, leaves, forward, 73)
    fused = dict(activation=common["activation"], output=caller(y, common)) if common["activation"] else {}
    got = grad.resize_conv2d_backward(
        caller(leaves["input"], common),
        leaves["weight"].astype(common["dtype"]),
        caller(gy, common),
        bias=common["bias"],
        scale_factor=scale,
        mode=mode,
        align_corners=align_corners,
        groups=groups,
        negative_slope=0.2,
        **options,
        **layout_of(common),
        **fused,
    )
    compare_with_torch(dict(zip(("input", "weight", "bias"), got)), want, common)


# ---- central finite differences ----

SEP_KW = dict(stride=2, padding=1, padding_mode="reflect", depthwise_activation="tanh", activation="sigmoid")
SPATIAL_KW = dict(groups=2, stride=(1, 2), padding="same", padding_mode="circular", flip=True, activation="tanh")
SHUFFLE_KW = dict(groups=2, stride=(2, 1), padding=((1, 0), (1, 1)), padding_mode="replicate", activation="tanh")
RESIZE_KW = dict(scale_factor=(2, 3), mode="bicubic", align_corners=False, stride=2, activation="sigmoid")
# op: (the forward's arrays, forward(arrays), backward(arrays, gy, y) -> gradients in the arrays' order)
FD_OPS = {
    "separable": (
        dict(x=(1, 2, 5, 4), dw=(4, 1, 3, 2), pw=(3, 4), b=(3,), db=(4,)),
        lambda a: numbaconv.separable_conv2d(a["x"], a["dw"], a["pw"], a["b"], depthwise_bias=a["db"], **SEP_KW),
        lambda a, gy, y: grad.separable_conv2d_backward(
            a["x"], a["dw"], a["pw"], gy, depthwise_bias=a["db"], output=y, **SEP_KW
        ),
    ),
    "spatially_separable": (
        dict(x=(2, 2, 4, 5), col=(4, 1, 3), row=(2, 2, 2), b=(2,)),
        lambda a: numbaconv.spatially_separable_conv2d(a["x"], a["col"], a["row"], a["b"], **SPATIAL_KW),
        lambda a, gy, y: grad.spatially_separable_conv2d_backward(
            a["x"], a["col"], a["row"], gy, output=y, **SPATIAL_KW
        ),
    ),
    "shuffle": (
        dict(x=(1, 4, 4, 4), w=(4, 2, 2, 3), b=(4,)),
        lambda a: numbaconv.shuffle_conv2d(a["x"], a["w"], a["b"], **SHUFFLE_KW),
        lambda a, gy, y: grad.shuffle_conv2d_backward(a["x"], a["w"], gy, output=y, **SHUFFLE_KW),
    ),
    "resize": (
        dict(x=(1, 2, 2, 3), w=(2, 2, 3, 2), b=(2,)),
        lambda a: numbaconv.resize_conv2d(a["x"], a["w"], a["b"], **RESIZE_KW),
        lambda a, gy, y: grad.resize_conv2d_backward(a["x"], a["w"], gy, output=y, **RESIZE_KW),
    ),
}


@pytest.mark.parametrize("op", FD_OPS)
def test_gradients_match_central_finite_differences(op):
    """d/dt <f(a + t da), gy> at t = 0 against the sum of <gradient, da> over every argument, in float64."""
    shapes, forward, backward = FD_OPS[op]
    arrays = {name: rand(shape, seed=80 + i) for i, (name, shape) in enumerate(shapes.items())}
    steps = {name: rand(shape, seed=90 + i) for i, (name, shape) in enumerate(shapes.items())}
    y = forward(arrays)
    gy = rand(y.shape, seed=99)
    grads = backward(arrays, gy, y)
    h = 1e-6

    def loss(t):
        return float(np.vdot(forward({name: a + t * steps[name] for name, a in arrays.items()}), gy))

    want = (loss(h) - loss(-h)) / (2 * h)
    got = sum(float(np.vdot(g, steps[name])) for g, name in zip(grads, arrays))
    assert got == pytest.approx(want, rel=1e-6, abs=1e-7)


# ---- call conventions ----

# op: (forward arrays, the _backward call on them, its keyword options)
SMALL = {
    "separable": (
        dict(x=(2, 2, 5, 5), dw=(4, 1, 3, 3), pw=(3, 4)),
        lambda a, gy, **kw: grad.separable_conv2d_backward(a["x"], a["dw"], a["pw"], gy, **kw),
        dict(padding=1, depthwise_activation="relu"),
    ),
    "spatially_separable": (
        dict(x=(2, 2, 5, 5), col=(2, 2, 3), row=(3, 2, 3)),
        lambda a, gy, **kw: grad.spatially_separable_conv2d_backward(a["x"], a["col"], a["row"], gy, **kw),
        dict(padding="same"),
    ),
    "shuffle": (
        dict(x=(2, 4, 5, 5), w=(4, 2, 3, 3)),
        lambda a, gy, **kw: grad.shuffle_conv2d_backward(a["x"], a["w"], gy, **kw),
        dict(groups=2, padding=1),
    ),
    "resize": (
        dict(x=(2, 2, 3, 3), w=(3, 2, 3, 3)),
        lambda a, gy, **kw: grad.resize_conv2d_backward(a["x"], a["w"], gy, **kw),
        dict(mode="bilinear"),
    ),
}
FORWARD = {
    "separable": lambda a, **kw: numbaconv.separable_conv2d(a["x"], a["dw"], a["pw"], **kw),
    "spatially_separable": lambda a, **kw: numbaconv.spatially_separable_conv2d(a["x"], a["col"], a["row"], **kw),
    "shuffle": lambda a, **kw: numbaconv.shuffle_conv2d(a["x"], a["w"], **kw),
    "resize": lambda a, **kw: numbaconv.resize_conv2d(a["x"], a["w"], **kw),
}


def small(op, dtype=np.float64, batch=None):
    shapes, backward, kw = SMALL[op]
    arrays = {
        k: rand(s if k != "x" or batch is None else (batch, *s[1:]), dtype, 100 + i)
        for i, (k, s) in enumerate(shapes.items())
    }
    y = FORWARD[op](arrays, **kw)
    return arrays, rand(y.shape, dtype, 110), backward, kw


@pytest.mark.parametrize("op", SMALL)
def test_unbatched_input_gives_unbatched_gradients_and_fills_out(backend, op):
    """(C, H, W) arrays give an unbatched input gradient equal to the batch of one's, into an unbatched out= too."""
    arrays, gy, backward, kw = small(op, batch=1)
    want = backward(arrays, gy, **kw)
    unbatched = {k: to_backend(backend, a[0] if k == "x" else a) for k, a in arrays.items()}
    got = [to_host(backend, g) for g in backward(unbatched, to_backend(backend, gy[0]), **kw) if g is not None]
    assert got[0].shape == arrays["x"].shape[1:]
    for g, w in zip(got, want):
        assert_close(g, w[0] if g.shape != w.shape else w)
    name = {"spatially_separable": "spatially_separable_conv2d", "separable": "separable_conv2d"}.get(
        op, f"{op}_conv2d"
    )
    weights = [to_backend(backend, a) for k, a in arrays.items() if k != "x"]
    out = to_backend(backend, np.full(arrays["x"].shape[1:], np.nan))
    options = {k: v for k, v in kw.items() if k != "depthwise_activation"}
    if op == "separable":  # the input gradient alone needs the intermediate to undo depthwise_activation
        mid = numbaconv.depthwise_conv2d(arrays["x"][0], arrays["dw"], padding=1, activation="relu")
        options.update(depthwise_activation="relu", intermediate=to_backend(backend, mid))
    result = getattr(grad, f"{name}_input")(
        arrays["x"].shape[1:], *weights, to_backend(backend, gy[0]), **options, out=out
    )
    assert result is out
    assert_close(to_host(backend, out), want[0][0])


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
@pytest.mark.parametrize("op", SMALL)
def test_float16_computes_in_float32_and_torch_tensors_come_back(op, dtype):
    """float16 arrays give float16 gradients (computed in float32, intermediates too); torch CPU tensors give
    torch tensors of the same values."""
    arrays, gy, backward, kw = small(op, dtype)
    got = backward(arrays, gy, **kw)
    want = backward({k: a.astype(np.float64) for k, a in arrays.items()}, gy.astype(np.float64), **kw)
    for g, w in zip(got, want):
        if w is not None:
            assert g.dtype == dtype
            assert_close(g, w, dtype)
    if dtype == np.float32:
        torch = pytest.importorskip("torch")
        tensors = backward({k: torch.from_numpy(a) for k, a in arrays.items()}, torch.from_numpy(gy), **kw)
        for t, g in zip(tensors, got):
            if g is not None:
                assert isinstance(t, torch.Tensor)
                np.testing.assert_array_equal(t.numpy(), g)


@pytest.mark.parametrize("op", SMALL)
def test_empty_batch_and_integer_input(op):
    """N = 0: an empty input gradient, zero weight and bias gradients. Integer input with dtype=: float results."""
    arrays, gy, backward, kw = small(op)
    empty = {k: a[:0] if k == "x" else a for k, a in arrays.items()}
    got = backward(empty, gy[:0], **kw)
    assert got[0].shape == (0, *arrays["x"].shape[1:])
    assert all(not g.any() for g in got[1:] if g is not None)
    ints = {k: np.round(a * 4).astype(np.int32) for k, a in arrays.items()}
    got = backward(ints, np.round(gy * 4).astype(np.int16), dtype=np.float64, **kw)
    want = backward({k: a.astype(np.float64) for k, a in ints.items()}, np.round(gy * 4), **kw)
    for g, w in zip(got, want):
        if w is not None:
            assert g.dtype == np.float64
            assert_close(g, w)


def test_public_api_conventions():
    """Every two-step gradient has a typed signature and a runnable example; the arrays come in the forward's
    order (torch.nn.grad's for the one-weight ops), and the two-weight ops return their weights' gradients as a
    pair (`_weights`)."""
    expected = {
        "input": ["input_size", "weight", "grad_output"],
        "weight": ["input", "weight_size", "grad_output"],
        "backward": ["input", "weight", "grad_output"],
        "bias": ["grad_output", "layout", "activation"],
    }
    pairs = {
        "separable_conv2d": ("depthwise_weight", "pointwise_weight"),
        "spatially_separable_conv2d": ("column_weight", "row_weight"),
    }
    for op in ("separable_conv2d", "spatially_separable_conv2d", "shuffle_conv2d", "resize_conv2d"):
        for kind in ("input", "weights" if op in pairs else "weight", "bias", "backward"):
            f = getattr(grad, f"{op}_{kind}")
            assert f.__name__ in grad.__all__ and ">>> " in f.__doc__, f.__name__
            signature = inspect.signature(f)
            assert signature.return_annotation is not inspect.Signature.empty, f.__name__
            names = list(signature.parameters)
            if op in pairs and kind != "bias":
                first = {"input": "input_size"}.get(kind, "input")
                assert names[:4] == [first, *pairs[op], "grad_output"], f.__name__
            elif op == "shuffle_conv2d" and kind == "bias":
                assert names[:3] == ["grad_output", "groups", "layout"]
            else:
                assert names[:3] == expected[kind], f.__name__


# ---- errors ----

X, DW, PW, GY = np.ones((1, 2, 5, 5)), np.ones((2, 1, 3, 3)), np.ones((3, 2)), np.ones((1, 3, 3, 3))
W, GS, WR, GR = np.ones((4, 1, 3, 3)), np.ones((1, 4, 3, 3)), np.ones((3, 2, 3, 3)), np.ones((1, 3, 10, 10))
COL, ROW = np.ones((2, 2, 3)), np.ones((3, 2, 3))
ERRORS = [
    (lambda: grad.separable_conv2d_input(X.shape, DW, PW, np.ones((1, 3, 5, 5))), ValueError,
     r"separable_conv2d_input: grad_output.shape=\(1, 3, 5, 5\) must equal the forward's output shape \(1, 3, 3, 3\) \(input \(1, 2, 5, 5\)"),
    (lambda: grad.separable_conv2d_input(X.shape, DW, PW, GY, depthwise_activation="relu"), ValueError,
     r"separable_conv2d_input: depthwise_activation='relu' needs intermediate=, the depthwise step's output"),
    (lambda: grad.separable_conv2d_input(X.shape, DW, PW, GY, intermediate=np.ones((1, 2, 3, 3))), ValueError,
     r"separable_conv2d_input: intermediate= is read only with depthwise_activation= here"),
    (lambda: grad.separable_conv2d_weights(X, DW, PW, GY, intermediate=X), ValueError,
     r"separable_conv2d_weights: intermediate.shape=\(1, 2, 5, 5\) must equal the first step's output shape \(1, 2, 3, 3\)"),
    (lambda: grad.separable_conv2d_weights(X, np.ones((2, 2, 3, 3)), PW, GY), ValueError,
     r"separable_conv2d_weights: depthwise_weight.shape\[1\]=2 must be 1"),
    (lambda: grad.separable_conv2d_backward(X, DW, PW, GY, depthwise_activation="gelu"), ValueError,
     r"separable_conv2d_backward: depthwise_activation='gelu' is not one of None, 'relu'"),
    (lambda: grad.separable_conv2d_backward(X, DW, PW, GY, depthwise_activation="leaky_relu", negative_slope=-1), ValueError,
     r"separable_conv2d_backward: negative_slope=-1 must be >= 0 with depthwise_activation='leaky_relu'"),
    (lambda: grad.separable_conv2d_backward(X, DW, PW, GY, depthwise_bias=np.ones(3)), ValueError,
     r"separable_conv2d_backward: depthwise_bias.shape=\(3,\) must be \(out_channels,\) = \(2,\)"),
    (lambda: grad.separable_conv2d_backward(X, DW, np.ones((3, 4)), GY), ValueError,
     r"separable_conv2d_backward: weight.shape\[1\]=4 must equal in_channels / groups = 2"),
    (lambda: grad.separable_conv2d_backward(X, DW, PW, GY.astype(np.complex64)), TypeError,
     r"separable_conv2d_backward: grad_output dtype complex64 is not supported"),
    (lambda: grad.separable_conv2d_backward(X, DW, PW, GY, activation="tanh"), ValueError,
     r"separable_conv2d_backward: activation='tanh' needs output="),
    (lambda: grad.spatially_separable_conv2d_weights(X, np.ones((2, 2, 3, 3)), ROW, GY), ValueError,
     r"spatially_separable_conv2d_weights \(column pass\): column_weight.shape=\(2, 2, 3, 3\) must be \(C_mid, C_in/groups, kH\)"),
    (lambda: grad.spatially_separable_conv2d_backward(X, COL, np.ones((3, 3, 3)), GY), ValueError,
     r"spatially_separable_conv2d_backward \(row pass\): weight.shape\[1\]=3 must equal in_channels / groups = 2"),
    (lambda: grad.spatially_separable_conv2d_input(X.shape, COL, ROW, GY, activation="tanh", output=np.ones((1, 3, 4, 4))), ValueError,
     r"spatially_separable_conv2d_input: output.shape=\(1, 3, 4, 4\) must equal the forward's output shape \(1, 3, 3, 3\)"),
    (lambda: grad.spatially_separable_conv2d_weights(X, COL, ROW, GY, intermediate=X), ValueError,
     r"spatially_separable_conv2d_weights: intermediate.shape=\(1, 2, 5, 5\) must equal the first step's output shape \(1, 2, 3, 5\)"),
    (lambda: grad.shuffle_conv2d_input(X.shape, W, GS), TypeError, r"missing 1 required keyword-only argument: 'groups'"),
    (lambda: grad.shuffle_conv2d_weight(np.ones((1, 3, 5, 5)), (3, 1, 3, 3), GY, groups=2), ValueError,
     r"shuffle_conv2d_weight: groups=2 must divide in_channels=3"),
    (lambda: grad.shuffle_conv2d_bias(GY, groups=2), ValueError, r"shuffle_conv2d_bias: groups=2 must divide the number of channels 3"),
    (lambda: grad.shuffle_conv2d_bias(np.ones((3, 3)), groups=3), ValueError,
     r"shuffle_conv2d_bias: grad_output must be 4-d or 3-d unbatched, got shape \(3, 3\)"),
    (lambda: grad.shuffle_conv2d_bias(GS, groups=2, activation="relu", output=np.ones((1, 4, 3, 2))), ValueError,
     r"shuffle_conv2d_bias: output.shape=\(1, 4, 3, 2\) must equal grad_output.shape=\(1, 4, 3, 3\)"),
    (lambda: grad.shuffle_conv2d_weight(X, np.ones(4), GS, groups=2), TypeError,
     r"shuffle_conv2d_weight: weight_size=array\(.*must be a shape: a sequence of ints"),
    (lambda: grad.shuffle_conv2d_input(X.shape, W, GS, groups=2, out=np.ones((1, 2, 5, 5), np.float32)), TypeError,
     r"shuffle_conv2d_input: out.dtype=float32 must equal the result dtype float64"),
    (lambda: grad.resize_conv2d_backward(X, WR, GR, mode="area"), ValueError,
     r"resize_conv2d_backward: mode='area' is not one of 'nearest', 'bilinear', 'bicubic'"),
    (lambda: grad.resize_conv2d_backward(X, WR, GR, align_corners=True), ValueError,
     r"resize_conv2d_backward: align_corners=True applies only to the interpolating modes"),
    (lambda: grad.resize_conv2d_backward(X, WR, GR, scale_factor=0), ValueError, r"resize_conv2d_backward: scale_factor=0 must be positive"),
    (lambda: grad.resize_conv2d_weight(X, WR.shape, GY), ValueError,
     r"resize_conv2d_weight: grad_output.shape=\(1, 3, 3, 3\) must equal the forward's output shape \(1, 3, 10, 10\)"),
    (lambda: grad.resize_conv2d_input((2, 5, 5), WR, GR), ValueError, r"resize_conv2d_input: input_size=\(2, 5, 5\) must have 4 dims"),
    (lambda: grad.resize_conv2d_input(X.shape, WR, GR, out=np.ones((1, 2, 10, 10))), ValueError,
     r"resize_conv2d_input: out.shape=\(1, 2, 10, 10\) must equal the result shape \(1, 2, 5, 5\)"),
    (lambda: grad.resize_conv2d_input(X.shape, WR, GR, stream=1), ValueError, r"resize_conv2d_input: stream=1 applies to CUDA arrays only"),
    (lambda: grad.resize_conv2d_weight(X.astype(np.int8), WR.shape, GR), TypeError,
     r"resize_conv2d_weight: integer input \(int8\) needs an explicit accumulate dtype"),
]  # fmt: skip


@pytest.mark.parametrize("call,error,match", ERRORS, ids=[f"error{i}" for i in range(len(ERRORS))])
def test_bad_input_is_refused_before_any_kernel(call, error, match, monkeypatch):
    """Each error is raised before any kernel runs (every launcher of the gradients' steps refuses to run)."""
    from numbaconv import _grad_conv

    def refuse(*args, **kwargs):
        raise AssertionError("a kernel ran before the error")

    for name in ("input_grad", "weight_grad", "bias_grad", "activation_grad"):
        monkeypatch.setattr(_grad_conv, name, refuse)
    with pytest.raises(error, match=match):
        call()


@pytest.mark.cuda
def test_cuda_errors():
    from numba import cuda

    with pytest.raises(
        TypeError, match=r"separable_conv2d_backward: .* is a host \(NumPy\) array but .* is a CUDA array"
    ):
        grad.separable_conv2d_backward(X, cuda.to_device(DW), PW, GY)
    with pytest.raises(TypeError, match=r"resize_conv2d_input: .* is a CUDA array"):
        grad.resize_conv2d_input(X.shape, WR, cuda.to_device(GR))


# ---- warmup and the bench's backward rows ----


def test_warmup_grad_runs_every_cpu_gradient_kernel(monkeypatch, capsys):
    """`python -m numbaconv warmup --ops grad` launches every CPU gradient kernel: the activation's derivative, the
    padding fold, the channel sums, both transpose-conv kernels (conv input gradients) and every pooling gradient
    kernel."""
    from numbaconv import _launch_grad_pool, _launch_transpose
    from numbaconv.__main__ import main
    from numbaconv.kernels import grad_conv
    from numbaconv.warmup import plan

    ran = set()

    def counting(real, name):
        def count(*args, **kwargs):
            ran.add(name)
            return real(*args, **kwargs)

        return count

    expected = set()
    for table in (_launch_grad_pool.LAUNCHERS, _launch_transpose.LAUNCHERS):
        for key, real in list(table.items()):
            if key[1] == "cpu":
                monkeypatch.setitem(table, key, counting(real, key))
                expected.add(key)
    for name in ("activation_backward_cpu", "fold_padding_cpu", "channel_sum_cpu"):
        monkeypatch.setattr(grad_conv, name, counting(getattr(grad_conv, name), name))
        expected.add(name)
    for _, call in plan(["grad"], ["float64"], ["first"]):
        call()
    assert ran == expected
    assert main(["warmup", "--ops", "grad", "--dtypes", "float64", "--layouts", "last"]) == 0
    assert "12 steps compiled" in capsys.readouterr().out


@pytest.mark.parametrize(
    "make",
    [
        lambda b: b.conv_backward_case("t", (2, 4, 6, 6), (4, 4, 3, 3), padding=1),
        lambda b: b.conv_backward_case("t", (2, 6, 6, 5), (6, 1, 3, 3), padding=1, groups=6),
        lambda b: b.conv_backward_case(
            "t", (2, 4, 5, 5), (4, 2, 3, 3), transpose=True, stride=2, padding=1, output_padding=1
        ),
        lambda b: b.pool_backward_case("t", (2, 3, 8, 6), "max", 2),
        lambda b: b.pool_backward_case("t", (2, 3, 8, 6), "avg", 2),
    ],
    ids=["conv", "depthwise", "transpose", "max_pool", "avg_pool"],
)
def test_bench_backward_rows_run_and_agree_with_torch(make):
    """The bench's backward rows, built on tiny shapes: numbaconv's timed call and torch's compute the same
    gradients, and the registry has the five rows."""
    torch = pytest.importorskip("torch")
    from numbaconv import bench

    calls = make(bench).make()
    ours, theirs = calls["numbaconv"](), calls["torch"](torch)()
    ours = ours if isinstance(ours, tuple) else (ours,)
    assert len(ours) == len(theirs)
    for a, t in zip(ours, theirs):
        assert_close(a, t.numpy().astype(np.float64), np.float32)
    assert calls["bytes"] > 0 and "numbaconv" in calls
    assert len([c for c in bench.CASES.values() if c.family == "backward"]) == 5
