"""numbaconv.grad, the convolution family: every gradient against tests/reference.py (loops written from the
definition) and against torch autograd, central finite differences, the adjoint identities, activation_backward at
its kinks, unbatched input, out= and dtype=, determinism and every error; CPU and CUDA (simulator: batch-1 cases,
small blocks)."""

import inspect

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import numbaconv
from numbaconv import _grad_pool, grad

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
    to_backend,
    to_host,
    torch_activation,
    torch_padded,
)

ACTIVATIONS = [None, "relu", "relu6", "leaky_relu", "sigmoid", "tanh"]
CONV = {1: numbaconv.conv1d, 2: numbaconv.conv2d, 3: numbaconv.conv3d}
CONV_T = {1: numbaconv.conv_transpose1d, 2: numbaconv.conv_transpose2d, 3: numbaconv.conv_transpose3d}
# family -> nd -> (input, weight, bias, backward)
GRADS = {
    "conv": {
        nd: tuple(getattr(grad, f"conv{nd}d_{kind}") for kind in ("input", "weight", "bias", "backward"))
        for nd in (1, 2, 3)
    },
    "transpose": {
        nd: tuple(getattr(grad, f"conv_transpose{nd}d_{kind}") for kind in ("input", "weight", "bias", "backward"))
        for nd in (1, 2, 3)
    },
    "depthwise": {
        2: tuple(getattr(grad, f"depthwise_conv2d_{kind}") for kind in ("input", "weight", "bias", "backward"))
    },
    "pointwise": {
        2: tuple(getattr(grad, f"pointwise_conv2d_{kind}") for kind in ("input", "weight", "bias", "backward"))
    },
}

CONV_CASES = [
    Case("1d_basic", (2, 3, 7), (4, 3, 3)),
    Case("1d_stride_dilation_pairs", (2, 2, 9), (2, 2, 3), dict(stride=2, dilation=2, padding=((2, 1),))),
    Case("1d_same_stride_reflect", (1, 2, 8), (3, 2, 4), dict(stride=3, padding="same", padding_mode="reflect")),
    Case(
        "2d_groups_replicate",
        (2, 4, 5, 6),
        (6, 2, 3, 2),
        dict(groups=2, stride=(2, 1), padding=(2, 1), padding_mode="replicate"),
    ),
    Case(
        "2d_circular_flip_dilation",
        (1, 3, 5, 5),
        (2, 3, 3, 3),
        dict(padding=((3, 1), (2, 2)), padding_mode="circular", dilation=(1, 2), flip=True),
    ),
    Case("2d_unread_tail", (1, 2, 7, 6), (2, 2, 2, 3), dict(stride=(3, 2))),  # pixels past the last window
    Case("2d_same_lower_flip", (2, 2, 5, 4), (2, 2, 3, 2), dict(padding="same_lower", flip=True)),
    Case("2d_full_reflect_stride", (1, 2, 4, 5), (3, 2, 2, 3), dict(padding="full", padding_mode="reflect", stride=2)),
    Case("2d_depthwise", (1, 3, 6, 5), (6, 1, 3, 3), dict(groups=3, stride=2, padding=1, padding_mode="reflect")),
    Case("2d_pointwise", (2, 4, 3, 3), (5, 4, 1, 1)),
    Case("2d_channels_8", (1, 8, 5, 5), (8, 8, 3, 3), dict(padding=1)),  # the adjoint's GEMM-sized paths
    Case(
        "3d_replicate",
        (1, 2, 4, 3, 4),
        (3, 2, 2, 3, 2),
        dict(stride=(1, 2, 1), padding=(1, 0, 1), padding_mode="replicate"),
    ),
    Case(
        "3d_groups_flip_same",
        (2, 4, 3, 4, 3),
        (4, 2, 2, 2, 2),
        dict(groups=2, dilation=(1, 2, 1), flip=True, padding="same"),
    ),
]

T_CASES = [
    Case("1d_stride_dilation_outpad", (1, 2, 5), (2, 3, 3), dict(stride=3, dilation=2, padding=2, output_padding=2)),
    Case("1d_same", (2, 2, 4), (2, 2, 2), dict(stride=3, padding="same")),
    Case(
        "2d_pairs_outpad",
        (1, 3, 3, 4),
        (3, 2, 3, 2),
        dict(stride=(2, 3), padding=((2, 0), (1, 3)), output_padding=(1, 0)),
    ),
    # output_padding beyond the end crop: the adjoint conv's output is cut back to the input
    Case(
        "2d_outpad_past_crop", (2, 2, 3, 4), (2, 3, 2, 3), dict(stride=(1, 2), dilation=(3, 1), output_padding=(2, 1))
    ),
    Case("2d_groups_output_size", (1, 4, 3, 3), (4, 2, 3, 3), dict(groups=2, stride=2, padding=1, output_size=(6, 6))),
    Case("2d_depthwise", (1, 4, 4, 3), (4, 1, 3, 3), dict(groups=4, stride=2, padding=1, output_padding=1)),
    Case("2d_channels_8", (1, 8, 4, 4), (8, 8, 3, 3), dict(padding=1)),  # the adjoint conv's GEMM-sized paths
    Case("3d_same_groups", (1, 4, 2, 3, 2), (4, 1, 2, 3, 2), dict(stride=2, groups=2, padding="same")),
]


# ---- reference geometry ----


def conv_pads(case):
    kw = case.kw
    return reference_pads(case.x[2:], case.w[2:], kw.get("padding", 0), kw.get("stride", 1), kw.get("dilation", 1))


