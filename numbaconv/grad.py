"""Gradients of numbaconv's ops, for training with NumPy and CUDA arrays; torch.nn.grad's names where it has them.

For an op ``f`` of the convolution family, ``f_input`` is the gradient of a loss w.r.t. its input given the
gradient w.r.t. its output (``grad_output``), ``f_weight`` w.r.t. its weight, ``f_bias`` w.r.t. its bias, and
``f_backward`` all three in one call. Each takes the forward call's options (stride, padding in every form,
dilation, groups, padding_mode, flip, output_padding / output_size, layout), checks that the shapes agree with
the forward's geometry before any kernel runs, and undoes a fused activation first when given the forward's
saved ``output``. They run on kernels, not on a tape: the input gradient of a conv is a transpose conv (and
that of a transpose conv a conv), the weight gradient a reduction over images and pixels; every result is written
once, in a fixed order, so it is the same on every run. ``activation_backward`` is the fused activation's own.

For pooling, unpooling, interpolation and the shuffles, ``{op}_input(input_size, grad_output, <saved arrays>,
<the forward's arguments>)`` is the gradient w.r.t. the input: the saved arrays are what the forward returned
besides (max pooling's indices), the arguments the forward's own, in its order. Results are of grad_output's array
kind (NumPy in, NumPy out; CUDA in, CUDA out). These names are not in ``numbaconv.__all__``: use
``numbaconv.grad.<name>``. See docs/ops_grad.md.

Examples
--------
>>> import numpy as np, numbaconv
>>> from numbaconv import grad
>>> x = np.array([[[1.0, 3.0, 2.0, 0.0]]])
>>> y, i = numbaconv.max_pool1d(x, 2, return_indices=True)
>>> grad.max_pool1d_input(x.shape, np.ones_like(y), i, 2)
array([[[0., 1., 1., 0.]]])
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from . import _grad_conv as core
from . import _grad_pool
from ._grad_pool import *  # noqa: F403  (pooling, unpooling, interpolation, shuffles: their module)
from ._params import conv_params
from ._params_transpose import conv_transpose_params
from ._types import (
    Activation,
    Array,
    DTypeLike,
    IntOrTuple,
    Layout,
    Layout2d,
    Padding,
    PaddingMode,
    Shape,
    Stream,
    TransposePadding,
    for_dims,
)
from .conv import depthwise_groups

__all__ = [
    # pooling, unpooling, interpolation, shuffles (section at the end)
    *_grad_pool.__all__,
    # convolution
    "activation_backward",
    "conv1d_backward",
    "conv1d_bias",
    "conv1d_input",
    "conv1d_weight",
    "conv2d_backward",
    "conv2d_bias",
    "conv2d_input",
    "conv2d_weight",
    "conv3d_backward",
    "conv3d_bias",
    "conv3d_input",
    "conv3d_weight",
    "conv_transpose1d_backward",
    "conv_transpose1d_bias",
    "conv_transpose1d_input",
    "conv_transpose1d_weight",
    "conv_transpose2d_backward",
    "conv_transpose2d_bias",
    "conv_transpose2d_input",
    "conv_transpose2d_weight",
    "conv_transpose3d_backward",
    "conv_transpose3d_bias",
    "conv_transpose3d_input",
    "conv_transpose3d_weight",
    "depthwise_conv2d_backward",
    "depthwise_conv2d_bias",
    "depthwise_conv2d_input",
    "depthwise_conv2d_weight",
    "pointwise_conv2d_backward",
    "pointwise_conv2d_bias",
    "pointwise_conv2d_input",
    "pointwise_conv2d_weight",
]

# ---- convolution ----

_INPUT_SIZE = """
    input_size : tuple of ints
        The forward input's shape in ``layout`` (``(C, *spatial)`` when ``grad_output`` is unbatched).
    weight : ndarray
        The forward's weight.
    grad_output : ndarray
        The gradient w.r.t. the forward's output, of its shape."""
_WEIGHT_SIZE = """
    input : ndarray
        The forward's input.
    weight_size : tuple of ints
        The forward weight's shape.
    grad_output : ndarray
        The gradient w.r.t. the forward's output, of its shape."""
_BACKWARD_ARRAYS = """
    input, weight : ndarray
        The forward's input and weight.
    grad_output : ndarray
        The gradient w.r.t. the forward's output, of its shape.
    bias : bool
        Whether to compute the bias gradient (else None is returned in its place)."""
_ACTIVATION = """
    activation : {None, "relu", "relu6", "leaky_relu", "sigmoid", "tanh"}
        The forward's fused activation: ``grad_output`` is first multiplied by its derivative, read from ``output``
        (see :func:`activation_backward`).
    output : ndarray, optional
        The forward's result (after the activation); required with ``activation``, refused without it.
    negative_slope : float
        ``"leaky_relu"``'s slope, at least 0."""
