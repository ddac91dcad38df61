"""The gradients of the two-step convolutions behind numbaconv.grad: separable_conv2d, spatially_separable_conv2d,
shuffle_conv2d and resize_conv2d.

Each forward is two steps, and each gradient the chain rule over the steps' own gradients (numbaconv/_grad_conv.py,
numbaconv/_grad_pool.py), the last step first:

- separable:    y = act(pointwise(m) + b + r), m = dact(depthwise(x) + db). grad_output times act'(y) goes back
  through the pointwise step (its weight gradient against m), times dact'(m), then through the depthwise step;
- spatially separable: y = act(row(m) + b + r), m = column(x): the row pass's gradients against m, then the column
  pass's;
- shuffle conv: y = act(shuffle(conv(x) + b) + r): grad_output times act'(y), unshuffled (channel_shuffle_input),
  then the grouped conv's gradients;
- resize conv:  y = act(conv(up(x)) + b + r): the conv's input gradient onto the upsampled image, then the
  upsampling's (unpool2d_input for "nearest", interpolate_input for "bilinear" / "bicubic"); the nearest weight
  gradient reads x through the forward's remapped index tables (no upsampled image), the smooth modes' through the
  upsampled image built as the forward builds it.

The forwards do not return m, which the second step's weight gradient (and dact's derivative) reads: it is
recomputed from the input with the forward's own kernel (one forward of the first step, an array of m's size in the
compute dtype) unless the caller passes it as ``intermediate=``. Every check of both steps runs first, on the
caller's shapes and in the public function's name; then the steps run on the caller's array kind, an unbatched call
as a batch of one, intermediates in the compute dtype, each result in its single-step gradient's dtype.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from . import _cuda
from . import _grad_conv as core
from ._arrays import result_dtypes
from ._call import Call
from ._grad_pool import channel_shuffle_input, interpolate_input, unpool2d_input
from ._params import ACTIVATIONS, join_shape
from ._params_pool import resize_interpolation
from ._params_shuffle import channel_shuffle_params
from ._params_transpose import resize_conv_params
from .conv import conv2d, depthwise_conv2d
from .shuffle import separable_passes, separable_weight, separable_weight_shape
from .unpool import interpolated

# Arrays a gradient may leave out (None): dropped before the call's checks.
_OPTIONAL = frozenset({"output", "intermediate", "depthwise_bias"})
# Arrays with a batch axis (which an unbatched call adds to run as a batch of one).
_BATCHED = frozenset({"input", "grad_output", "output", "intermediate"})

# ---- the shared steps ----


class _Chain:
    """One two-step gradient call after its checks: the caller's arrays batched, the dtypes, `out=` and what
    is wanted."""

    def __init__(self, op: str, want: frozenset[str], call: Call, arrays: dict, unbatched: bool, out, dtype, stream):
        self.op, self.stream = op, stream
        self.unbatched = unbatched
        lead = _lead if unbatched else (lambda a: a)
        self.arrays = {name: lead(a) if name in _BATCHED else a for name, a in arrays.items()}
        self.grad_dtype, self.compute = result_dtypes(op, call["grad_output"], dtype)
        self.weight_dtype = result_dtypes(op, call["input"], dtype)[0] if "input" in arrays else self.grad_dtype
        # out= goes to the one result asked for (the _input, _weight and _bias functions)
        self.out = out
        self.outs = {name: (lead(out) if name == "input" else out) for name in want} if len(want) == 1 else {}

    def __getitem__(self, name: str):
        return self.arrays.get(name)

    def times_derivative(self, g, y, activation, negative_slope):
        """g times `activation`'s derivative read from its output y (compute dtype); g itself without one."""
        if activation is None:
            return g
        return core.activation_gradient(self.op, g, y, activation, negative_slope, None, self.compute, self.stream)

    def input_grad(self, geometry: core.Geometry, shape, weight, g, final: str | None = None):
        """The input gradient of a step; `final`: the result it is (its dtype and out=), else an intermediate."""
        dtype = self.grad_dtype if final else self.compute
        out = self.outs.get(final) if final else None
        return core.input_gradient(self.op, 2, geometry, shape, weight, g, None, None, 0.01, out, dtype, self.stream)

    def weight_grad(self, name: str, geometry: core.Geometry, x, shape, g):
        out = self.outs.get(name)
        return core.weight_gradient(
            self.op, 2, geometry, x, shape, g, None, None, 0.01, out, self.weight_dtype, self.stream
        )

    def bias_grad(self, name: str, g, layout: str):
        out = self.outs.get(name)
        return core.bias_gradient(self.op, 2, g, layout, None, None, 0.01, out, self.grad_dtype, self.stream)

    def finish(self, results: dict[str, Any]) -> dict[str, Any]:
        """The results as the caller gets them: the input gradient without the batch axis an unbatched call got."""
        if self.unbatched and "input" in results:
            results["input"] = self.out if self.out is not None else results["input"][0]
        return results