def conv_reference(case, x, w, gy):
    """(grad_input, grad_weight) of a conv case from tests/reference.py."""
    kw = case.kw
    return ref.conv_grads(
        x,
        w,
        gy,
        kw.get("stride", 1),
        conv_pads(case),
        kw.get("dilation", 1),
        kw.get("groups", 1),
        kw.get("padding_mode", "zeros"),
        kw.get("flip", False),
    )


def conv_forward(case, x, w, b=None, activation=None):
    kw = case.kw
    return ref.conv(
        x,
        w,
        b,
        kw.get("stride", 1),
        conv_pads(case),
        kw.get("dilation", 1),
        kw.get("groups", 1),
        kw.get("padding_mode", "zeros"),
        kw.get("flip", False),
        act=activation,
        negative_slope=0.2,
    )


def transpose_geometry(case):
    """(pads, output_padding) of a transpose case, "same" and output_size resolved from their definitions."""
    kw, nd = case.kw, case.nd
    stride, dilation = (np.broadcast_to(kw.get(k, 1), (nd,)) for k in ("stride", "dilation"))
    dims = list(zip(case.x[2:], case.w[2:], stride, dilation))
    if kw.get("padding") == "same":
        pads = [ref.same_pads(n * s, k, s, d) for n, k, s, d in dims]
        base = [(n - 1) * s + d * (k - 1) + 1 - lo - hi for (n, k, s, d), (lo, hi) in zip(dims, pads)]
        return pads, tuple(n * s - b for (n, _, s, _), b in zip(dims, base))
    pads = reference_pads(case.x[2:], case.w[2:], kw.get("padding", 0))
    if "output_size" in kw:
        base = [(n - 1) * s + d * (k - 1) + 1 - lo - hi for (n, k, s, d), (lo, hi) in zip(dims, pads)]
        return pads, tuple(o - b for o, b in zip(kw["output_size"], base))
    return pads, kw.get("output_padding", 0)


def transpose_reference(case, x, w, gy):
    pads, output_padding = transpose_geometry(case)
    kw = case.kw
    return ref.conv_transpose_grads(
        x, w, gy, kw.get("stride", 1), pads, output_padding, kw.get("dilation", 1), kw.get("groups", 1)
    )


def transpose_forward(case, x, w, b=None, activation=None):
    pads, output_padding = transpose_geometry(case)
    kw = case.kw
    return ref.conv_transpose(
        x,
        w,
        b,
        kw.get("stride", 1),
        pads,
        output_padding,
        kw.get("dilation", 1),
        kw.get("groups", 1),
        act=activation,
        negative_slope=0.2,
    )


FAMILY = {"conv": (conv_forward, conv_reference), "transpose": (transpose_forward, transpose_reference)}


def layout_kw(case, layout):
    return dict(case.kw, layout=LAYOUT_LAST[case.nd]) if layout == "last" else dict(case.kw)


# ---- against the reference ----


def check_input_and_weight(backend, family, case, dtype, layout):
    case = case.on(backend)
    forward, reference = FAMILY[family]
    last = layout == "last"
    x, w = rand(case.x, dtype, 1), rand(case.w, dtype, 2)
    gy = rand(forward(case, x, w).shape, dtype, 3)
    want_x, want_w = reference(case, x, w, gy)
    grad_input, grad_weight = GRADS[family][case.nd][:2]
    xb, gyb = to_backend(backend, x, last), to_backend(backend, gy, last)
    kw = layout_kw(case, layout)
    gx = to_host(backend, grad_input(tuple(xb.shape), to_backend(backend, w), gyb, **kw), last)
    gw = to_host(backend, grad_weight(xb, w.shape, gyb, **kw))
    assert gx.dtype == dtype and gw.dtype == dtype
    assert_close(gx, want_x, dtype)
    assert_close(gw, want_w, dtype)


# CPU: every case x float32/float64 x layout; CUDA: every case in float32, every third channels-last in float64.
@over_backends(
    "case,dtype,layout",
    [(c, d, lay) for c in CONV_CASES for d in (np.float32, np.float64) for lay in LAYOUTS],
    [(c, np.float32, "first") for c in CONV_CASES] + [(c, np.float64, "last") for c in CONV_CASES[::3]],
)
def test_conv_input_and_weight_grads_match_reference(backend, case, dtype, layout):
    check_input_and_weight(backend, "conv", case, dtype, layout)


@over_backends(
    "case,dtype,layout",
    [(c, d, lay) for c in T_CASES for d in (np.float32, np.float64) for lay in LAYOUTS],
    [(c, np.float32, "first") for c in T_CASES] + [(c, np.float64, "last") for c in T_CASES[::3]],
)
def test_conv_transpose_input_and_weight_grads_match_reference(backend, case, dtype, layout):
    check_input_and_weight(backend, "transpose", case, dtype, layout)


def check_backward(backend, family, case, activation, layout, dtype=np.float64):
    """`_backward` with a fused activation against the reference: gy times the derivative at the forward's output,
    then the reference gradients (the bias's: its channel sums)."""
    case = case.on(backend)
    forward, reference = FAMILY[family]
    last = layout == "last"
    x, w = rand(case.x, dtype, 4), rand(case.w, dtype, 5)
    channels = forward(case, x, w).shape[1]
    b = rand((channels,), dtype, 6)
    y = forward(case, x, w, b, activation).astype(dtype)
    gy = rand(y.shape, dtype, 7)
    g = gy * ref.activation_derivative(y, activation, 0.2)
    want_x, want_w = reference(case, x, w, g)
    fused = dict(activation=activation, output=to_backend(backend, y, last), negative_slope=0.2) if activation else {}
    got = GRADS[family][case.nd][3](
        to_backend(backend, x, last),
        to_backend(backend, w),
        to_backend(backend, gy, last),
        **layout_kw(case, layout),
        **fused,
    )
    gx, gw, gb = (to_host(backend, a, last and i == 0) for i, a in enumerate(got))
    assert_close(gx, want_x, dtype)
    assert_close(gw, want_w, dtype)
    assert_close(gb, g.sum(axis=(0, *range(2, g.ndim))), dtype)