_TAIL = """
    out : ndarray, optional
        C-contiguous result array of the exact shape and dtype, not overlapping any input.
    dtype : dtype, optional
        Result dtype (float16, float32 or float64; float16 computes in float32); required for integer input.
        Defaults to the dtype of the first array argument.
    stream : optional
        CUDA arrays only: the stream to launch on (by default CuPy's / torch's current stream)."""
_BACKWARD_TAIL = """
    dtype, stream
        As the other gradients'.

    Returns
    -------
    tuple
        ``(grad_input, grad_weight, grad_bias)``, ``grad_bias`` None with ``bias=False``: the results of the
        ``_input``, ``_weight`` and ``_bias`` gradients, the activation's derivative applied once."""


def _options(forward: str, extra: str = "") -> str:
    names = "stride, padding, dilation, groups, padding_mode, flip, layout" if not extra else extra
    return f"""
    {names}
        The forward call's, as :func:`numbaconv.{forward}` takes them (``layout`` describes the input,
        ``grad_output`` and ``output``; the weight is channels-first)."""


def _doc(summary: str, arguments: str, returns: str, example: str) -> str:
    return f"""{summary}

    Parameters
    ----------{arguments}
{returns}
    Examples
    --------
    >>> import numpy as np, numbaconv{example}
"""


def _returns(what: str) -> str:
    return f"""
    Returns
    -------
    ndarray
        {what}, of the first array argument's kind (CUDA in, CUDA out).
"""


def _input_doc(forward: str, how: str, options: str, example: str) -> str:
    return _doc(
        f"Gradient of :func:`numbaconv.{forward}` w.r.t. its input: {how}.",
        _INPUT_SIZE + options + _ACTIVATION + _TAIL,
        _returns("Of ``input_size``"),
        example,
    )


def _weight_doc(forward: str, options: str, example: str) -> str:
    return _doc(
        f"Gradient of :func:`numbaconv.{forward}` w.r.t. its weight: the sum over images and output pixels of "
        f"``grad_output`` times the input each tap reads.",
        _WEIGHT_SIZE + options + _ACTIVATION + _TAIL,
        _returns("Of ``weight_size``"),
        example,
    )


def _bias_doc(forward: str, example: str) -> str:
    return _doc(
        f"Gradient of :func:`numbaconv.{forward}` w.r.t. its bias: ``grad_output`` summed over the batch and every "
        f"pixel, per channel.",
        """
    grad_output : ndarray
        The gradient w.r.t. the forward's output.
    layout : str, optional
        The forward's layout (channels-first by default)."""
        + _ACTIVATION
        + _TAIL,
        _returns("``(C_out,)``"),
        example,
    )


def _backward_doc(forward: str, options: str, example: str) -> str:
    return _doc(
        f"Gradients of :func:`numbaconv.{forward}` w.r.t. its input, weight and bias in one call.",
        _BACKWARD_ARRAYS + options + _ACTIVATION + _BACKWARD_TAIL,
        "",
        example,
    )


def _conv_input(
    op: str,
    nd: int,
    /,
    input_size: Shape,
    weight: Array,
    grad_output: Array,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
    *,
    padding_mode: PaddingMode = "zeros",
    flip: bool = False,
    layout: Layout | None = None,
    activation: Activation = None,
    output: Array | None = None,
    negative_slope: float = 0.01,
    out: Array | None = None,
    dtype: DTypeLike | None = None,
    stream: Stream = None,
) -> Array:
    geometry = _conv_geometry(stride, padding, dilation, groups, padding_mode, flip, layout)
    return core.input_gradient(
        op, nd, geometry, input_size, weight, grad_output, activation, output, negative_slope, out, dtype, stream
    )


def _conv_weight(
    op: str,
    nd: int,
    /,
    input: Array,
    weight_size: Shape,
    grad_output: Array,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
    *,
    padding_mode: PaddingMode = "zeros",
    flip: bool = False,
    layout: Layout | None = None,
    activation: Activation = None,
    output: Array | None = None,
    negative_slope: float = 0.01,
    out: Array | None = None,
    dtype: DTypeLike | None = None,
    stream: Stream = None,
) -> Array:
    geometry = _conv_geometry(stride, padding, dilation, groups, padding_mode, flip, layout)
    return core.weight_gradient(
        op, nd, geometry, input, weight_size, grad_output, activation, output, negative_slope, out, dtype, stream
    )


def _bias(
    op: str,
    nd: int,
    /,
    grad_output: Array,
    *,
    layout: Layout | None = None,
    activation: Activation = None,
    output: Array | None = None,
    negative_slope: float = 0.01,
    out: Array | None = None,
    dtype: DTypeLike | None = None,
    stream: Stream = None,
) -> Array:
    return core.bias_gradient(op, nd, grad_output, layout, activation, output, negative_slope, out, dtype, stream)


