"""The convolution family's gradients behind numbaconv.grad: the adjoint geometries, the checks, the launches.

As JAX's ``_conv_general_dilated_transpose_lhs/rhs``, every gradient is one of the package's own primitives with
roles swapped:

- a conv's input gradient is the transpose conv of grad_output with the same weight, stride, dilation and groups
  (taps reversed for ``flip=True``), cropped by the conv's padding to the input; with a padding mode other than
  zeros it runs onto the padded input, whose gradient is then folded back onto the pixels the padding copied;
- a transpose conv's input gradient is the conv of grad_output with the same weight and geometry (its adjoint
  conv), cropped to the input;
- a conv's weight gradient sums grad_output times the input each tap reads over images and output pixels:
  GEMM-shaped, im2col + BLAS on the CPU, one thread per weight element on CUDA; a transpose conv's weight
  gradient is its adjoint conv's, with the input and grad_output exchanged.

Every shape, dtype and argument is checked before any kernel runs; the fused activation's derivative runs once,
into a compute-dtype copy of grad_output, before the rest.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from . import _cpu, _cuda, _gpu
from ._algorithms import select, select_transpose
from ._arrays import backend_of
from ._call import Call
from ._launch_conv import launch as launch_conv
from ._launch_transpose import launch as launch_transpose
from ._params import (
    ACTIVATIONS,
    CHANNELS_FIRST,
    CHANNELS_LAST,
    ConvParams,
    conv_params,
    index_map,
    is_int,
    join_shape,
    pad3,
    show,
    spatial_layout,
    split_shape,
)
from ._params_transpose import ConvTransposeParams, conv_transpose_params
from ._types import Layout
from .conv import depthwise_groups

Params = ConvParams | ConvTransposeParams
# (op, nd, input shape, weight shape) -> the forward's params, every rule checked: a family's geometry with the
# call's stride, padding, ... bound (conv_params, conv_transpose_params, ...).
Geometry = Callable[[str, int, tuple, tuple], Params]

# ---- the forwards' geometries (a family's params builder with the call's options bound) ----


def conv_geometry(stride, padding, dilation, groups, padding_mode, flip, layout) -> Geometry:
    return functools.partial(
        conv_params,
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
        padding_mode=padding_mode,
        flip=flip,
        layout=layout,
    )


def depthwise_geometry(stride, padding, dilation, padding_mode, flip, layout) -> Geometry:
    """depthwise_conv2d's: groups = the input's channels, taken from its shape."""

    def geometry(op: str, nd: int, x_shape: tuple, w_shape: tuple):
        groups = depthwise_groups(op, x_shape, w_shape, layout or "NCHW")
        return conv_geometry(stride, padding, dilation, groups, padding_mode, flip, layout)(op, nd, x_shape, w_shape)

    return geometry


def unit_kernel_shape(op: str, shape: tuple) -> tuple:
    if len(shape) == 2:
        return (*shape, 1, 1)
    if len(shape) == 4 and tuple(shape[2:]) == (1, 1):
        return shape
    raise ValueError(f"{op}: weight shape {shape} must be (C_out, C_in) or (C_out, C_in, 1, 1)")


def pointwise_geometry(groups, layout) -> Geometry:
    """pointwise_conv2d's: a 1x1 conv whose weight may be (C_out, C_in / groups)."""

    def geometry(op: str, nd: int, x_shape: tuple, w_shape: tuple):
        return conv_params(op, nd, x_shape, unit_kernel_shape(op, w_shape), groups=groups, layout=layout)

    return geometry


def transpose_geometry(stride, padding, output_padding, groups, dilation, output_size, layout) -> Geometry:
    return functools.partial(
        conv_transpose_params,
        stride=stride,
        padding=padding,
        output_padding=output_padding,
        groups=groups,
        dilation=dilation,
        output_size=output_size,
        layout=layout,
    )


# ---- adjoint geometry ----


def _layout(params: Params) -> Layout:
    return (CHANNELS_LAST if params.channels_last else CHANNELS_FIRST)[params.nd]