@over_backends(
    "case,activation,layout",
    [(c, a, lay) for c in (CONV_CASES[1], CONV_CASES[4], CONV_CASES[12]) for a in ACTIVATIONS for lay in LAYOUTS],
    [(CONV_CASES[i % 4 * 3], a, LAYOUTS[i % 2]) for i, a in enumerate(ACTIVATIONS)],
)
def test_conv_backward_with_activation_matches_reference(backend, case, activation, layout):
    check_backward(backend, "conv", case, activation, layout)


@over_backends(
    "case,activation,layout",
    [(c, a, lay) for c in (T_CASES[0], T_CASES[3], T_CASES[7]) for a in ACTIVATIONS for lay in LAYOUTS],
    [(T_CASES[i % 4 * 2], a, LAYOUTS[i % 2]) for i, a in enumerate(ACTIVATIONS)],
)
def test_conv_transpose_backward_with_activation_matches_reference(backend, case, activation, layout):
    check_backward(backend, "transpose", case, activation, layout)


DEPTHWISE = Case(
    "depthwise", (2, 3, 6, 5), (6, 1, 3, 2), dict(stride=(2, 1), padding=1, padding_mode="circular", flip=True)
)
POINTWISE = Case("pointwise", (2, 6, 3, 4), (4, 3, 1, 1), dict(groups=2))


@over_backends(
    "family,layout,dtype",
    [(f, lay, d) for f in ("depthwise", "pointwise") for lay in LAYOUTS for d in (np.float32, np.float64)],
    [("depthwise", "first", np.float32), ("pointwise", "last", np.float64)],
)
def test_depthwise_and_pointwise_grads_match_reference(backend, family, layout, dtype):
    """Their own functions: groups taken from the input (depthwise), a 2-d (C_out, C_in / groups) weight
    (pointwise), the activation applied once in `_backward`."""
    case = (DEPTHWISE if family == "depthwise" else POINTWISE).on(backend)
    last = layout == "last"
    grad_input, grad_weight, grad_bias, backward = GRADS[family][2]
    kw = dict(case.kw, groups=case.x[1]) if family == "depthwise" else dict(case.kw)
    conv_case = Case(case.name, case.x, case.w, kw)
    x, w = rand(case.x, dtype, 8), rand(case.w, dtype, 9)
    y = conv_forward(conv_case, x, w, None, "tanh").astype(dtype)
    gy = rand(y.shape, dtype, 10)
    g = gy * ref.activation_derivative(y, "tanh")
    want_x, want_w = conv_reference(conv_case, x, w, g)
    options = {k: v for k, v in case.kw.items()}
    if last:
        options["layout"] = "NHWC"
    wu = w.reshape(w.shape[:2]) if family == "pointwise" else w  # the pointwise weight as (C_out, C_in / groups)
    xb, wb, gyb, yb = (
        to_backend(backend, x, last),
        to_backend(backend, wu),
        to_backend(backend, gy, last),
        to_backend(backend, y, last),
    )
    fused = dict(activation="tanh", output=yb)
    assert_close(to_host(backend, grad_input(tuple(xb.shape), wb, gyb, **options, **fused), last), want_x, dtype)
    gw = to_host(backend, grad_weight(xb, wu.shape, gyb, **options, **fused))
    assert gw.shape == wu.shape
    assert_close(gw.reshape(w.shape), want_w, dtype)
    layout_only = {"layout": "NHWC"} if last else {}
    assert_close(to_host(backend, grad_bias(gyb, **layout_only, **fused)), g.sum(axis=(0, 2, 3)), dtype)
    gx, gw, gb = (to_host(backend, a, last and i == 0) for i, a in enumerate(backward(xb, wb, gyb, **options, **fused)))
    assert_close(gx, want_x, dtype)
    assert_close(gw.reshape(w.shape), want_w, dtype)
    assert_close(gb, g.sum(axis=(0, 2, 3)), dtype)


# ---- against torch autograd ----


def draw_common(data):
    return dict(
        layout=data.draw(st.sampled_from(LAYOUTS), "layout"),
        dtype=data.draw(st.sampled_from([np.float32, np.float64]), "dtype"),
        activation=data.draw(st.sampled_from(ACTIVATIONS), "activation"),
        bias=data.draw(st.booleans(), "bias"),
        unbatched=data.draw(st.booleans(), "unbatched"),
    )


def run_backward_against_torch(torch, backward, x, w, b, torch_forward, kw, common):
    """Our `_backward` (output= torch's own forward output, so that a kink is decided as torch decides it) against
    torch autograd in float64, in the drawn layout, dtype, batching and bias."""
    dtype, activation, last = common["dtype"], common["activation"], common["layout"] == "last"
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    bt = torch.tensor(b, requires_grad=True)
    yt = torch_activation(torch, torch_forward(xt, wt, bt), activation)
    gy = rand(tuple(yt.shape), np.float64, 23)
    yt.backward(torch.tensor(gy))
    y = yt.detach().numpy()
    nd = x.ndim - 2

    def arg(a):
        a = np.moveaxis(a, 1, -1) if last else a
        return np.ascontiguousarray((a[0] if common["unbatched"] else a).astype(dtype))

    options = dict(kw, layout=LAYOUT_LAST[nd]) if last else dict(kw)
    if activation:
        options.update(activation=activation, output=arg(y), negative_slope=0.2)
    weight = np.ascontiguousarray(w.astype(dtype))
    gx, gw, gb = backward(arg(x), weight, arg(gy), bias=common["bias"], **options)
    if common["unbatched"]:
        gx = gx[None]
    gx = np.moveaxis(gx, -1, 1) if last else gx
    assert gx.dtype == gw.dtype == dtype
    assert_close(gx, xt.grad.numpy(), dtype)
    assert_close(gw, wt.grad.numpy(), dtype)
    if common["bias"]:
        assert_close(gb, bt.grad.numpy(), dtype)
    else:
        assert gb is None