def _conv_backward(
    op: str,
    nd: int,
    /,
    input: Array,
    weight: Array,
    grad_output: Array,
    *,
    bias: bool = True,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
    padding_mode: PaddingMode = "zeros",
    flip: bool = False,
    layout: Layout | None = None,
    activation: Activation = None,
    output: Array | None = None,
    negative_slope: float = 0.01,
    dtype: DTypeLike | None = None,
    stream: Stream = None,
) -> tuple[Array, Array, Array | None]:
    geometry = _conv_geometry(stride, padding, dilation, groups, padding_mode, flip, layout)
    return core.backward(
        op, nd, geometry, layout, input, weight, grad_output, bias, activation, output, negative_slope, dtype, stream
    )


def _conv_geometry(stride, padding, dilation, groups, padding_mode, flip, layout) -> core.Geometry:
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


conv1d_input = for_dims(_conv_input, "conv1d_input", 1)
conv2d_input = for_dims(_conv_input, "conv2d_input", 2)
conv3d_input = for_dims(_conv_input, "conv3d_input", 3)
conv1d_weight = for_dims(_conv_weight, "conv1d_weight", 1)
conv2d_weight = for_dims(_conv_weight, "conv2d_weight", 2)
conv3d_weight = for_dims(_conv_weight, "conv3d_weight", 3)
conv1d_bias = for_dims(_bias, "conv1d_bias", 1)
conv2d_bias = for_dims(_bias, "conv2d_bias", 2)
conv3d_bias = for_dims(_bias, "conv3d_bias", 3)
conv1d_backward = for_dims(_conv_backward, "conv1d_backward", 1)
conv2d_backward = for_dims(_conv_backward, "conv2d_backward", 2)
conv3d_backward = for_dims(_conv_backward, "conv3d_backward", 3)

_CONV_INPUT = "the transpose convolution of ``grad_output`` with the same weight and geometry"
conv1d_input.__doc__ = _input_doc(
    "conv1d",
    _CONV_INPUT,
    _options("conv1d"),
    """
    >>> w = np.array([[[1.0, 2.0, 3.0]]])  # each input pixel gets the taps whose windows cover it
    >>> numbaconv.grad.conv1d_input((1, 1, 5), w, np.ones((1, 1, 3)))
    array([[[1., 3., 6., 5., 3.]]])""",
)
conv2d_input.__doc__ = _input_doc(
    "conv2d",
    _CONV_INPUT + " (folded back onto the pixels a reflect, replicate or circular padding copied)",
    _options("conv2d"),
    """
    >>> numbaconv.grad.conv2d_input((1, 1, 4, 4), np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)))[0, 0]
    array([[1., 2., 2., 1.],
           [2., 4., 4., 2.],
           [2., 4., 4., 2.],
           [1., 2., 2., 1.]])
    >>> gx = numbaconv.grad.conv2d_input((1, 1, 4, 4), np.ones((1, 1, 3, 3)), np.ones((1, 1, 4, 4)), padding=1,
    ...                                  padding_mode="circular")
    >>> float(gx.min()), float(gx.max())  # with wrap-around every pixel is in 9 windows
    (9.0, 9.0)""",
)
conv3d_input.__doc__ = _input_doc(
    "conv3d",
    _CONV_INPUT,
    _options("conv3d"),
    """
    >>> w, gy = np.ones((4, 3, 3, 3, 3), np.float32), np.ones((2, 4, 2, 2, 2), np.float32)
    >>> numbaconv.grad.conv3d_input((2, 3, 4, 4, 4), w, gy, stride=2, padding=1).shape
    (2, 3, 4, 4, 4)""",
)
conv1d_weight.__doc__ = _weight_doc(
    "conv1d",
    _options("conv1d"),
    """
    >>> x = np.arange(5.0).reshape(1, 1, 5)
    >>> numbaconv.grad.conv1d_weight(x, (1, 1, 3), np.ones((1, 1, 3)))
    array([[[3., 6., 9.]]])""",
)
conv2d_weight.__doc__ = _weight_doc(
    "conv2d",
    _options("conv2d"),
    """
    >>> x, gy = np.ones((1, 2, 5, 5)), np.ones((1, 3, 5, 5))
    >>> numbaconv.grad.conv2d_weight(x, (3, 2, 3, 3), gy, padding=1)[0, 0]  # zero padding: border taps see less
    array([[16., 20., 16.],
           [20., 25., 20.],
           [16., 20., 16.]])
    >>> float(numbaconv.grad.conv2d_weight(x, (3, 2, 3, 3), gy, padding=1, padding_mode="replicate").min())
    25.0""",
)
conv3d_weight.__doc__ = _weight_doc(
    "conv3d",
    _options("conv3d"),
    """
    >>> x, gy = np.ones((1, 2, 4, 4, 4), np.float32), np.ones((1, 6, 2, 2, 2), np.float32)
    >>> numbaconv.grad.conv3d_weight(x, (6, 1, 3, 3, 3), gy, groups=2).shape
    (6, 1, 3, 3, 3)""",
)
conv1d_bias.__doc__ = _bias_doc(
    "conv1d",
    """
    >>> numbaconv.grad.conv1d_bias(np.ones((2, 3, 5)))
    array([10., 10., 10.])""",
)
conv2d_bias.__doc__ = _bias_doc(
    "conv2d",
    """
    >>> numbaconv.grad.conv2d_bias(np.ones((2, 4, 4, 3), np.float32), layout="NHWC")
    array([32., 32., 32.], dtype=float32)""",
)
conv3d_bias.__doc__ = _bias_doc(
    "conv3d",
    """
    >>> y = np.array([-1.0, 2.0]).reshape(1, 1, 2, 1, 1)  # a ReLU's output: no gradient where it is 0
    >>> numbaconv.grad.conv3d_bias(np.ones((1, 1, 2, 1, 1)), activation="relu", output=np.maximum(y, 0))
    array([1.])""",
)
conv1d_backward.__doc__ = _backward_doc(
    "conv1d",
    _options("conv1d"),
    """
    >>> x, w = np.ones((2, 3, 8)), np.ones((4, 3, 3))
    >>> gx, gw, gb = numbaconv.grad.conv1d_backward(x, w, np.ones((2, 4, 4)), stride=2, padding="same")
    >>> gx.shape, gw.shape, gb.shape
    ((2, 3, 8), (4, 3, 3), (4,))""",
)
conv2d_backward.__doc__ = _backward_doc(
    "conv2d",
    _options("conv2d"),
    """
    >>> rng = np.random.default_rng(0)
    >>> x, w, b = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((4, 3, 3, 3)), np.zeros(4)
    >>> y = numbaconv.conv2d(x, w, b, padding=1, activation="relu")
    >>> gx, gw, gb = numbaconv.grad.conv2d_backward(x, w, np.ones_like(y), padding=1, activation="relu", output=y)
    >>> bool(np.allclose(gb, (y > 0).sum(axis=(0, 2, 3))))  # d(sum y)/db counts the active outputs
    True""",
)
conv3d_backward.__doc__ = _backward_doc(
    "conv3d",
    _options("conv3d"),
    """
    >>> x, w = np.ones((3, 4, 4, 4)), np.ones((2, 3, 2, 2, 2))  # unbatched (C, D, H, W), as torch takes it
    >>> [g.shape for g in numbaconv.grad.conv3d_backward(x, w, np.ones((2, 3, 3, 3)))]
    [(3, 4, 4, 4), (2, 3, 2, 2, 2), (2,)]""",
)