def _lead(a):
    """A caller's array with a leading axis of 1, a view of the same kind (None stays None)."""
    if a is None:
        return None
    return _cuda.with_batch_axis(a) if _cuda.is_numba_device_array(a) else a[None]


def _begin(op: str, want: frozenset[str], arrays: dict, out, dtype, stream, activation, negative_slope):
    """The checks every two-step gradient starts with (backend, dtypes, the activation's rules, unbatched
    arrays). Returns (call, unbatched)."""
    given = {name: a for name, a in arrays.items() if a is not None or name not in _OPTIONAL}
    return core.start_call(op, 2, given, out, dtype, stream, activation, negative_slope, "input" in want)


def _x_shape(op: str, call: Call, input_size, unbatched: bool) -> tuple[int, ...]:
    """The forward input's batched shape: `input`'s (the call's first array) or `input_size` checked."""
    if "input" in call.arrays:
        return tuple(call["input"].shape)
    return core.input_shape(op, 2, input_size, unbatched)


def _w_shape(op: str, call: Call, name: str, size) -> tuple[int, ...]:
    """The shape of weight `name`: the array's, or the `weight_size` argument checked."""
    if name in call.arrays:
        return tuple(call[name].shape)
    return core.shape_argument(op, "weight_size", size)


def _check_shapes(op: str, arrays: dict, unbatched: bool, x_shape: tuple[int, ...], **want: tuple[int, ...]) -> None:
    """grad_output, output (both the forward's output) and intermediate have their batched shapes in `want`, as the
    caller passed them (without the batch axis when unbatched)."""
    shapes = {"grad_output": want.get("output"), **want}
    lead = int(unbatched)
    for name, shape in shapes.items():
        a = arrays.get(name)
        if a is None or shape is None:
            continue
        got, expect = tuple(a.shape), tuple(shape)[lead:]
        if got != expect:
            what = "the first step's output shape" if name == "intermediate" else "the forward's output shape"
            raise ValueError(
                f"{op}: {name}.shape={got} must equal {what} {expect} (input {x_shape[lead:]}, these weights and "
                f"options)"
            )


def _check_out(call: Call, want: frozenset[str], **shapes: tuple[int, ...] | None) -> None:
    """`out=` of a single-result function (the _input, _weight and _bias ones) against that result's shape (the
    input gradient's batched)."""
    shape = shapes[next(iter(want))] if len(want) == 1 else None
    if shape is not None:
        call.check_out(shape)


# ---- separable_conv2d ----

SEPARABLE = frozenset({"input", "depthwise_weight", "pointwise_weight", "bias", "depthwise_bias"})