@given(data=st.data())
def test_conv_backward_matches_torch_autograd(data):
    """Random geometry with every option: stride, each padding form, padding_mode, dilation, groups, flip,
    layout, dtype, fused activation, bias, unbatched input."""
    torch = pytest.importorskip("torch")
    nd = data.draw(st.sampled_from([1, 2, 3]), "nd")
    groups = data.draw(st.sampled_from([1, 2]), "groups")
    c_in, c_out = groups * data.draw(st.integers(1, 2)), groups * data.draw(st.integers(1, 2))
    size = tuple(data.draw(st.integers(2, 6)) for _ in range(nd))
    kernel = tuple(data.draw(st.integers(1, 3)) for _ in range(nd))
    stride = tuple(data.draw(st.integers(1, 3)) for _ in range(nd))
    dilation = tuple(data.draw(st.integers(1, 2)) for _ in range(nd))
    mode = data.draw(st.sampled_from(["zeros", "reflect", "replicate", "circular"]), "padding_mode")
    form = data.draw(st.sampled_from(["int", "tuple", "pairs", "same", "same_lower", "valid"]), "padding form")
    pairs = [tuple(data.draw(st.integers(0, 2)) for _ in range(2)) for _ in range(nd)]
    padding = {
        "int": pairs[0][0],
        "tuple": tuple(p[0] for p in pairs),
        "pairs": tuple(pairs),
        "same": "same",
        "same_lower": "same_lower",
        "valid": "valid",
    }[form]
    pads = reference_pads(size, kernel, padding, stride, dilation)
    assume(all(n + lo + hi >= d * (k - 1) + 1 for n, (lo, hi), k, d in zip(size, pads, kernel, dilation)))
    assume(mode != "reflect" or all(max(p) < n for p, n in zip(pads, size)))
    assume(mode != "circular" or all(max(p) <= n for p, n in zip(pads, size)))
    flip = data.draw(st.booleans(), "flip")
    common = draw_common(data)
    batch = 1 if common["unbatched"] else 2
    x, w, b = (
        rand((batch, c_in, *size), seed=20),
        rand((c_out, c_in // groups, *kernel), seed=21),
        rand((c_out,), seed=22),
    )
    conv_t = getattr(torch.nn.functional, f"conv{nd}d")

    def forward(xt, wt, bt):
        wt = wt.flip(tuple(range(2, 2 + nd))) if flip else wt
        return conv_t(torch_padded(torch, xt, pads, mode), wt, bt, stride=stride, dilation=dilation, groups=groups)

    kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups, padding_mode=mode, flip=flip)
    run_backward_against_torch(torch, GRADS["conv"][nd][3], x, w, b, forward, kw, common)


@given(data=st.data())
def test_conv_transpose_backward_matches_torch_autograd(data):
    """Random transpose geometry: stride, padding, output_padding (up to max(stride, dilation) - 1) or the
    output_size it gives, dilation, groups, layout, dtype, fused activation, bias, unbatched input."""
    torch = pytest.importorskip("torch")
    nd = data.draw(st.sampled_from([1, 2, 3]), "nd")
    groups = data.draw(st.sampled_from([1, 2]), "groups")
    c_in, c_out = groups * data.draw(st.integers(1, 2)), groups * data.draw(st.integers(1, 2))
    size = tuple(data.draw(st.integers(1, 4)) for _ in range(nd))
    kernel = tuple(data.draw(st.integers(1, 3)) for _ in range(nd))
    stride = tuple(data.draw(st.integers(1, 3)) for _ in range(nd))
    dilation = tuple(data.draw(st.integers(1, 2)) for _ in range(nd))
    padding = tuple(data.draw(st.integers(0, 2)) for _ in range(nd))
    output_padding = tuple(data.draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
    out = [
        (n - 1) * s - 2 * p + d * (k - 1) + 1 + q
        for n, s, p, d, k, q in zip(size, stride, padding, dilation, kernel, output_padding)
    ]
    assume(all(o >= 1 for o in out))
    common = draw_common(data)
    batch = 1 if common["unbatched"] else 2
    x, w, b = (
        rand((batch, c_in, *size), seed=24),
        rand((c_in, c_out // groups, *kernel), seed=25),
        rand((c_out,), seed=26),
    )
    conv_t = getattr(torch.nn.functional, f"conv_transpose{nd}d")
    geometry = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)

    def forward(xt, wt, bt):
        return conv_t(xt, wt, bt, output_padding=output_padding, **geometry)

    size_kw = (
        dict(output_size=tuple(out))
        if data.draw(st.booleans(), "as output_size")
        else dict(output_padding=output_padding)
    )
    run_backward_against_torch(torch, GRADS["transpose"][nd][3], x, w, b, forward, dict(geometry, **size_kw), common)


# ---- finite differences and adjoint identities ----


def loss(forward, gy, *args, **kw):
    return float(np.vdot(forward(*args, **kw), gy))


FD_CASES = [
    ("conv", Case("reflect_stride", (1, 2, 5, 4), (3, 2, 3, 2), dict(stride=2, padding=1, padding_mode="reflect"))),
    (
        "conv",
        Case(
            "circular_flip", (2, 2, 4), (2, 1, 3), dict(groups=2, padding=((2, 1),), padding_mode="circular", flip=True)
        ),
    ),
    (
        "conv",
        Case(
            "replicate_dilated", (1, 1, 3, 3, 3), (2, 1, 2, 2, 2), dict(dilation=2, padding=1, padding_mode="replicate")
        ),
    ),
    ("transpose", Case("outpad", (1, 2, 3, 3), (2, 2, 3, 2), dict(stride=2, padding=1, output_padding=1))),
]


@pytest.mark.parametrize("activation", [None, "sigmoid", "tanh"])
@pytest.mark.parametrize("family,case", FD_CASES, ids=[c.name for _, c in FD_CASES])
def test_gradients_match_central_finite_differences(family, case, activation):
    """d/dt loss(x + t dx, w + t dw, b + t db) at t = 0, with loss = <activation(f(x, w) + b), gy>, against
    <gx, dx> + <gw, dw> + <gb, db> in float64."""
    forward_op = (CONV if family == "conv" else CONV_T)[case.nd]
    x, w = rand(case.x, seed=30), rand(case.w, seed=31)
    y = forward_op(x, w, activation=activation, **case.kw)
    b, gy = rand((y.shape[1],), seed=32), rand(y.shape, seed=33)
    dx, dw, db = rand(x.shape, seed=34), rand(w.shape, seed=35), rand(b.shape, seed=36)
    y = forward_op(x, w, b, activation=activation, **case.kw)
    fused = dict(activation=activation, output=y) if activation else {}
    gx, gw, gb = GRADS[family][case.nd][3](x, w, gy, **case.kw, **fused)
    h = 1e-6
    plus = loss(forward_op, gy, x + h * dx, w + h * dw, b + h * db, activation=activation, **case.kw)
    minus = loss(forward_op, gy, x - h * dx, w - h * dw, b - h * db, activation=activation, **case.kw)
    want = (plus - minus) / (2 * h)
    assert np.vdot(gx, dx) + np.vdot(gw, dw) + np.vdot(gb, db) == pytest.approx(want, rel=1e-6, abs=1e-7)


@BACKEND_SETTINGS
@given(
    data=st.data(),
    mode=st.sampled_from(["zeros", "reflect", "replicate", "circular"]),
    stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    groups=st.sampled_from([1, 2]),
    flip=st.booleans(),
)
def test_conv_adjoint_identities(backend, data, mode, stride, dilation, groups, flip):
    """<conv(x, w), y> = <x, conv2d_input(y)> = <w, conv2d_weight(x, y)>: conv is linear in x and in w, whatever
    the padding mode (the fold's adjointness) and flip."""
    size = data.draw(st.tuples(st.integers(2, 6), st.integers(2, 6)))
    kernel = data.draw(st.tuples(st.integers(1, 3), st.integers(1, 3)))
    pads = tuple(data.draw(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1))) for n in size)
    assume(all(n + sum(p) >= d * (k - 1) + 1 for n, p, k, d in zip(size, pads, kernel, dilation)))
    kw = dict(stride=stride, padding=pads, dilation=dilation, groups=groups, padding_mode=mode, flip=flip)
    x, w = rand((1, 2 * groups, *size), seed=40), rand((groups, 2, *kernel), seed=41)
    fwd = numbaconv.conv2d(x, w, **kw)
    y = rand(fwd.shape, seed=42)
    xb, wb, yb = (to_backend(backend, a) for a in (x, w, y))
    gx = to_host(backend, grad.conv2d_input(x.shape, wb, yb, **kw))
    gw = to_host(backend, grad.conv2d_weight(xb, w.shape, yb, **kw))
    lhs = np.vdot(fwd, y)
    assert np.vdot(x, gx) == pytest.approx(lhs, rel=1e-9, abs=1e-9)
    assert np.vdot(w, gw) == pytest.approx(lhs, rel=1e-9, abs=1e-9)


@given(
    data=st.data(),
    stride=st.integers(1, 3),
    dilation=st.integers(1, 3),
    kernel=st.integers(1, 3),
    pads=st.tuples(st.integers(0, 3), st.integers(0, 3)),
)
def test_conv_transpose_adjoint_identities(data, stride, dilation, kernel, pads):
    """<conv_transpose(x, w), y> = <x, conv_transpose1d_input(y)> = <w, conv_transpose1d_weight(x, y)>, per-side
    crops and output_padding (past the end crop too) included."""
    size = data.draw(st.integers(1, 6))
    output_padding = data.draw(st.integers(0, max(stride, dilation) - 1))
    assume((size - 1) * stride - sum(pads) + dilation * (kernel - 1) + output_padding + 1 >= 1)
    kw = dict(stride=stride, padding=(pads,), dilation=dilation, output_padding=output_padding)
    x, w = rand((2, 2, size), seed=43), rand((2, 3, kernel), seed=44)
    fwd = numbaconv.conv_transpose1d(x, w, **kw)
    y = rand(fwd.shape, seed=45)
    lhs = np.vdot(fwd, y)
    assert np.vdot(x, grad.conv_transpose1d_input(x.shape, w, y, **kw)) == pytest.approx(lhs, rel=1e-9, abs=1e-9)
    assert np.vdot(w, grad.conv_transpose1d_weight(x, w.shape, y, **kw)) == pytest.approx(lhs, rel=1e-9, abs=1e-9)


# ---- activation_backward ----


def test_activation_backward_at_the_kinks_matches_torch():
    """torch autograd of each activation on pre-activations that sit on its kinks (relu'(0) = 0, relu6 flat at 0
    and 6, leaky_relu's slope at 0), read back from the outputs."""
    torch = pytest.importorskip("torch")
    z = torch.tensor([-2.0, -0.0, 0.0, 1e-30, 0.5, 3.0, 6.0, 7.5], dtype=torch.float64, requires_grad=True)
    for activation in ACTIVATIONS[1:]:
        z.grad = None
        y = torch_activation(torch, z, activation)
        gy = torch.linspace(1, 2, len(z), dtype=torch.float64)
        y.backward(gy)
        got = grad.activation_backward(gy.numpy(), y.detach().numpy(), activation, 0.2)
        np.testing.assert_allclose(got, z.grad.numpy(), rtol=1e-15, atol=0, err_msg=activation)


@pytest.mark.parametrize("activation", ACTIVATIONS[1:])
def test_activation_backward_matches_reference(backend, activation):
    """Any shape up to 5-d, float32 and float64, NaN passed on as torch's rules pass it, and `out=`."""
    for shape, dtype in [((7,), np.float64), ((2, 3, 4), np.float32), ((1, 2, 3, 2, 2), np.float64)]:
        y = ref.activation(rand(shape, np.float64, 50), activation, 0.2).astype(dtype)
        y.reshape(-1)[0] = np.nan
        gy = rand(shape, dtype, 51)
        want = gy * ref.activation_derivative(y, activation, 0.2)
        if activation in ("relu", "relu6"):
            want.reshape(-1)[0] = gy.reshape(-1)[0]  # NaN is not <= 0: the gradient passes (torch's threshold rule)
        got = to_host(
            backend, grad.activation_backward(to_backend(backend, gy), to_backend(backend, y), activation, 0.2)
        )
        assert got.dtype == dtype
        np.testing.assert_allclose(got, want, rtol=1e-6, equal_nan=True)
        out = full(backend, shape, 7, dtype)
        assert (
            grad.activation_backward(to_backend(backend, gy), to_backend(backend, y), activation, 0.2, out=out) is out
        )
        np.testing.assert_allclose(to_host(backend, out), want, rtol=1e-6, equal_nan=True)


def test_activation_backward_reads_any_strides_and_float16():
    y = np.maximum(rand((4, 6), np.float64, 52), 0)[:, ::2]
    gy = rand((3, 4), np.float64, 53).T
    np.testing.assert_array_equal(grad.activation_backward(gy, y, "relu"), gy * (y > 0))
    half = grad.activation_backward(gy.astype(np.float16), y.astype(np.float16), "sigmoid")
    assert half.dtype == np.float16
    assert_close(half, gy * y.astype(np.float16) * (1 - y.astype(np.float16)), np.float16)


# ---- call conventions ----


def test_unbatched_input_gives_unbatched_gradients(backend):
    case = CONV_CASES[3].on(backend)
    x, w = rand(case.x[1:], seed=60), rand(case.w, seed=61)
    y = numbaconv.conv2d(x, w, activation="tanh", **case.kw)
    gy = rand(y.shape, seed=62)
    xb, wb, yb, gyb = (to_backend(backend, a) for a in (x, w, y, gy))
    fused = dict(activation="tanh", output=yb)
    gx, gw, gb = (to_host(backend, a) for a in grad.conv2d_backward(xb, wb, gyb, **case.kw, **fused))
    batched = grad.conv2d_backward(x[None], w, gy[None], activation="tanh", output=y[None], **case.kw)
    assert gx.shape == x.shape and gw.shape == w.shape and gb.shape == (w.shape[0],)
    for got, want in zip((gx[None], gw, gb), batched):
        assert_close(got, want)
    assert_close(to_host(backend, grad.conv2d_input(x.shape, wb, gyb, **case.kw, **fused)), gx)
    assert_close(to_host(backend, grad.conv2d_weight(xb, w.shape, gyb, **case.kw, **fused)), gw)
    assert_close(to_host(backend, grad.conv2d_bias(gyb, **fused)), gb)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_out_argument_is_filled_and_returned(backend, dtype):
    case = T_CASES[2].on(backend)
    x, w = rand(case.x, dtype, 63), rand(case.w, dtype, 64)
    gy = rand(transpose_forward(case, x, w).shape, dtype, 65)
    want_x, want_w = transpose_reference(case, x, w, gy)
    xb, wb, gyb = (to_backend(backend, a) for a in (x, w, gy))
    outs = [
        full(backend, x.shape, np.nan, dtype),
        full(backend, w.shape, np.nan, dtype),
        full(backend, (w.shape[1],), np.nan, dtype),
    ]
    assert grad.conv_transpose2d_input(x.shape, wb, gyb, **case.kw, out=outs[0]) is outs[0]
    assert grad.conv_transpose2d_weight(xb, w.shape, gyb, **case.kw, out=outs[1]) is outs[1]
    assert grad.conv_transpose2d_bias(gyb, out=outs[2]) is outs[2]
    for out, want in zip(outs, (want_x, want_w, gy.sum(axis=(0, 2, 3)))):
        assert_close(to_host(backend, out), want, dtype)


def test_float16_is_computed_in_float32(backend):
    """float16 in, float16 out, float32 inside: the activation, the fold (reflect padding) and each gradient."""
    case = Case("reflect", (2, 2, 5, 4), (2, 2, 3, 2), dict(padding=1, padding_mode="reflect", stride=(2, 1))).on(
        backend
    )
    x, w = rand(case.x, np.float16, 66), rand(case.w, np.float16, 67)
    y = conv_forward(case, x, w, None, "sigmoid").astype(np.float16)
    gy = rand(y.shape, np.float16, 68)
    g = gy * ref.activation_derivative(y, "sigmoid")
    want_x, want_w = conv_reference(case, x, w, g)
    xb, wb, gyb, yb = (to_backend(backend, a) for a in (x, w, gy, y))
    got = grad.conv2d_backward(xb, wb, gyb, activation="sigmoid", output=yb, **case.kw)
    gx, gw, gb = (to_host(backend, a) for a in got)
    assert gx.dtype == gw.dtype == gb.dtype == np.float16
    assert_close(gx, want_x, np.float16)
    assert_close(gw, want_w, np.float16)
    assert_close(gb, g.sum(axis=(0, 2, 3)), np.float16)


def test_integer_input_takes_an_explicit_dtype():
    xi = np.arange(2 * 5 * 4).reshape(1, 2, 5, 4) % 7 - 3
    gyi = np.ones((1, 2, 5, 4), np.int16)
    wi = np.ones((2, 2, 3, 2), np.int64)
    got = grad.conv2d_weight(xi, wi.shape, gyi, padding="same", dtype=np.float32)
    assert got.dtype == np.float32
    assert_close(got, ref.conv_grads(xi, wi, gyi, pads=reference_pads((5, 4), (3, 2), "same"))[1], np.float32)
    assert grad.conv2d_bias(gyi, dtype=np.float64).tolist() == [20.0, 20.0]


def test_empty_batch_gives_an_empty_input_gradient_and_zero_weight_gradient():
    x, w, gy = np.ones((0, 2, 4, 4)), np.ones((3, 2, 3, 3)), np.ones((0, 3, 2, 2))
    gx, gw, gb = grad.conv2d_backward(x, w, gy)
    assert gx.shape == (0, 2, 4, 4)
    assert gw.shape == w.shape and not gw.any()
    assert gb.tolist() == [0.0, 0.0, 0.0]


def test_results_are_deterministic():
    case = CONV_CASES[3]
    x, w = rand(case.x, np.float32, 69), rand(case.w, np.float32, 70)
    gy = rand(conv_forward(case, x, w).shape, np.float32, 71)
    first = grad.conv2d_backward(x, w, gy, **case.kw)
    for _ in range(2):
        for a, b in zip(first, grad.conv2d_backward(x, w, gy, **case.kw)):
            np.testing.assert_array_equal(a, b)


def test_torch_cpu_tensors_in_torch_tensors_out():
    """torch CPU tensors are read without a copy (DLPack) and every gradient comes back as a tensor."""
    torch = pytest.importorskip("torch")
    case = CONV_CASES[4]
    x, w = rand(case.x, seed=72), rand(case.w, seed=73)
    y = numbaconv.conv2d(x, w, activation="relu6", **case.kw)
    gy = rand(y.shape, seed=74)
    got = grad.conv2d_backward(
        *(torch.from_numpy(a) for a in (x, w, gy)), activation="relu6", output=torch.from_numpy(y), **case.kw
    )
    assert all(isinstance(g, torch.Tensor) for g in got)
    want = grad.conv2d_backward(x, w, gy, activation="relu6", output=y, **case.kw)
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a.numpy(), b)