# depthwise_conv2d: groups = the input's channels, taken from input_size / input.


def _depthwise_geometry(stride, padding, dilation, padding_mode, flip, layout) -> core.Geometry:
    def geometry(op: str, nd: int, x_shape: tuple, w_shape: tuple):
        groups = depthwise_groups(op, x_shape, w_shape, layout or "NCHW")
        return conv_params(
            op,
            nd,
            x_shape,
            w_shape,
            stride=stride,
            padding=padding,
            dilation=dilation,
            groups=groups,
            padding_mode=padding_mode,
            flip=flip,
            layout=layout,
        )

    return geometry


_DEPTHWISE_OPTIONS = _options("depthwise_conv2d", "stride, padding, dilation, padding_mode, flip, layout")


def depthwise_conv2d_input(
    input_size: Shape,
    weight: Array,
    grad_output: Array,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
    *,
    padding_mode: PaddingMode = "zeros",
    flip: bool = False,
    layout: Layout2d | None = None,
    activation: Activation = None,
    output: Array | None = None,
    negative_slope: float = 0.01,
    out: Array | None = None,
    dtype: DTypeLike | None = None,
    stream: Stream = None,
) -> Array:
    geometry = _depthwise_geometry(stride, padding, dilation, padding_mode, flip, layout)
    return core.input_gradient(
        "depthwise_conv2d_input",
        2,
        geometry,
        input_size,
        weight,
        grad_output,
        activation,
        output,
        negative_slope,
        out,
        dtype,
        stream,
    )


def depthwise_conv2d_weight(
    input: Array,
    weight_size: Shape,
    grad_output: Array,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
    *,
    padding_mode: PaddingMode = "zeros",
    flip: bool = False,
    layout: Layout2d | None = None,
    activation: Activation = None,
    output: Array | None = None,
    negative_slope: float = 0.01,
    out: Array | None = None,
    dtype: DTypeLike | None = None,
    stream: Stream = None,
) -> Array:
    geometry = _depthwise_geometry(stride, padding, dilation, padding_mode, flip, layout)
    return core.weight_gradient(
        "depthwise_conv2d_weight",
        2,
        geometry,
        input,
        weight_size,
        grad_output,
        activation,
        output,
        negative_slope,
        out,
        dtype,
        stream,
    )