def conv_adjoint(params: ConvParams) -> ConvTransposeParams:
    """The transpose conv taking conv `params`'s output gradient to its input's (zero padding: cropped by the
    padding) or to its padded input's (other modes: nothing cropped). output_padding reaches the padded pixels
    past the last window, which no tap reads."""
    padded = tuple(n + lo + hi for n, (lo, hi) in zip(params.in_spatial, params.padding, strict=True))
    dims = zip(padded, params.out_spatial, params.stride, params.dilation, params.kernel, strict=True)
    extra = tuple(size - ((o - 1) * s + d * (k - 1) + 1) for size, o, s, d, k in dims)
    crop = params.padding if params.padding_mode == "zeros" else ((0, 0),) * params.nd
    adjoint = conv_transpose_params(
        params.op,
        params.nd,
        params.out_shape,
        (params.out_channels, params.in_per_group, *params.kernel),
        stride=params.stride,
        padding=crop,
        output_padding=extra,
        groups=params.groups,
        dilation=params.dilation,
        layout=_layout(params),
    )
    return replace(adjoint, flip=params.flip)


def transpose_adjoint(params: ConvTransposeParams) -> ConvParams:
    """The conv taking transpose conv `params`'s output gradient to its input's: the same weight, stride,
    dilation and groups over grad_output, ``pad_lo`` in front; its output is `params`'s input size (past it lie
    the output_padding pixels, which no input reaches)."""
    pads = tuple((lo, max(hi - q, 0)) for (lo, hi), q in zip(params.padding, params.output_padding, strict=True))
    adjoint = conv_params(
        params.op,
        params.nd,
        params.out_shape,
        (params.in_channels, params.out_per_group, *params.kernel),
        stride=params.stride,
        padding=pads,
        dilation=params.dilation,
        groups=params.groups,
        layout=_layout(params),
    )
    return replace(adjoint, out_spatial=params.in_spatial)


def weight_shape(params: Params) -> tuple[int, ...]:
    if isinstance(params, ConvTransposeParams):
        return (params.in_channels, params.out_per_group, *params.kernel)
    return (params.out_channels, params.in_per_group, *params.kernel)