def test_public_api_conventions():
    """grad's functions stay out of numbaconv.__all__; each has a typed signature and a runnable example; the
    families take the same arguments (torch.nn.grad's positional order for the arrays)."""
    assert not set(grad.__all__) & set(numbaconv.__all__)
    assert numbaconv.grad is grad
    # the pooling family's (tests/test_grad_pool.py) and the two-step convolutions' (tests/test_grad_composite.py)
    # take other arguments
    two_step = ("separable_conv2d_", "spatially_separable_conv2d_", "shuffle_conv2d_", "resize_conv2d_")
    for name in set(grad.__all__) - set(_grad_pool.__all__):
        if name.startswith(two_step):
            continue
        f = getattr(grad, name)
        assert f.__name__ == name and ">>> " in f.__doc__, name
        signature = inspect.signature(f)
        assert signature.return_annotation is not inspect.Signature.empty, name
        first = list(signature.parameters)[:3]
        kind = "activation" if name == "activation_backward" else name.rsplit("_", 1)[1]
        expected = {
            "input": ["input_size", "weight", "grad_output"],
            "weight": ["input", "weight_size", "grad_output"],
            "backward": ["input", "weight", "grad_output"],
            "bias": ["grad_output", "layout", "activation"],
            "activation": ["grad_output", "output", "activation"],
        }[kind]
        assert first == expected, name