def depthwise_conv2d_backward(
    input: Array,
    weight: Array,
    grad_output: Array,
    *,
    bias: bool = True,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
    padding_mode: PaddingMode = "zeros",
    flip: bool = False,
    layout: Layout2d | None = None,
    activation: Activation = None,
    output: Array | None = None,
    negative_slope: float = 0.01,
    dtype: DTypeLike | None = None,
    stream: Stream = None,
) -> tuple[Array, Array, Array | None]:
    geometry = _depthwise_geometry(stride, padding, dilation, padding_mode, flip, layout)
    return core.backward(
        "depthwise_conv2d_backward",
        2,
        geometry,
        layout,
        input,
        weight,
        grad_output,
        bias,
        activation,
        output,
        negative_slope,
        dtype,
        stream,
    )


depthwise_conv2d_bias = for_dims(_bias, "depthwise_conv2d_bias", 2)

depthwise_conv2d_input.__doc__ = _input_doc(
    "depthwise_conv2d",
    "each channel's transpose convolution with its own filters, the multiplier's outputs summed",
    _DEPTHWISE_OPTIONS,
    """
    >>> gx = numbaconv.grad.depthwise_conv2d_input((1, 2, 4, 4), np.ones((4, 1, 3, 3)), np.ones((1, 4, 2, 2)))
    >>> gx[0, 1]  # channel multiplier 2: each input channel feeds two output channels
    array([[2., 4., 4., 2.],
           [4., 8., 8., 4.],
           [4., 8., 8., 4.],
           [2., 4., 4., 2.]])""",
)
depthwise_conv2d_weight.__doc__ = _weight_doc(
    "depthwise_conv2d",
    _DEPTHWISE_OPTIONS,
    """
    >>> x, gy = np.ones((1, 2, 4, 4), np.float32), np.ones((1, 4, 2, 2), np.float32)
    >>> numbaconv.grad.depthwise_conv2d_weight(x, (4, 1, 3, 3), gy)[:, 0, 0, 0]
    array([4., 4., 4., 4.], dtype=float32)""",
)
depthwise_conv2d_bias.__doc__ = _bias_doc(
    "depthwise_conv2d",
    """
    >>> numbaconv.grad.depthwise_conv2d_bias(np.ones((1, 2, 3, 3)))
    array([9., 9.])""",
)
depthwise_conv2d_backward.__doc__ = _backward_doc(
    "depthwise_conv2d",
    _DEPTHWISE_OPTIONS,
    """
    >>> x, w = np.ones((1, 3, 5, 5)), np.ones((3, 1, 3, 3))
    >>> gx, gw, gb = numbaconv.grad.depthwise_conv2d_backward(x, w, np.ones((1, 3, 3, 3)), stride=2, padding=1)
    >>> gx.shape, gw.shape, gb.shape
    ((1, 3, 5, 5), (3, 1, 3, 3), (3,))""",
)


# pointwise_conv2d: a 1x1 conv whose weight may be (C_out, C_in / groups).


def _unit_kernel_shape(op: str, shape: tuple) -> tuple:
    if len(shape) == 2:
        return (*shape, 1, 1)
    if len(shape) == 4 and tuple(shape[2:]) == (1, 1):
        return shape
    raise ValueError(f"{op}: weight shape {shape} must be (C_out, C_in) or (C_out, C_in, 1, 1)")


def _pointwise_geometry(groups, layout) -> core.Geometry:
    def geometry(op: str, nd: int, x_shape: tuple, w_shape: tuple):
        return conv_params(op, nd, x_shape, _unit_kernel_shape(op, w_shape), groups=groups, layout=layout)

    return geometry


_POINTWISE_OPTIONS = _options("pointwise_conv2d", "groups, layout")


def pointwise_conv2d_input(
    input_size: Shape,
    weight: Array,
    grad_output: Array,
    *,
    groups: int = 1,
    layout: Layout2d | None = None,
    activation: Activation = None,
    output: Array | None = None,
    negative_slope: float = 0.01,
    out: Array | None = None,
    dtype: DTypeLike | None = None,
    stream: Stream = None,
) -> Array:
    return core.input_gradient(
        "pointwise_conv2d_input",
        2,
        _pointwise_geometry(groups, layout),
        input_size,
        weight,
        grad_output,
        activation,
        output,
        negative_slope,
        out,
        dtype,
        stream,
    )