def _check_depthwise_activation(op: str, activation, negative_slope, intermediate, readable: bool) -> None:
    """depthwise_activation's rules: a known name, a leaky_relu slope that keeps the sign, and its output (the
    intermediate) given where the input is not there to recompute it from."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"{op}: depthwise_activation={activation!r} is not one of {', '.join(map(repr, ACTIVATIONS))}")
    if activation == "leaky_relu" and negative_slope < 0:
        raise ValueError(
            f"{op}: negative_slope={negative_slope} must be >= 0 with depthwise_activation='leaky_relu': its "
            f"derivative is read from the intermediate's sign, which a negative slope flips"
        )
    if activation is not None and intermediate is None and not readable:
        raise ValueError(
            f"{op}: depthwise_activation={activation!r} needs intermediate=, the depthwise step's output (after "
            f"depthwise_activation), to compute its derivative (the gradients that take the input recompute it)"
        )
    if activation is None and intermediate is not None and not readable:
        raise ValueError(
            f"{op}: intermediate= is read only with depthwise_activation= here (the pointwise weight gradient, "
            f"separable_conv2d_weights and _backward, reads it too); pass both or neither"
        )


def separable(
    op: str,
    want: frozenset[str],
    arrays: dict,
    input_size=None,
    *,
    stride,
    padding,
    dilation,
    padding_mode,
    layout,
    depthwise_activation,
    activation,
    negative_slope,
    out,
    dtype,
    stream,
) -> dict[str, Any]:
    """The gradients `want` (names of SEPARABLE) of one separable_conv2d call. `arrays`: input (or
    `input_size`), depthwise_weight, pointwise_weight, grad_output, output, intermediate, depthwise_bias; the first
    is the one whose kind the results take."""
    layout = layout or "NCHW"
    call, unbatched = _begin(op, want, arrays, out, dtype, stream, activation, negative_slope)
    x_shape = _x_shape(op, call, input_size, unbatched)
    dw_shape, pw_shape = tuple(call["depthwise_weight"].shape), tuple(call["pointwise_weight"].shape)
    if len(dw_shape) == 4 and dw_shape[1] != 1:
        raise ValueError(
            f"{op}: depthwise_weight.shape[1]={dw_shape[1]} must be 1 (it is (C_in * multiplier, 1, kH, kW))"
        )
    dw_geometry = core.depthwise_geometry(stride, padding, dilation, padding_mode, False, layout)
    pw_geometry = core.pointwise_geometry(1, layout)
    dw_params = dw_geometry(op, 2, x_shape, dw_shape)
    pw_params = pw_geometry(op, 2, dw_params.out_shape, pw_shape)
    call.bias("depthwise_bias", dw_params.out_channels)
    _check_shapes(op, arrays, unbatched, x_shape, output=pw_params.out_shape, intermediate=dw_params.out_shape)
    readable = "input" in arrays
    _check_depthwise_activation(op, depthwise_activation, negative_slope, arrays.get("intermediate"), readable)
    _check_out(call, want, input=x_shape)

    chain = _Chain(op, want, call, arrays, unbatched, out, dtype, stream)
    g = chain.times_derivative(chain["grad_output"], chain["output"], activation, negative_slope)
    results: dict[str, Any] = {}
    if "bias" in want:
        results["bias"] = chain.bias_grad("bias", g, layout)
    before = want & {"input", "depthwise_weight", "depthwise_bias"}
    mid = chain["intermediate"]
    if mid is None and ("pointwise_weight" in want or (before and depthwise_activation)):
        mid = depthwise_conv2d(  # the forward's intermediate, with its kernel and dtype
            chain["input"],
            chain["depthwise_weight"],
            chain["depthwise_bias"],
            stride=stride,
            padding=padding,
            dilation=dilation,
            padding_mode=padding_mode,
            activation=depthwise_activation,
            negative_slope=negative_slope,
            layout=layout,
            algorithm="depthwise",
            dtype=chain.compute,
            stream=stream,
        )
    if "pointwise_weight" in want:
        results["pointwise_weight"] = chain.weight_grad("pointwise_weight", pw_geometry, mid, pw_shape, g)
    if before:
        g_mid = chain.input_grad(pw_geometry, dw_params.out_shape, chain["pointwise_weight"], g)
        g_mid = chain.times_derivative(g_mid, mid, depthwise_activation, negative_slope)
        if "depthwise_bias" in want:
            results["depthwise_bias"] = chain.bias_grad("depthwise_bias", g_mid, layout)
        if "depthwise_weight" in want:
            results["depthwise_weight"] = chain.weight_grad(
                "depthwise_weight", dw_geometry, chain["input"], dw_shape, g_mid
            )
        if "input" in want:
            results["input"] = chain.input_grad(dw_geometry, x_shape, chain["depthwise_weight"], g_mid, "input")
    return chain.finish(results)


# ---- spatially_separable_conv2d ----

SPATIALLY_SEPARABLE = frozenset({"input", "column_weight", "row_weight", "bias"})


def _pass_geometry(name: str, options: dict, groups, padding_mode, flip, layout) -> core.Geometry:
    """The conv geometry of a spatially separable pass (`options`: its stride, padding and dilation), its weight
    given 3-d or 4-d."""
    conv = core.conv_geometry(
        options["stride"], options["padding"], options["dilation"], groups, padding_mode, flip, layout
    )

    def geometry(op: str, nd: int, x_shape: tuple, w_shape: tuple):
        return conv(op, nd, x_shape, separable_weight_shape(op, name, w_shape))

    return geometry


def spatially_separable(
    op: str,
    want: frozenset[str],
    arrays: dict,
    input_size=None,
    *,
    stride,
    padding,
    dilation,
    groups,
    padding_mode,
    flip,
    layout,
    activation,
    negative_slope,
    out,
    dtype,
    stream,
) -> dict[str, Any]:
    """The gradients `want` (names of SPATIALLY_SEPARABLE) of one spatially_separable_conv2d call. `arrays`:
    input (or `input_size`), column_weight, row_weight, grad_output, output, intermediate."""
    layout = layout or "NCHW"
    call, unbatched = _begin(op, want, arrays, out, dtype, stream, activation, negative_slope)
    x_shape = _x_shape(op, call, input_size, unbatched)
    col_pass, row_pass = separable_passes(op, stride, padding, dilation)
    col_geometry = _pass_geometry("column_weight", col_pass, groups, padding_mode, flip, layout)
    row_geometry = _pass_geometry("row_weight", row_pass, groups, padding_mode, flip, layout)
    col_shape, row_shape = tuple(call["column_weight"].shape), tuple(call["row_weight"].shape)
    col_params = col_geometry(f"{op} (column pass)", 2, x_shape, col_shape)
    row_params = row_geometry(f"{op} (row pass)", 2, col_params.out_shape, row_shape)
    _check_shapes(op, arrays, unbatched, x_shape, output=row_params.out_shape, intermediate=col_params.out_shape)
    _check_out(call, want, input=x_shape)

    chain = _Chain(op, want, call, arrays, unbatched, out, dtype, stream)
    g = chain.times_derivative(chain["grad_output"], chain["output"], activation, negative_slope)
    results: dict[str, Any] = {}
    if "bias" in want:
        results["bias"] = chain.bias_grad("bias", g, layout)
    if "row_weight" in want:
        mid = chain["intermediate"]
        if mid is None:  # the forward's column pass: conv2d with the column weight as a 4-d view
            col = separable_weight(op, "column_weight", call["column_weight"])
            mid = conv2d(
                chain["input"],
                col,
                **col_pass,
                groups=groups,
                padding_mode=padding_mode,
                flip=flip,
                layout=layout,
                dtype=chain.compute,
                stream=stream,
            )
        results["row_weight"] = chain.weight_grad("row_weight", row_geometry, mid, row_shape, g)
    if want & {"input", "column_weight"}:
        g_mid = chain.input_grad(row_geometry, col_params.out_shape, chain["row_weight"], g)
        if "column_weight" in want:
            results["column_weight"] = chain.weight_grad(
                "column_weight", col_geometry, chain["input"], col_shape, g_mid
            )
        if "input" in want:
            results["input"] = chain.input_grad(col_geometry, x_shape, chain["column_weight"], g_mid, "input")
    return chain.finish(results)


# ---- shuffle_conv2d and resize_conv2d: one weight, one bias ----

ONE_WEIGHT = frozenset({"input", "weight", "bias"})


def shuffle_conv(
    op: str,
    want: frozenset[str],
    arrays: dict,
    input_size=None,
    weight_size=None,
    *,
    groups,
    stride=1,
    padding=0,
    dilation=1,
    padding_mode="zeros",
    flip=False,
    layout,
    activation,
    negative_slope,
    out,
    dtype,
    stream,
) -> dict[str, Any]:
    """The gradients `want` (names of ONE_WEIGHT) of one shuffle_conv2d call. `arrays`: input (or `input_size`),
    weight (or `weight_size`), grad_output, output."""
    layout = layout or "NCHW"
    call, unbatched = _begin(op, want, arrays, out, dtype, stream, activation, negative_slope)
    geometry = core.conv_geometry(stride, padding, dilation, groups, padding_mode, flip, layout)
    x_shape = w_shape = None
    y_shape = tuple(call["grad_output"].shape)
    if want == {"bias"}:  # grad_output (and output) alone
        if len(y_shape) != 4:
            raise ValueError(f"{op}: grad_output must be 4-d or 3-d unbatched, got shape {y_shape[int(unbatched) :]}")
        output, given = arrays.get("output"), tuple(arrays["grad_output"].shape)
        if output is not None and tuple(output.shape) != given:
            raise ValueError(f"{op}: output.shape={tuple(output.shape)} must equal grad_output.shape={given}")
    else:
        x_shape, w_shape = _x_shape(op, call, input_size, unbatched), _w_shape(op, call, "weight", weight_size)
        _check_shapes(op, arrays, unbatched, x_shape, output=geometry(op, 2, x_shape, w_shape).out_shape)
    channel_shuffle_params(op, y_shape, groups, layout)  # groups divides the channels
    _check_out(call, want, input=x_shape, weight=w_shape, bias=(y_shape[-1 if layout == "NHWC" else 1],))

    chain = _Chain(op, want, call, arrays, unbatched, out, dtype, stream)
    g = chain.times_derivative(chain["grad_output"], chain["output"], activation, negative_slope)
    g = channel_shuffle_input(g, groups, layout=layout, stream=stream)  # back to the conv's channel order
    results: dict[str, Any] = {}
    if "bias" in want:
        results["bias"] = chain.bias_grad("bias", g, layout)
    if "weight" in want:
        results["weight"] = chain.weight_grad("weight", geometry, chain["input"], w_shape, g)
    if "input" in want:
        results["input"] = chain.input_grad(geometry, x_shape, chain["weight"], g, "input")
    return chain.finish(results)


def _smooth_weight_grad(chain: _Chain, x, w_shape: tuple[int, ...], g, params, upsample) -> Any:
    """resize_conv2d's weight gradient in the bilinear and bicubic modes: x upsampled as the forward upsamples it
    (into an intermediate of the compute dtype, scale_factor**2 times x's size), then conv's weight gradient over
    that image (`params`: the conv over it)."""
    call = Call(chain.op, {"x": x, "grad_output": g}, outs={"out": chain.outs.get("weight")}, stream=chain.stream)
    call.float_result(chain.weight_dtype)
    up = interpolated(call, upsample)
    gy = call.compute_input("grad_output")
    return call.run(w_shape, lambda target: core.weight_grad(call, params, up, gy, target))


def resize_conv(
    op: str,
    want: frozenset[str],
    arrays: dict,
    input_size=None,
    weight_size=None,
    *,
    scale_factor=2,
    mode="nearest",
    align_corners=None,
    padding="same",
    padding_mode="zeros",
    stride=1,
    dilation=1,
    groups=1,
    layout,
    activation,
    negative_slope,
    out,
    dtype,
    stream,
) -> dict[str, Any]:
    """The gradients `want` (names of ONE_WEIGHT) of one resize_conv2d call. `arrays`: input (or `input_size`),
    weight (or `weight_size`), grad_output, output."""
    layout = layout or "NCHW"
    options = dict(stride=stride, padding=padding, dilation=dilation, groups=groups, padding_mode=padding_mode)
    call, unbatched = _begin(op, want, arrays, out, dtype, stream, activation, negative_slope)

    def resize_geometry(op: str, nd: int, x_shape: tuple, w_shape: tuple):
        return resize_conv_params(op, x_shape, w_shape, scale_factor=scale_factor, layout=layout, **options)

    x_shape, w_shape = _x_shape(op, call, input_size, unbatched), _w_shape(op, call, "weight", weight_size)
    params = resize_geometry(op, 2, x_shape, w_shape)
    upsample = resize_interpolation(op, x_shape, params.scale, mode, align_corners, layout)
    _check_shapes(op, arrays, unbatched, x_shape, output=params.out_shape)
    _check_out(call, want, input=x_shape, weight=w_shape, bias=(params.out_channels,))

    chain = _Chain(op, want, call, arrays, unbatched, out, dtype, stream)
    g = chain.times_derivative(chain["grad_output"], chain["output"], activation, negative_slope)
    results: dict[str, Any] = {}
    if "bias" in want:
        results["bias"] = chain.bias_grad("bias", g, layout)
    if "weight" in want:
        if upsample is None:  # nearest: x read through the forward's remapped index tables
            results["weight"] = chain.weight_grad("weight", resize_geometry, chain["input"], w_shape, g)
        else:
            conv = replace(params, scale=(1, 1))  # the conv over the upsampled image
            results["weight"] = _smooth_weight_grad(chain, chain["input"], w_shape, g, conv, upsample)
    if "input" in want:
        up_shape = join_shape(params.batch, params.in_channels, params.in_spatial, params.channels_last)
        conv_geometry = core.conv_geometry(stride, padding, dilation, groups, padding_mode, False, layout)
        g_up = chain.input_grad(conv_geometry, up_shape, chain["weight"], g)
        final = dict(layout=layout, out=chain.outs.get("input"), dtype=chain.grad_dtype, stream=stream)
        if upsample is None:
            results["input"] = unpool2d_input(g_up, params.scale, "nearest", **final)
        else:
            results["input"] = interpolate_input(x_shape, g_up, None, params.scale, mode, align_corners, **final)
    return chain.finish(results)