# ---- errors ----

X, W, GY = np.ones((1, 2, 5, 5)), np.ones((4, 2, 3, 3)), np.ones((1, 4, 3, 3))
Y = np.zeros((1, 4, 3, 3))
ERRORS = [
    (lambda: grad.conv2d_input((1, 2, 5, 5), W, np.ones((1, 4, 4, 3))), ValueError,
     r"conv2d_input: grad_output.shape=\(1, 4, 4, 3\) must equal the forward's output shape \(1, 4, 3, 3\) \(input \(1, 2, 5, 5\), weight \(4, 2, 3, 3\)"),
    (lambda: grad.conv2d_input((2, 5, 5), W, GY), ValueError, r"conv2d_input: input_size=\(2, 5, 5\) must have 4 dims"),
    (lambda: grad.conv2d_input((1, 2, 5, 5), W, GY[0]), ValueError, r"input_size=\(1, 2, 5, 5\) must have 3 dims \(C, \*spatial\), as grad_output is unbatched"),
    (lambda: grad.conv2d_input(np.ones(4), W, GY), TypeError, r"conv2d_input: input_size=array\(.*must be a shape: a sequence of ints"),
    (lambda: grad.conv2d_input((1, -2, 5, 5), W, GY), ValueError, r"input_size=\(1, -2, 5, 5\) must have no negative size"),
    (lambda: grad.conv2d_input((1, 3, 5, 5), W, GY), ValueError, r"conv2d_input: weight.shape\[1\]=2 must equal in_channels / groups = 3 / 1"),
    (lambda: grad.conv2d_weight(X, (4, 2, 3), GY), ValueError, r"conv2d_weight: weight must be 4-d"),
    (lambda: grad.conv2d_weight(X, (4, 1, 3, 3), GY, groups=3), ValueError, r"conv2d_weight: groups=3 must divide in_channels=2"),
    (lambda: grad.conv2d_weight(X, (4, 2, 3, 3), GY, padding=5, padding_mode="reflect"), ValueError, r"reflect padding \(5, 5\) along spatial dim 0 must be smaller than the input size 5"),
    (lambda: grad.conv2d_input(X.shape, W, GY, activation="relu"), ValueError, r"conv2d_input: activation='relu' needs output=, the forward's saved output"),
    (lambda: grad.conv2d_weight(X, W.shape, GY, output=Y), ValueError, r"conv2d_weight: output= is read only with activation="),
    (lambda: grad.conv2d_bias(GY, activation="gelu", output=Y), ValueError, r"conv2d_bias: activation='gelu' is not one of None, 'relu'"),
    (lambda: grad.conv2d_backward(X, W, GY, activation="leaky_relu", output=Y, negative_slope=-0.1), ValueError, r"conv2d_backward: negative_slope=-0.1 must be >= 0 with activation='leaky_relu'"),
    (lambda: grad.conv2d_backward(X, W, GY, activation="tanh", output=Y[:, :2]), ValueError, r"conv2d_backward: output.shape=\(1, 2, 3, 3\) must equal the forward's output shape \(1, 4, 3, 3\)"),
    (lambda: grad.conv2d_bias(GY, activation="tanh", output=Y[:, :2]), ValueError, r"conv2d_bias: output.shape=\(1, 2, 3, 3\) must equal grad_output.shape=\(1, 4, 3, 3\)"),
    (lambda: grad.conv2d_bias(GY, layout="NCW"), ValueError, r"conv2d_bias: layout='NCW' must be 'NCHW' or 'NHWC' for 2-d input"),
    (lambda: grad.conv2d_bias(GY[0, 0]), ValueError, r"conv2d_bias: grad_output must be 4-d \(NCHW\) or 3-d unbatched, got shape \(3, 3\)"),
    (lambda: grad.conv2d_backward(X, W, np.ones((1, 4, 3, 3), np.complex64)), TypeError, r"conv2d_backward: grad_output dtype complex64 is not supported"),
    (lambda: grad.conv2d_input(X.shape, W, GY, out=np.ones((1, 2, 5, 4))), ValueError, r"conv2d_input: out.shape=\(1, 2, 5, 4\) must equal the result shape \(1, 2, 5, 5\)"),
    (lambda: grad.conv2d_weight(X, W.shape, GY, out=np.ones(W.shape, np.float32)), TypeError, r"conv2d_weight: out.dtype=float32 must equal the result dtype float64"),
    (lambda: grad.conv2d_input(X.shape, W, GY, stream=1), ValueError, r"conv2d_input: stream=1 applies to CUDA arrays only"),
    (lambda: grad.conv2d_weight(X.astype(np.int8), W.shape, GY), TypeError, r"conv2d_weight: integer input \(int8\) needs an explicit accumulate dtype"),
    (lambda: grad.conv_transpose2d_input((1, 4, 3, 3), W, np.ones((1, 2, 5, 5)), stride=2), ValueError,
     r"conv_transpose2d_input: grad_output.shape=\(1, 2, 5, 5\) must equal the forward's output shape \(1, 2, 7, 7\)"),
    (lambda: grad.conv_transpose2d_weight(GY, (4, 2, 3, 3), np.ones((1, 2, 7, 7)), stride=2, output_size=(9, 9)), ValueError,
     r"conv_transpose2d_weight: output_size=\(9, 9\) is unreachable along spatial dim 0"),
    (lambda: grad.conv_transpose2d_backward(GY, np.ones((3, 2, 3, 3)), np.ones((1, 2, 5, 5))), ValueError,
     r"conv_transpose2d_backward: weight.shape\[0\]=3 must equal in_channels=4"),
    (lambda: grad.depthwise_conv2d_input((1, 2, 5, 5), np.ones((4, 2, 3, 3)), GY), ValueError,
     r"depthwise_conv2d_input: weight.shape\[1\]=2 must be 1"),
    (lambda: grad.pointwise_conv2d_weight(X, (4, 2, 3, 3), GY), ValueError,
     r"pointwise_conv2d_weight: weight shape \(4, 2, 3, 3\) must be \(C_out, C_in\) or \(C_out, C_in, 1, 1\)"),
    (lambda: grad.activation_backward(GY, Y, None), ValueError, r"activation_backward: activation=None has no derivative to apply"),
    (lambda: grad.activation_backward(GY, Y[0], "relu"), ValueError, r"activation_backward: output.shape=\(4, 3, 3\) must equal grad_output.shape=\(1, 4, 3, 3\)"),
    (lambda: grad.activation_backward(GY, None, "relu"), ValueError, r"activation_backward: activation='relu' needs output="),
    (lambda: grad.conv2d_input(X.shape, None, GY), TypeError, r"conv2d_input: weight must be a NumPy array"),
]  # fmt: skip


@pytest.mark.parametrize("call,error,match", ERRORS, ids=[f"error{i}" for i in range(len(ERRORS))])
def test_bad_input_is_refused_before_any_kernel(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.cuda
def test_cuda_errors():
    from numba import cuda

    with pytest.raises(TypeError, match=r"conv2d_backward: .* is a host \(NumPy\) array but .* is a CUDA array"):
        grad.conv2d_backward(X, cuda.to_device(W), GY)
    with pytest.raises(NotImplementedError, match=r"activation_backward: CUDA arrays of at most 5 dims"):
        big = cuda.to_device(np.ones((1,) * 6))
        grad.activation_backward(big, big, "relu")