def pointwise_conv2d_weight(
    input: Array,
    weight_size: Shape,
    grad_output: Array,
    *,
    groups: int = 1,
    layout: Layout2d | None = None,
    activation: Activation = None,
    output: Array | None = None,
    negative_slope: float = 0.01,
    out: Array | None = None,
    dtype: DTypeLike | None = None,
    stream: Stream = None,
) -> Array:
    return core.weight_gradient(
        "pointwise_conv2d_weight",
        2,
        _pointwise_geometry(groups, layout),
        input,
        weight_size,
        grad_output,
        activation,
        output,
        negative_slope,
        out,
        dtype,
        stream,
    )


def pointwise_conv2d_backward(
    input: Array,
    weight: Array,
    grad_output: Array,
    *,
    bias: bool = True,
    groups: int = 1,
    layout: Layout2d | None = None,
    activation: Activation = None,
    output: Array | None = None,
    negative_slope: float = 0.01,
    dtype: DTypeLike | None = None,
    stream: Stream = None,
) -> tuple[Array, Array, Array | None]:
    return core.backward(
        "pointwise_conv2d_backward",
        2,
        _pointwise_geometry(groups, layout),
        layout,
        input,
        weight,
        grad_output,
        bias,
        activation,
        output,
        negative_slope,
        dtype,
        stream,
    )


pointwise_conv2d_bias = for_dims(_bias, "pointwise_conv2d_bias", 2)

pointwise_conv2d_input.__doc__ = _input_doc(
    "pointwise_conv2d",
    "``weight^T`` applied to each pixel's channels",
    _POINTWISE_OPTIONS,
    """
    >>> numbaconv.grad.pointwise_conv2d_input((1, 3, 2, 2), np.ones((5, 3)), np.ones((1, 5, 2, 2)))[0, :, 0, 0]
    array([5., 5., 5.])""",
)
pointwise_conv2d_weight.__doc__ = _weight_doc(
    "pointwise_conv2d",
    _POINTWISE_OPTIONS,
    """
    >>> gw = numbaconv.grad.pointwise_conv2d_weight(np.ones((1, 3, 2, 2)), (5, 3), np.ones((1, 5, 2, 2)))
    >>> gw.shape, float(gw[0, 0])  # weight_size's own shape, 2-d here
    ((5, 3), 4.0)""",
)
pointwise_conv2d_bias.__doc__ = _bias_doc(
    "pointwise_conv2d",
    """
    >>> numbaconv.grad.pointwise_conv2d_bias(np.ones((3, 2, 2)))  # unbatched (C, H, W)
    array([4., 4., 4.])""",
)
pointwise_conv2d_backward.__doc__ = _backward_doc(
    "pointwise_conv2d",
    _POINTWISE_OPTIONS,
    """
    >>> x, w = np.ones((2, 4, 3, 3), np.float32), np.ones((6, 2), np.float32)
    >>> [g.shape for g in numbaconv.grad.pointwise_conv2d_backward(x, w, np.ones((2, 6, 3, 3), np.float32), groups=2)]
    [(2, 4, 3, 3), (6, 2), (6,)]""",
)


# conv_transpose1d/2d/3d: torch's positional order stride, padding, output_padding, groups, dilation.


def _transpose_geometry(stride, padding, output_padding, groups, dilation, output_size, layout) -> core.Geometry:
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


def _conv_transpose_input(
    op: str,
    nd: int,
    /,
    input_size: Shape,
    weight: Array,
    grad_output: Array,
    stride: IntOrTuple = 1,
    padding: TransposePadding = 0,
    output_padding: IntOrTuple = 0,
    groups: int = 1,
    dilation: IntOrTuple = 1,
    *,
    output_size: Sequence[int] | None = None,
    layout: Layout | None = None,
    activation: Activation = None,
    output: Array | None = None,
    negative_slope: float = 0.01,
    out: Array | None = None,
    dtype: DTypeLike | None = None,
    stream: Stream = None,
) -> Array:
    geometry = _transpose_geometry(stride, padding, output_padding, groups, dilation, output_size, layout)
    return core.input_gradient(
        op, nd, geometry, input_size, weight, grad_output, activation, output, negative_slope, out, dtype, stream
    )


def _conv_transpose_weight(
    op: str,
    nd: int,
    /,
    input: Array,
    weight_size: Shape,
    grad_output: Array,
    stride: IntOrTuple = 1,
    padding: TransposePadding = 0,
    output_padding: IntOrTuple = 0,
    groups: int = 1,
    dilation: IntOrTuple = 1,
    *,
    output_size: Sequence[int] | None = None,
    layout: Layout | None = None,
    activation: Activation = None,
    output: Array | None = None,
    negative_slope: float = 0.01,
    out: Array | None = None,
    dtype: DTypeLike | None = None,
    stream: Stream = None,
) -> Array:
    geometry = _transpose_geometry(stride, padding, output_padding, groups, dilation, output_size, layout)
    return core.weight_gradient(
        op, nd, geometry, input, weight_size, grad_output, activation, output, negative_slope, out, dtype, stream
    )