@functools.lru_cache(maxsize=64)
def fold_tables(params: ConvParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per spatial dim, (size, width): the positions of the padded input that hold a copy of input pixel i
    (padding_mode's remapping, `index_map` with one tap, inverted), -1 after the last; padded to 3 dims."""
    tables = []
    for n, (lo, hi) in zip(params.in_spatial, params.padding, strict=True):
        source = index_map(n, n + lo + hi, 1, 1, 1, lo, params.padding_mode)[:, 0]
        held = np.flatnonzero(source >= 0)
        order = held[np.argsort(source[held], kind="stable")]  # padded positions grouped by pixel, each in order
        pixels = source[order]
        counts = np.bincount(pixels, minlength=n)
        table = np.full((n, max(1, int(counts.max(initial=0)))), -1, dtype=np.int64)
        table[pixels, np.arange(order.size) - (np.cumsum(counts) - counts)[pixels]] = order
        tables.append(table)
    one = np.zeros((1, 1), dtype=np.int64)
    fd, fh, fw = [one] * (3 - params.nd) + tables
    return fd, fh, fw


@_cuda.device_cache(maxsize=64)
def device_fold_tables(params: ConvParams):
    return tuple(_cuda.to_device(t.astype(_gpu.index_dtype(t.max() + 1)), 0) for t in fold_tables(params))


# ---- launches (arrays as the kernels see them: Call.compute_input on the CPU, Numba views on CUDA) ----


def _views5(call: Call, nd: int, channels_last: bool, *arrays):
    to5 = _cuda.view5 if call.is_cuda else _cpu.to5d
    return tuple(to5(a, nd, channels_last) for a in arrays)


def input_grad(call: Call, params: Params, gy, weight, out) -> None:
    """Fill `out` with the input gradient of conv or transpose conv `params` (`gy`: grad_output, activation's
    derivative already applied)."""
    if isinstance(params, ConvTransposeParams):
        conv = transpose_adjoint(params)
        bias = call.bias(None, conv.out_channels)
        launch_conv(call, conv, select(conv, "auto", call.backend), gy, weight, bias, out)
        return
    adjoint = conv_adjoint(params)
    kernel = select_transpose(adjoint, "auto", call.backend)
    bias = call.bias(None, adjoint.out_channels)
    if params.padding_mode == "zeros":
        launch_transpose(call, adjoint, kernel, gy, weight, bias, out)
        return
    padded = call.empty(adjoint.out_shape, call.compute)
    launch_transpose(call, adjoint, kernel, gy, weight, bias, padded)
    g5, out5 = _views5(call, params.nd, params.channels_last, padded, out)
    if call.is_cuda:
        from .kernels import grad_conv_cuda as k

        launcher = k.fold_padding_cuda(call.compute.name)[_cuda.launch_1d(math.prod(out5.shape)) + (call.stream,)]
        launcher(g5, *device_fold_tables(params), params.channels_last, out5)
    else:
        from .kernels import grad_conv as k

        k.fold_padding_cpu(g5, *fold_tables(params), out5.dtype.type, out5)


def weight_grad(call: Call, params: Params, x, gy, out) -> None:
    """Fill `out` (the weight's shape) with the weight gradient of conv or transpose conv `params` (`x`: the
    forward's input, `gy`: grad_output with the activation's derivative applied)."""
    if isinstance(params, ConvTransposeParams):
        params, x, gy = transpose_adjoint(params), gy, x
    x5, gy5 = _views5(call, params.nd, params.channels_last, x, gy)
    if call.is_cuda:
        from .kernels import grad_conv_cuda as k

        gw5 = _cuda.view5(out, params.nd, False)
        launcher = k.conv_weight_grad_cuda(call.compute.name)[_cuda.launch_1d(math.prod(gw5.shape)) + (call.stream,)]
        launcher(x5, gy5, *_gpu.device_index_maps(params), params.groups, gw5)
        return
    with np.errstate(all="ignore"):  # a NaN or Inf the data carries into BLAS is a result, not a warning
        _weight_grad_gemm(params, x5, gy5, out)


def _weight_grad_gemm(params: ConvParams, x5, gy5, out) -> None:
    """Per group, image and bounded tile of output rows: im2col of the input (kernels/conv.py, with the forward's
    index tables), then one BLAS GEMM grad_output tile x columns^T added into the group's weight rows."""
    from .kernels import conv as k

    c_group, o_group = params.in_per_group, params.out_per_group
    reduction = c_group * math.prod(params.kernel)
    o_w = params.out_spatial[-1]
    n_rows = math.prod(params.out_spatial[:-1])
    tile = max(1, min(n_rows, _cpu.WORKSPACE_BYTES // (reduction * o_w * x5.itemsize)))
    col = _cpu.workspace("grad_col", (reduction, tile * o_w), x5.dtype)
    part = _cpu.workspace("grad_part", (o_group, reduction), x5.dtype)
    gw = out.reshape(params.out_channels, reduction)  # `out` is C-contiguous: a view
    gw[:] = 0
    md, mh, mw = _cpu.index_maps(params)
    for g in range(params.groups):
        c0, o0 = g * c_group, g * o_group
        for n in range(params.batch):
            rows_of_gy = gy5[n, o0 : o0 + o_group].reshape(o_group, -1)  # a view in either layout
            for row0 in range(0, n_rows, tile):
                p0, p1 = row0 * o_w, min(n_rows, row0 + tile) * o_w
                cols = col[:, : p1 - p0]
                k.im2col_cpu(x5, n, c0, md, mh, mw, *pad3(params.kernel, 1), *params.row_interior(), row0, cols)
                np.matmul(rows_of_gy[:, p0:p1], cols.T, out=part)
                gw[o0 : o0 + o_group] += part


def bias_grad(call: Call, gy, nd: int, channels_last: bool, out) -> None:
    """Fill `out` (C,) with the sums of grad_output's channels over the batch and every pixel."""
    (gy5,) = _views5(call, nd, channels_last, gy)
    if call.is_cuda:
        from .kernels import grad_conv_cuda as k

        k.channel_sum_cuda(call.compute.name)[_cuda.launch_1d(out.shape[0]) + (call.stream,)](gy5, out)
    else:
        from .kernels import grad_conv as k

        k.channel_sum_cpu(gy5, out.dtype.type, out)


def activation_grad(call: Call, activation, negative_slope: float, gy, y, out) -> None:
    """Fill `out` (C-contiguous, compute dtype, gy's shape) with gy times the activation's derivative at the
    forward's output y. The constants are (negative_slope, 0, 1, 6), as kernels/_epilogue.py reads them."""
    code, consts = ACTIVATIONS[activation], (negative_slope, 0, 1, 6)
    if call.is_cuda:
        from .kernels import grad_conv_cuda as k

        g5, y5, out5 = (_as5d(a) for a in (gy, y, out))
        launch = _cuda.launch_1d(math.prod(out5.shape)) + (call.stream,)
        k.activation_backward_cuda(call.compute.name)[launch](
            g5, y5, code, _gpu.device_constant(consts, call.compute.name), out5
        )
    else:
        from .kernels import grad_conv as k

        k.activation_backward_cpu(gy.reshape(-1), y.reshape(-1), code, np.array(consts, out.dtype), out.reshape(-1))


def _as5d(a):
    """A device array of at most 5 dims as a 5-D view (leading axes of 1), any strides."""
    lead = 5 - len(a.shape)
    return _cuda.restride(a, (1,) * lead + tuple(a.shape), (0,) * lead + tuple(a.strides))


def _unit_kernel(call: Call, a, shape: tuple[int, ...]):
    """A weight (or weight gradient) given without some of its axes of 1 viewed as `shape`: a pointwise
    (C_out, C_in) as (C_out, C_in, 1, 1), a spatially separable pass's (C_o, C_i, k) as (C_o, C_i, k, 1) or
    (C_o, C_i, 1, k) (any other array as it is). Axes are matched in order; a left-out axis gets stride 0."""
    if tuple(a.shape) == tuple(shape):
        return a
    if not call.is_cuda:
        return a.reshape(shape)  # inserting axes of 1 is always a view
    axes, strides = list(zip(a.shape, a.strides, strict=True)), []
    for n in shape:
        strides.append(axes.pop(0)[1] if axes and axes[0][0] == n else 0)
    return _cuda.restride(a, tuple(shape), tuple(strides))


# ---- checks ----


def shape_argument(op: str, name: str, value) -> tuple[int, ...]:
    """A shape argument (input_size, weight_size) as a tuple of non-negative ints."""
    if not isinstance(value, (tuple, list)) or not all(is_int(v) for v in value):
        raise TypeError(f"{op}: {name}={show(value)!r} must be a shape: a sequence of ints")
    shape = tuple(int(v) for v in value)
    if any(v < 0 for v in shape):
        raise ValueError(f"{op}: {name}={shape} must have no negative size")
    return shape


def check_activation(op: str, activation, negative_slope, output) -> None:
    """The fused activation's rules: a known name, `output` given exactly when there is an activation, and a
    leaky_relu slope whose sign keeps the output's sign that of the input."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"{op}: activation={activation!r} is not one of {', '.join(map(repr, ACTIVATIONS))}")
    if not isinstance(negative_slope, (int, float, np.floating, np.integer)) or isinstance(negative_slope, bool):
        raise TypeError(f"{op}: negative_slope={negative_slope!r} must be a real number")
    if activation is not None and output is None:
        raise ValueError(
            f"{op}: activation={activation!r} needs output=, the forward's saved output (after the activation), "
            f"to compute the activation's derivative"
        )
    if activation is None and output is not None:
        raise ValueError(f"{op}: output= is read only with activation= (the forward's fused activation); pass both")
    if activation == "leaky_relu" and negative_slope < 0:
        raise ValueError(
            f"{op}: negative_slope={negative_slope} must be >= 0 with activation='leaky_relu': the derivative is read "
            f"from the output's sign, which a negative slope flips"
        )


def check_grad_output(op: str, params: Params, arrays: dict, unbatched: bool) -> None:
    """grad_output (and output) have the forward's output shape, as the caller passed them (unbatched or not)."""
    want = params.out_shape[1:] if unbatched else params.out_shape
    for name in ("grad_output", "output"):
        a = arrays.get(name)
        if a is None:
            continue
        got = tuple(a.shape)[1:] if unbatched else tuple(a.shape)
        if got != want:
            raise ValueError(
                f"{op}: {name}.shape={got} must equal the forward's output shape {want} (input "
                f"{_caller_shape(params, unbatched)}, weight {weight_shape(params)}, these stride, padding, "
                f"dilation and groups)"
            )


def input_shape(op: str, nd: int, input_size, unbatched: bool) -> tuple[int, ...]:
    """`input_size` checked (a shape of nd + 2 dims, nd + 1 when grad_output is unbatched) and batched."""
    size = shape_argument(op, "input_size", input_size)
    if len(size) != nd + 1 + (not unbatched):
        rule = f"{nd + 1} dims (C, *spatial), as grad_output is unbatched" if unbatched else f"{nd + 2} dims"
        raise ValueError(f"{op}: input_size={size} must have {rule}")
    return (1, *size) if unbatched else size


def _caller_shape(params: Params, unbatched: bool) -> tuple[int, ...]:
    shape = join_shape(params.batch, params.in_channels, params.in_spatial, params.channels_last)
    return shape[1:] if unbatched else shape


# ---- the four gradients of one call ----


def _effective(call: Call, activation, negative_slope: float):
    """grad_output as the kernels see it, times the activation's derivative when there is an activation (into a
    new compute-dtype array: the caller's grad_output is never written)."""
    gy = call.compute_input("grad_output")
    if activation is None:
        return gy
    out = call.empty(tuple(gy.shape), call.compute)
    activation_grad(call, activation, negative_slope, gy, call.compute_input("output"), out)
    return out


def start_call(op: str, nd: int, arrays: dict, out, dtype, stream, activation, negative_slope, result: bool):
    """The call of a gradient: backend, dtypes, the unbatched lead axis, the activation's rules. Returns (call,
    whether the caller's arrays were unbatched)."""
    call = Call(op, arrays, outs={"out": out}, stream=stream).float_result(dtype)
    first = next(iter(arrays))
    call.real(*[name for name in arrays if name != first])
    unbatched = call.x.ndim == nd + 1
    call.unbatched(nd, *[name for name in ("grad_output", "output") if name in arrays and name != first], result=result)
    check_activation(op, activation, negative_slope, arrays.get("output"))
    return call, unbatched


def input_gradient(
    op: str,
    nd: int,
    geometry: Geometry,
    input_size,
    weight,
    grad_output,
    activation,
    output,
    negative_slope,
    out,
    dtype,
    stream,
):
    """The gradient w.r.t. the input of the forward call `geometry` describes (numbaconv.grad.conv2d_input ...)."""
    arrays = {"grad_output": grad_output, "weight": weight, "output": output}
    call, unbatched = start_call(op, nd, arrays, out, dtype, stream, activation, negative_slope, True)
    x_shape = input_shape(op, nd, input_size, unbatched)
    params = geometry(op, nd, x_shape, tuple(call["weight"].shape))
    check_grad_output(op, params, call.arrays, unbatched)
    call.check_out(x_shape)
    weight = _unit_kernel(call, call.compute_input("weight"), weight_shape(params))

    def fill(target):
        input_grad(call, params, _effective(call, activation, negative_slope), weight, target)

    return call.run(x_shape, fill)


def weight_gradient(
    op: str,
    nd: int,
    geometry: Geometry,
    input,
    weight_size,
    grad_output,
    activation,
    output,
    negative_slope,
    out,
    dtype,
    stream,
):
    """The gradient w.r.t. the weight of the forward call `geometry` describes (numbaconv.grad.conv2d_weight ...)."""
    arrays = {"input": input, "grad_output": grad_output, "output": output}
    call, unbatched = start_call(op, nd, arrays, out, dtype, stream, activation, negative_slope, False)
    size = shape_argument(op, "weight_size", weight_size)
    params = geometry(op, nd, tuple(call.x.shape), size)
    check_grad_output(op, params, call.arrays, unbatched)
    call.check_out(size)
    x = call.compute_input("input")

    def fill(target):
        gy = _effective(call, activation, negative_slope)
        weight_grad(call, params, x, gy, _unit_kernel(call, target, weight_shape(params)))

    return call.run(size, fill)


def bias_gradient(op: str, nd: int, grad_output, layout, activation, output, negative_slope, out, dtype, stream):
    """The gradient w.r.t. the bias: grad_output (times the activation's derivative) summed per channel."""
    arrays = {"grad_output": grad_output, "output": output}
    call, unbatched = start_call(op, nd, arrays, out, dtype, stream, activation, negative_slope, False)
    layout = CHANNELS_FIRST[nd] if layout is None else layout
    channels_last = spatial_layout(op, layout, nd)
    shape = tuple(call.x.shape)
    if len(shape) != nd + 2:
        raise ValueError(f"{op}: grad_output must be {nd + 2}-d ({layout}) or {nd + 1}-d unbatched, got shape {shape}")
    if output is not None and tuple(call["output"].shape) != shape:
        got, want = (tuple(call["output"].shape)[unbatched:], shape[unbatched:])
        raise ValueError(f"{op}: output.shape={got} must equal grad_output.shape={want}")
    channels = split_shape(shape, channels_last)[1]
    call.check_out((channels,))
    return call.run(
        (channels,),
        lambda target: bias_grad(call, _effective(call, activation, negative_slope), nd, channels_last, target),
    )


def activation_gradient(op: str, grad_output, output, activation, negative_slope, out, dtype, stream):
    """grad_output times the activation's derivative at the forward's output (numbaconv.grad.activation_backward)."""
    call = Call(op, {"grad_output": grad_output, "output": output}, outs={"out": out}, stream=stream)
    call.float_result(dtype).real("output")
    if activation is None:
        names = ", ".join(repr(name) for name in ACTIVATIONS if name is not None)
        raise ValueError(f"{op}: activation=None has no derivative to apply; pass one of {names}")
    check_activation(op, activation, negative_slope, output)
    shape = tuple(call.x.shape)
    if tuple(call["output"].shape) != shape:
        raise ValueError(f"{op}: output.shape={tuple(call['output'].shape)} must equal grad_output.shape={shape}")
    if call.is_cuda and len(shape) > 5:
        raise NotImplementedError(f"{op}: CUDA arrays of at most 5 dims are supported, got shape {shape}")
    call.check_out(shape)
    gy, y = call.compute_input("grad_output"), call.compute_input("output")
    return call.run(shape, lambda target: activation_grad(call, activation, negative_slope, gy, y, target))


def backward(
    op: str,
    nd: int,
    geometry: Geometry,
    layout,
    input,
    weight,
    grad_output,
    bias: bool,
    activation,
    output,
    negative_slope,
    dtype,
    stream,
):
    """(grad_input, grad_weight, grad_bias or None) of one forward call, the activation's derivative applied once;
    every check of the three runs before any kernel."""
    backend_of(op, input=input, weight=weight, grad_output=grad_output, output=output)
    arrays: dict[str, Any] = {"input": input, "weight": weight, "grad_output": grad_output, "output": output}
    call, unbatched = start_call(op, nd, arrays, None, dtype, stream, activation, negative_slope, False)
    params = geometry(op, nd, tuple(call.x.shape), tuple(call["weight"].shape))
    check_grad_output(op, params, call.arrays, unbatched)
    if activation is not None:
        grad_output = activation_gradient(op, grad_output, output, activation, negative_slope, None, dtype, stream)
    plain = dict(activation=None, output=None, negative_slope=negative_slope, out=None, dtype=dtype, stream=stream)
    grad_input = input_gradient(op, nd, geometry, tuple(input.shape), weight, grad_output, **plain)
    grad_weight = weight_gradient(op, nd, geometry, input, tuple(weight.shape), grad_output, **plain)
    grad_bias = bias_gradient(op, nd, grad_output, layout, **plain) if bias else None
    return grad_input, grad_weight, grad_bias