def _conv_transpose_backward(
    op: str,
    nd: int,
    /,
    input: Array,
    weight: Array,
    grad_output: Array,
    *,
    bias: bool = True,
    stride: IntOrTuple = 1,
    padding: TransposePadding = 0,
    output_padding: IntOrTuple = 0,
    groups: int = 1,
    dilation: IntOrTuple = 1,
    output_size: Sequence[int] | None = None,
    layout: Layout | None = None,
    activation: Activation = None,
    output: Array | None = None,
    negative_slope: float = 0.01,
    dtype: DTypeLike | None = None,
    stream: Stream = None,
) -> tuple[Array, Array, Array | None]:
    geometry = _transpose_geometry(stride, padding, output_padding, groups, dilation, output_size, layout)
    return core.backward(
        op, nd, geometry, layout, input, weight, grad_output, bias, activation, output, negative_slope, dtype, stream
    )


conv_transpose1d_input = for_dims(_conv_transpose_input, "conv_transpose1d_input", 1)
conv_transpose2d_input = for_dims(_conv_transpose_input, "conv_transpose2d_input", 2)
conv_transpose3d_input = for_dims(_conv_transpose_input, "conv_transpose3d_input", 3)
conv_transpose1d_weight = for_dims(_conv_transpose_weight, "conv_transpose1d_weight", 1)
conv_transpose2d_weight = for_dims(_conv_transpose_weight, "conv_transpose2d_weight", 2)
conv_transpose3d_weight = for_dims(_conv_transpose_weight, "conv_transpose3d_weight", 3)
conv_transpose1d_bias = for_dims(_bias, "conv_transpose1d_bias", 1)
conv_transpose2d_bias = for_dims(_bias, "conv_transpose2d_bias", 2)
conv_transpose3d_bias = for_dims(_bias, "conv_transpose3d_bias", 3)
conv_transpose1d_backward = for_dims(_conv_transpose_backward, "conv_transpose1d_backward", 1)
conv_transpose2d_backward = for_dims(_conv_transpose_backward, "conv_transpose2d_backward", 2)
conv_transpose3d_backward = for_dims(_conv_transpose_backward, "conv_transpose3d_backward", 3)


def _transpose_options(forward: str) -> str:
    return _options(forward, "stride, padding, output_padding, groups, dilation, output_size, layout")


_TRANSPOSE_INPUT = "the convolution of ``grad_output`` with the same weight and geometry"
conv_transpose1d_input.__doc__ = _input_doc(
    "conv_transpose1d",
    _TRANSPOSE_INPUT,
    _transpose_options("conv_transpose1d"),
    """
    >>> gy = np.arange(6.0).reshape(1, 1, 6)
    >>> numbaconv.grad.conv_transpose1d_input((1, 1, 3), np.ones((1, 1, 2)), gy, stride=2)
    array([[[1., 5., 9.]]])""",
)
conv_transpose2d_input.__doc__ = _input_doc(
    "conv_transpose2d",
    _TRANSPOSE_INPUT,
    _transpose_options("conv_transpose2d"),
    """
    >>> w, gy = np.ones((4, 2, 3, 3), np.float32), np.ones((1, 2, 10, 10), np.float32)
    >>> numbaconv.grad.conv_transpose2d_input((1, 4, 5, 5), w, gy, stride=2, padding=1, output_size=(10, 10)).shape
    (1, 4, 5, 5)""",
)
conv_transpose3d_input.__doc__ = _input_doc(
    "conv_transpose3d",
    _TRANSPOSE_INPUT,
    _transpose_options("conv_transpose3d"),
    """
    >>> w, gy = np.ones((2, 3, 2, 2, 2)), np.ones((1, 3, 6, 8, 10))
    >>> numbaconv.grad.conv_transpose3d_input((1, 2, 3, 4, 5), w, gy, stride=2, padding="same").shape
    (1, 2, 3, 4, 5)""",
)
conv_transpose1d_weight.__doc__ = _weight_doc(
    "conv_transpose1d",
    _transpose_options("conv_transpose1d"),
    """
    >>> x, gy = np.array([[[1.0, 2.0, 3.0]]]), np.arange(6.0).reshape(1, 1, 6)
    >>> numbaconv.grad.conv_transpose1d_weight(x, (1, 1, 2), gy, stride=2)
    array([[[16., 22.]]])""",
)
conv_transpose2d_weight.__doc__ = _weight_doc(
    "conv_transpose2d",
    _transpose_options("conv_transpose2d"),
    """
    >>> x, gy = np.ones((2, 4, 5, 5)), np.ones((2, 6, 10, 10))
    >>> numbaconv.grad.conv_transpose2d_weight(x, (4, 3, 4, 4), gy, stride=2, padding=1, groups=2).shape
    (4, 3, 4, 4)""",
)
conv_transpose3d_weight.__doc__ = _weight_doc(
    "conv_transpose3d",
    _transpose_options("conv_transpose3d"),
    """
    >>> x, gy = np.ones((1, 2, 2, 2, 2)), np.ones((1, 1, 4, 4, 4))
    >>> float(numbaconv.grad.conv_transpose3d_weight(x, (2, 1, 2, 2, 2), gy, stride=2)[0, 0, 0, 0, 0])
    8.0""",
)
conv_transpose1d_bias.__doc__ = _bias_doc(
    "conv_transpose1d",
    """
    >>> numbaconv.grad.conv_transpose1d_bias(np.ones((1, 2, 6)))
    array([6., 6.])""",
)
conv_transpose2d_bias.__doc__ = _bias_doc(
    "conv_transpose2d",
    """
    >>> numbaconv.grad.conv_transpose2d_bias(np.ones((2, 3, 4, 4), np.float32))
    array([32., 32., 32.], dtype=float32)""",
)
conv_transpose3d_bias.__doc__ = _bias_doc(
    "conv_transpose3d",
    """
    >>> numbaconv.grad.conv_transpose3d_bias(np.ones((1, 2, 2, 2, 2)))
    array([8., 8.])""",
)
conv_transpose1d_backward.__doc__ = _backward_doc(
    "conv_transpose1d",
    _transpose_options("conv_transpose1d"),
    """
    >>> x, w = np.ones((1, 2, 4)), np.ones((2, 3, 3))
    >>> [g.shape for g in numbaconv.grad.conv_transpose1d_backward(x, w, np.ones((1, 3, 8)), stride=2, padding=1,
    ...                                                            output_padding=1)]
    [(1, 2, 4), (2, 3, 3), (3,)]""",
)
conv_transpose2d_backward.__doc__ = _backward_doc(
    "conv_transpose2d",
    _transpose_options("conv_transpose2d"),
    """
    >>> x, w = np.ones((1, 4, 3, 3)), np.ones((4, 2, 4, 4))
    >>> gx, gw, gb = numbaconv.grad.conv_transpose2d_backward(x, w, np.ones((1, 2, 6, 6)), stride=2, padding=1)
    >>> gx.shape, gw.shape, gb
    ((1, 4, 3, 3), (4, 2, 4, 4), array([36., 36.]))""",
)
conv_transpose3d_backward.__doc__ = _backward_doc(
    "conv_transpose3d",
    _transpose_options("conv_transpose3d"),
    """
    >>> x, w = np.ones((1, 2, 2, 2, 2)), np.ones((2, 2, 2, 2, 2))
    >>> grads = numbaconv.grad.conv_transpose3d_backward(x, w, np.ones((1, 2, 4, 4, 4)), stride=2, bias=False)
    >>> grads[0].shape, grads[1].shape, grads[2]
    ((1, 2, 2, 2, 2), (2, 2, 2, 2, 2), None)""",
)


def activation_backward(
    grad_output: Array,
    output: Array,
    activation: Activation,
    negative_slope: float = 0.01,
    *,
    out: Array | None = None,
    dtype: DTypeLike | None = None,
    stream: Stream = None,
) -> Array:
    """``grad_output`` times the derivative of a fused activation, read from the forward's ``output``.

    An elementwise kernel (CPU and CUDA) with torch autograd's conventions: ``"relu"`` passes the gradient where
    the output is positive (relu'(0) = 0), ``"relu6"`` where it is strictly between 0 and 6, ``"leaky_relu"``
    scales it by ``negative_slope`` where the output is not positive (the slope must be at least 0, else the
    output's sign is not the input's), ``"sigmoid"`` multiplies by ``y * (1 - y)`` and ``"tanh"`` by
    ``1 - y**2``. This is the gradient w.r.t. the pre-activation sum, and so w.r.t. a fused ``residual=``.

    Parameters
    ----------
    grad_output : ndarray
        The gradient w.r.t. the activation's output.
    output : ndarray
        The activation's output (the forward's saved result), of grad_output's shape.
    activation : {"relu", "relu6", "leaky_relu", "sigmoid", "tanh"}
    negative_slope : float
        ``"leaky_relu"``'s slope, at least 0.
    out, dtype, stream
        As the other gradients' (any shape on the CPU; CUDA arrays of at most 5 dims).

    Returns
    -------
    ndarray
        Of grad_output's shape, dtype (or ``dtype``) and array kind.

    Examples
    --------
    >>> import numpy as np, numbaconv
    >>> y = np.array([0.0, 0.5, 2.0, 6.0])
    >>> numbaconv.grad.activation_backward(np.ones(4), y, "relu6")
    array([0., 1., 1., 0.])
    >>> numbaconv.grad.activation_backward(np.ones(2), np.array([0.5, 0.0]), "sigmoid")
    array([0.25, 0.  ])
    """
    return core.activation_gradient(
        "activation_backward", grad_output, output, activation, negative_slope, out, dtype, stream
    )
