"""Gradients of numbaconv's ops, for training with NumPy and CUDA arrays; torch.nn.grad's names where it has them.

For an op ``f`` of the convolution family, ``f_input`` is the gradient of a loss w.r.t. its input given the
gradient w.r.t. its output (``grad_output``), ``f_weight`` w.r.t. its weight, ``f_bias`` w.r.t. its bias, and
``f_backward`` all three in one call. Each takes the forward call's options (stride, padding in every form,
dilation, groups, padding_mode, flip, output_padding / output_size, layout), checks that the shapes agree with
the forward's geometry before any kernel runs, and undoes a fused activation first when given the forward's
saved ``output``. They run on kernels, not on a tape: the input gradient of a conv is a transpose conv (and
that of a transpose conv a conv), the weight gradient a reduction over images and pixels; every result is written
once, in a fixed order, so it is the same on every run. ``activation_backward`` is the fused activation's own.

The two-step convolutions (``separable_conv2d``, ``spatially_separable_conv2d``, ``shuffle_conv2d``,
``resize_conv2d``) have the same four, the chain rule over their steps' gradients; the two-weight ones have
``f_weights``, both weights' gradients as a pair. Their first step's output, which the second step's weight
gradient reads, is recomputed from the input unless passed as ``intermediate=``.

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

from collections.abc import Sequence

from . import _grad_composite as composite
from . import _grad_conv as core
from . import _grad_pool
from ._grad_pool import *  # noqa: F403  (pooling, unpooling, interpolation, shuffles: their module)
from ._types import (
    Activation,
    Array,
    DTypeLike,
    IntOrTuple,
    Layout,
    Layout2d,
    Padding,
    PaddingMode,
    ResizeMode,
    Shape,
    Stream,
    TransposePadding,
    for_dims,
)

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
    # two-step convolutions
    "resize_conv2d_backward",
    "resize_conv2d_bias",
    "resize_conv2d_input",
    "resize_conv2d_weight",
    "separable_conv2d_backward",
    "separable_conv2d_bias",
    "separable_conv2d_input",
    "separable_conv2d_weights",
    "shuffle_conv2d_backward",
    "shuffle_conv2d_bias",
    "shuffle_conv2d_input",
    "shuffle_conv2d_weight",
    "spatially_separable_conv2d_backward",
    "spatially_separable_conv2d_bias",
    "spatially_separable_conv2d_input",
    "spatially_separable_conv2d_weights",
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
    geometry = core.conv_geometry(stride, padding, dilation, groups, padding_mode, flip, layout)
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
    geometry = core.conv_geometry(stride, padding, dilation, groups, padding_mode, flip, layout)
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
    geometry = core.conv_geometry(stride, padding, dilation, groups, padding_mode, flip, layout)
    return core.backward(
        op, nd, geometry, layout, input, weight, grad_output, bias, activation, output, negative_slope, dtype, stream
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
    geometry = core.depthwise_geometry(stride, padding, dilation, padding_mode, flip, layout)
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
    geometry = core.depthwise_geometry(stride, padding, dilation, padding_mode, flip, layout)
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
    geometry = core.depthwise_geometry(stride, padding, dilation, padding_mode, flip, layout)
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
        core.pointwise_geometry(groups, layout),
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
        core.pointwise_geometry(groups, layout),
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
        core.pointwise_geometry(groups, layout),
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
    geometry = core.transpose_geometry(stride, padding, output_padding, groups, dilation, output_size, layout)
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
    geometry = core.transpose_geometry(stride, padding, output_padding, groups, dilation, output_size, layout)
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
    geometry = core.transpose_geometry(stride, padding, output_padding, groups, dilation, output_size, layout)
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


# ---- two-step convolutions: the chain rule over the steps' gradients (numbaconv/_grad_composite.py) ----

_SEPARABLE_OPTIONS = (
    _options("separable_conv2d", "stride, padding, dilation, padding_mode, layout")
    + """ They belong to the depthwise step.
    depthwise_activation : {None, "relu", "relu6", "leaky_relu", "sigmoid", "tanh"}
        The forward's activation between the steps: the gradient is multiplied by its derivative, read from the
        intermediate."""
)
_INTERMEDIATE = """
    intermediate : ndarray, optional
        The depthwise step's output, after ``depthwise_bias`` and ``depthwise_activation``:
        ``numbaconv.depthwise_conv2d(input, depthwise_weight, depthwise_bias, ..., activation=depthwise_activation)``
        (the forward does not return it). {rule}"""
_SEPARABLE_WEIGHTS = """
    depthwise_weight, pointwise_weight : ndarray
        The forward's weights (the pointwise one ``(C_out, C_mid)`` or ``(C_out, C_mid, 1, 1)``)."""
_SEPARABLE_BIAS = """
    depthwise_bias : ndarray, optional
        The forward's ``depthwise_bias``: it is part of the intermediate recomputed from the input."""
_SPATIAL_OPTIONS = (
    _options("spatially_separable_conv2d", "stride, padding, dilation, groups, padding_mode, flip, layout")
    + """ The column pass takes the H parts, the row pass the W parts."""
)
_SPATIAL_WEIGHTS = """
    column_weight, row_weight : ndarray
        The forward's weights, 3-d ``(C_o, C_i / groups, k)`` or 4-d, as passed to it."""
_SPATIAL_INTERMEDIATE = """
    intermediate : ndarray, optional
        The column pass's output (``numbaconv.conv2d`` of the input with the column weight and the H parts of
        the geometry; the forward does not return it), which the row weight's gradient reads. Recomputed from
        the input when not given (one column pass: ``C_mid * C_in / groups * kH`` multiply-adds per pixel of it,
        and an array of its size in the compute dtype)."""
_RECOMPUTED = (
    "Recomputed from the input when not given (one depthwise convolution: ``kH * kW`` multiply-adds per pixel of "
    "it, and an array of its size in the compute dtype)."
)
_PAIR_TAIL = """
    dtype, stream
        As the other gradients' (the results have the input's dtype, or ``dtype``).
"""


def separable_conv2d_input(
    input_size: Shape,
    depthwise_weight: Array,
    pointwise_weight: Array,
    grad_output: Array,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
    *,
    padding_mode: PaddingMode = "zeros",
    layout: Layout2d | None = None,
    depthwise_activation: Activation = None,
    intermediate: Array | None = None,
    activation: Activation = None,
    output: Array | None = None,
    negative_slope: float = 0.01,
    out: Array | None = None,
    dtype: DTypeLike | None = None,
    stream: Stream = None,
) -> Array:
    arrays = dict(
        grad_output=grad_output,
        depthwise_weight=depthwise_weight,
        pointwise_weight=pointwise_weight,
        output=output,
        intermediate=intermediate,
    )
    return composite.separable(
        "separable_conv2d_input",
        frozenset({"input"}),
        arrays,
        input_size,
        stride=stride,
        padding=padding,
        dilation=dilation,
        padding_mode=padding_mode,
        layout=layout,
        depthwise_activation=depthwise_activation,
        activation=activation,
        negative_slope=negative_slope,
        out=out,
        dtype=dtype,
        stream=stream,
    )["input"]


def separable_conv2d_weights(
    input: Array,
    depthwise_weight: Array,
    pointwise_weight: Array,
    grad_output: Array,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
    *,
    depthwise_bias: Array | None = None,
    padding_mode: PaddingMode = "zeros",
    layout: Layout2d | None = None,
    depthwise_activation: Activation = None,
    intermediate: Array | None = None,
    activation: Activation = None,
    output: Array | None = None,
    negative_slope: float = 0.01,
    dtype: DTypeLike | None = None,
    stream: Stream = None,
) -> tuple[Array, Array]:
    arrays = dict(
        input=input,
        depthwise_weight=depthwise_weight,
        pointwise_weight=pointwise_weight,
        grad_output=grad_output,
        output=output,
        intermediate=intermediate,
        depthwise_bias=depthwise_bias,
    )
    grads = composite.separable(
        "separable_conv2d_weights",
        frozenset({"depthwise_weight", "pointwise_weight"}),
        arrays,
        stride=stride,
        padding=padding,
        dilation=dilation,
        padding_mode=padding_mode,
        layout=layout,
        depthwise_activation=depthwise_activation,
        activation=activation,
        negative_slope=negative_slope,
        out=None,
        dtype=dtype,
        stream=stream,
    )
    return grads["depthwise_weight"], grads["pointwise_weight"]


def separable_conv2d_backward(
    input: Array,
    depthwise_weight: Array,
    pointwise_weight: Array,
    grad_output: Array,
    *,
    bias: bool = True,
    depthwise_bias: Array | None = None,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
    padding_mode: PaddingMode = "zeros",
    layout: Layout2d | None = None,
    depthwise_activation: Activation = None,
    intermediate: Array | None = None,
    activation: Activation = None,
    output: Array | None = None,
    negative_slope: float = 0.01,
    dtype: DTypeLike | None = None,
    stream: Stream = None,
) -> tuple[Array, Array, Array, Array | None, Array | None]:
    arrays = dict(
        input=input,
        depthwise_weight=depthwise_weight,
        pointwise_weight=pointwise_weight,
        grad_output=grad_output,
        output=output,
        intermediate=intermediate,
        depthwise_bias=depthwise_bias,
    )
    want = (
        composite.SEPARABLE
        - ({"bias"} if not bias else set())
        - ({"depthwise_bias"} if depthwise_bias is None else set())
    )
    grads = composite.separable(
        "separable_conv2d_backward",
        want,
        arrays,
        stride=stride,
        padding=padding,
        dilation=dilation,
        padding_mode=padding_mode,
        layout=layout,
        depthwise_activation=depthwise_activation,
        activation=activation,
        negative_slope=negative_slope,
        out=None,
        dtype=dtype,
        stream=stream,
    )
    return (
        grads["input"],
        grads["depthwise_weight"],
        grads["pointwise_weight"],
        grads.get("bias"),
        grads.get("depthwise_bias"),
    )


separable_conv2d_bias = for_dims(_bias, "separable_conv2d_bias", 2)

separable_conv2d_input.__doc__ = _doc(
    "Gradient of :func:`numbaconv.separable_conv2d` w.r.t. its input: back through the pointwise step "
    "(``pointwise_weight^T`` on each pixel), ``depthwise_activation``'s derivative, then the depthwise step (each "
    "channel's transpose convolution).",
    """
    input_size : tuple of ints
        The forward input's shape in ``layout`` (``(C, H, W)`` when ``grad_output`` is unbatched)."""
    + _SEPARABLE_WEIGHTS
    + """
    grad_output : ndarray
        The gradient w.r.t. the forward's output, of its shape."""
    + _SEPARABLE_OPTIONS
    + _INTERMEDIATE.format(
        rule="Required with ``depthwise_activation`` (there is no input here to recompute it from), refused without it."
    )
    + _ACTIVATION
    + _TAIL,
    _returns("Of ``input_size``"),
    """
    >>> dw, pw = np.ones((2, 1, 3, 3)), np.ones((3, 2))
    >>> gx = numbaconv.grad.separable_conv2d_input((1, 2, 4, 4), dw, pw, np.ones((1, 3, 4, 4)), padding=1)
    >>> gx[0, 0]  # 3 output channels read each mid channel, 9 taps at most read each pixel
    array([[12., 18., 18., 12.],
           [18., 27., 27., 18.],
           [18., 27., 27., 18.],
           [12., 18., 18., 12.]])""",
)
separable_conv2d_weights.__doc__ = _doc(
    "Gradients of :func:`numbaconv.separable_conv2d` w.r.t. its depthwise and pointwise weights, as a pair.\n\n"
    "    The pointwise weight's is the sum over pixels of ``grad_output`` times the intermediate (the depthwise "
    "step's\n    output); the depthwise weight's that of the intermediate's gradient times the input each tap "
    "reads.",
    """
    input : ndarray
        The forward's input."""
    + _SEPARABLE_WEIGHTS
    + """
    grad_output : ndarray
        The gradient w.r.t. the forward's output, of its shape."""
    + _SEPARABLE_OPTIONS
    + _SEPARABLE_BIAS
    + _INTERMEDIATE.format(rule=_RECOMPUTED)
    + _ACTIVATION
    + _PAIR_TAIL,
    """
    Returns
    -------
    tuple
        ``(grad_depthwise_weight, grad_pointwise_weight)``, of the weights' shapes as passed (a 2-d pointwise
        weight gets a 2-d gradient) and the input's array kind.
""",
    """
    >>> x, dw, pw = np.ones((1, 2, 4, 4)), np.ones((2, 1, 3, 3)), np.ones((3, 2))
    >>> gdw, gpw = numbaconv.grad.separable_conv2d_weights(x, dw, pw, np.ones((1, 3, 2, 2)))
    >>> gdw.shape, float(gdw[0, 0, 0, 0]), gpw  # each mid pixel is 9, read by 4 output pixels
    ((2, 1, 3, 3), 12.0, array([[36., 36.],
           [36., 36.],
           [36., 36.]]))""",
)
separable_conv2d_bias.__doc__ = _bias_doc(
    "separable_conv2d",
    """
    >>> numbaconv.grad.separable_conv2d_bias(np.ones((2, 4, 3, 3)))  # as pointwise_conv2d's
    array([18., 18., 18., 18.])""",
)
separable_conv2d_backward.__doc__ = _doc(
    "Gradients of :func:`numbaconv.separable_conv2d` w.r.t. its input, both weights and both biases in one call.",
    """
    input : ndarray
        The forward's input."""
    + _SEPARABLE_WEIGHTS
    + """
    grad_output : ndarray
        The gradient w.r.t. the forward's output, of its shape.
    bias : bool
        Whether to compute the (pointwise) bias's gradient (else None is returned in its place)."""
    + _SEPARABLE_BIAS
    + " Its gradient is returned when it is given (else None)."
    + _SEPARABLE_OPTIONS
    + _INTERMEDIATE.format(rule=_RECOMPUTED)
    + _ACTIVATION
    + """
    dtype, stream
        As the other gradients'.

    Returns
    -------
    tuple
        ``(grad_input, grad_depthwise_weight, grad_pointwise_weight, grad_bias, grad_depthwise_bias)``: the
        results of ``_input``, ``_weights`` and ``_bias``, each activation's derivative applied once, the
        intermediate recomputed at most once.""",
    "",
    """
    >>> rng = np.random.default_rng(0)
    >>> x, dw, pw = rng.standard_normal((1, 2, 5, 5)), rng.standard_normal((4, 1, 3, 3)), rng.standard_normal((3, 4))
    >>> db = np.zeros(4)
    >>> y = numbaconv.separable_conv2d(x, dw, pw, depthwise_bias=db, padding=1, depthwise_activation="relu6")
    >>> grads = numbaconv.grad.separable_conv2d_backward(x, dw, pw, np.ones_like(y), depthwise_bias=db, padding=1,
    ...                                                  depthwise_activation="relu6")
    >>> [g.shape for g in grads]  # a channel multiplier of 2: 4 mid channels
    [(1, 2, 5, 5), (4, 1, 3, 3), (3, 4), (3,), (4,)]""",
)


def spatially_separable_conv2d_input(
    input_size: Shape,
    column_weight: Array,
    row_weight: Array,
    grad_output: Array,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
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
    arrays = dict(grad_output=grad_output, column_weight=column_weight, row_weight=row_weight, output=output)
    return composite.spatially_separable(
        "spatially_separable_conv2d_input",
        frozenset({"input"}),
        arrays,
        input_size,
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
        padding_mode=padding_mode,
        flip=flip,
        layout=layout,
        activation=activation,
        negative_slope=negative_slope,
        out=out,
        dtype=dtype,
        stream=stream,
    )["input"]


def spatially_separable_conv2d_weights(
    input: Array,
    column_weight: Array,
    row_weight: Array,
    grad_output: Array,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
    *,
    padding_mode: PaddingMode = "zeros",
    flip: bool = False,
    layout: Layout2d | None = None,
    intermediate: Array | None = None,
    activation: Activation = None,
    output: Array | None = None,
    negative_slope: float = 0.01,
    dtype: DTypeLike | None = None,
    stream: Stream = None,
) -> tuple[Array, Array]:
    arrays = dict(
        input=input,
        column_weight=column_weight,
        row_weight=row_weight,
        grad_output=grad_output,
        output=output,
        intermediate=intermediate,
    )
    grads = composite.spatially_separable(
        "spatially_separable_conv2d_weights",
        frozenset({"column_weight", "row_weight"}),
        arrays,
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
        padding_mode=padding_mode,
        flip=flip,
        layout=layout,
        activation=activation,
        negative_slope=negative_slope,
        out=None,
        dtype=dtype,
        stream=stream,
    )
    return grads["column_weight"], grads["row_weight"]


def spatially_separable_conv2d_backward(
    input: Array,
    column_weight: Array,
    row_weight: Array,
    grad_output: Array,
    *,
    bias: bool = True,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
    padding_mode: PaddingMode = "zeros",
    flip: bool = False,
    layout: Layout2d | None = None,
    intermediate: Array | None = None,
    activation: Activation = None,
    output: Array | None = None,
    negative_slope: float = 0.01,
    dtype: DTypeLike | None = None,
    stream: Stream = None,
) -> tuple[Array, Array, Array, Array | None]:
    arrays = dict(
        input=input,
        column_weight=column_weight,
        row_weight=row_weight,
        grad_output=grad_output,
        output=output,
        intermediate=intermediate,
    )
    grads = composite.spatially_separable(
        "spatially_separable_conv2d_backward",
        composite.SPATIALLY_SEPARABLE if bias else composite.SPATIALLY_SEPARABLE - {"bias"},
        arrays,
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
        padding_mode=padding_mode,
        flip=flip,
        layout=layout,
        activation=activation,
        negative_slope=negative_slope,
        out=None,
        dtype=dtype,
        stream=stream,
    )
    return grads["input"], grads["column_weight"], grads["row_weight"], grads.get("bias")


spatially_separable_conv2d_bias = for_dims(_bias, "spatially_separable_conv2d_bias", 2)

spatially_separable_conv2d_input.__doc__ = _doc(
    "Gradient of :func:`numbaconv.spatially_separable_conv2d` w.r.t. its input: the row pass's input gradient, "
    "then the column pass's (each a transpose convolution).",
    """
    input_size : tuple of ints
        The forward input's shape in ``layout`` (``(C, H, W)`` when ``grad_output`` is unbatched)."""
    + _SPATIAL_WEIGHTS
    + """
    grad_output : ndarray
        The gradient w.r.t. the forward's output, of its shape."""
    + _SPATIAL_OPTIONS
    + _ACTIVATION
    + _TAIL,
    _returns("Of ``input_size``"),
    """
    >>> col, row = np.array([[[1.0, 2.0, 1.0]]]), np.array([[[1.0, 0.0, -1.0]]])  # Sobel
    >>> numbaconv.grad.spatially_separable_conv2d_input((1, 1, 4, 4), col, row, np.ones((1, 1, 2, 2)))[0, 0]
    array([[ 1.,  1., -1., -1.],
           [ 3.,  3., -3., -3.],
           [ 3.,  3., -3., -3.],
           [ 1.,  1., -1., -1.]])""",
)
spatially_separable_conv2d_weights.__doc__ = _doc(
    "Gradients of :func:`numbaconv.spatially_separable_conv2d` w.r.t. its column and row weights, as a pair.\n\n"
    "    The row weight's reads the column pass's output (the intermediate); the column weight's reads the input "
    "and\n    the intermediate's gradient (the row pass's input gradient).",
    """
    input : ndarray
        The forward's input."""
    + _SPATIAL_WEIGHTS
    + """
    grad_output : ndarray
        The gradient w.r.t. the forward's output, of its shape."""
    + _SPATIAL_OPTIONS
    + _SPATIAL_INTERMEDIATE
    + _ACTIVATION
    + _PAIR_TAIL,
    """
    Returns
    -------
    tuple
        ``(grad_column_weight, grad_row_weight)``, of the weights' shapes as passed (3-d or 4-d) and the input's
        array kind.
""",
    """
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> gc, gr = numbaconv.grad.spatially_separable_conv2d_weights(x, np.ones((1, 1, 3)), np.ones((1, 1, 3)),
    ...                                                            np.ones((1, 1, 2, 2)))
    >>> gr  # row tap k: the column pass's outputs it reads, summed over the 2x2 outputs
    array([[[ 78.,  90., 102.]]])
    >>> gc  # column tap k: the input pixels it reads, each counted once per row tap that reads its column pass output
    array([[[ 42.,  90., 138.]]])""",
)
spatially_separable_conv2d_bias.__doc__ = _bias_doc(
    "spatially_separable_conv2d",
    """
    >>> numbaconv.grad.spatially_separable_conv2d_bias(np.ones((1, 2, 3, 3), np.float32))
    array([9., 9.], dtype=float32)""",
)
spatially_separable_conv2d_backward.__doc__ = _doc(
    "Gradients of :func:`numbaconv.spatially_separable_conv2d` w.r.t. its input, both weights and its bias in "
    "one call.",
    """
    input : ndarray
        The forward's input."""
    + _SPATIAL_WEIGHTS
    + """
    grad_output : ndarray
        The gradient w.r.t. the forward's output, of its shape.
    bias : bool
        Whether to compute the bias gradient (else None is returned in its place)."""
    + _SPATIAL_OPTIONS
    + _SPATIAL_INTERMEDIATE
    + _ACTIVATION
    + """
    dtype, stream
        As the other gradients'.

    Returns
    -------
    tuple
        ``(grad_input, grad_column_weight, grad_row_weight, grad_bias)``: the results of ``_input``,
        ``_weights`` and ``_bias``, the activation's derivative applied once.""",
    "",
    """
    >>> x, col, row = np.ones((1, 2, 6, 6)), np.ones((4, 1, 3)), np.ones((4, 2, 3))  # groups=2, C_mid = 4
    >>> y = numbaconv.spatially_separable_conv2d(x, col, row, groups=2, stride=2, padding="same")
    >>> grads = numbaconv.grad.spatially_separable_conv2d_backward(x, col, row, np.ones_like(y), groups=2, stride=2,
    ...                                                            padding="same")
    >>> [g.shape for g in grads]
    [(1, 2, 6, 6), (4, 1, 3), (4, 2, 3), (4,)]""",
)


def shuffle_conv2d_input(
    input_size: Shape,
    weight: Array,
    grad_output: Array,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
    *,
    groups: int,
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
    return composite.shuffle_conv(
        "shuffle_conv2d_input",
        frozenset({"input"}),
        dict(grad_output=grad_output, weight=weight, output=output),
        input_size,
        groups=groups,
        stride=stride,
        padding=padding,
        dilation=dilation,
        padding_mode=padding_mode,
        flip=flip,
        layout=layout,
        activation=activation,
        negative_slope=negative_slope,
        out=out,
        dtype=dtype,
        stream=stream,
    )["input"]


def shuffle_conv2d_weight(
    input: Array,
    weight_size: Shape,
    grad_output: Array,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
    *,
    groups: int,
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
    return composite.shuffle_conv(
        "shuffle_conv2d_weight",
        frozenset({"weight"}),
        dict(input=input, grad_output=grad_output, output=output),
        weight_size=weight_size,
        groups=groups,
        stride=stride,
        padding=padding,
        dilation=dilation,
        padding_mode=padding_mode,
        flip=flip,
        layout=layout,
        activation=activation,
        negative_slope=negative_slope,
        out=out,
        dtype=dtype,
        stream=stream,
    )["weight"]


def shuffle_conv2d_bias(
    grad_output: Array,
    *,
    groups: int,
    layout: Layout2d | None = None,
    activation: Activation = None,
    output: Array | None = None,
    negative_slope: float = 0.01,
    out: Array | None = None,
    dtype: DTypeLike | None = None,
    stream: Stream = None,
) -> Array:
    return composite.shuffle_conv(
        "shuffle_conv2d_bias",
        frozenset({"bias"}),
        dict(grad_output=grad_output, output=output),
        groups=groups,
        layout=layout,
        activation=activation,
        negative_slope=negative_slope,
        out=out,
        dtype=dtype,
        stream=stream,
    )["bias"]


def shuffle_conv2d_backward(
    input: Array,
    weight: Array,
    grad_output: Array,
    *,
    bias: bool = True,
    groups: int,
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
    grads = composite.shuffle_conv(
        "shuffle_conv2d_backward",
        composite.ONE_WEIGHT if bias else composite.ONE_WEIGHT - {"bias"},
        dict(input=input, weight=weight, grad_output=grad_output, output=output),
        groups=groups,
        stride=stride,
        padding=padding,
        dilation=dilation,
        padding_mode=padding_mode,
        flip=flip,
        layout=layout,
        activation=activation,
        negative_slope=negative_slope,
        out=None,
        dtype=dtype,
        stream=stream,
    )
    return grads["input"], grads["weight"], grads.get("bias")


_SHUFFLE_OPTIONS = _options("shuffle_conv2d", "stride, padding, dilation, groups, padding_mode, flip, layout")
_UNSHUFFLE = (
    " ``grad_output`` (times the activation's derivative, read from the shuffled ``output``) is unshuffled first: "
    "one permuted copy, ``channel_shuffle(grad_output, C // groups)``"
)
shuffle_conv2d_input.__doc__ = _input_doc(
    "shuffle_conv2d",
    "the grouped convolution's input gradient (a transpose convolution) of the unshuffled ``grad_output``."
    + _UNSHUFFLE,
    _SHUFFLE_OPTIONS,
    """
    >>> w = np.arange(1.0, 5.0).reshape(4, 1, 1, 1)  # 2 groups of 2 output channels, then shuffled
    >>> gy = np.arange(4.0).reshape(1, 4, 1, 1)  # the shuffled output's channel c is the conv's 0, 2, 1, 3
    >>> numbaconv.grad.shuffle_conv2d_input((1, 2, 1, 1), w, gy, groups=2)[0, :, 0, 0]  # 1*0 + 2*2, 3*1 + 4*3
    array([ 4., 15.])""",
)
shuffle_conv2d_weight.__doc__ = _weight_doc(
    "shuffle_conv2d",
    _SHUFFLE_OPTIONS,
    """
    >>> x, gy = np.ones((1, 2, 1, 1)), np.arange(4.0).reshape(1, 4, 1, 1)
    >>> numbaconv.grad.shuffle_conv2d_weight(x, (4, 1, 1, 1), gy, groups=2)[:, 0, 0, 0]  # gy unshuffled
    array([0., 2., 1., 3.])""",
)
shuffle_conv2d_bias.__doc__ = _doc(
    "Gradient of :func:`numbaconv.shuffle_conv2d` w.r.t. its bias: the unshuffled ``grad_output`` summed over "
    "the batch\n    and every pixel, per channel (the bias is added before the shuffle).",
    """
    grad_output : ndarray
        The gradient w.r.t. the forward's output.
    groups : int
        The forward's groups (the shuffle's).
    layout : str, optional
        The forward's layout (channels-first by default)."""
    + _ACTIVATION
    + _TAIL,
    _returns("``(C_out,)``"),
    """
    >>> numbaconv.grad.shuffle_conv2d_bias(np.arange(4.0).reshape(1, 4, 1, 1), groups=2)
    array([0., 2., 1., 3.])""",
)
shuffle_conv2d_backward.__doc__ = _backward_doc(
    "shuffle_conv2d",
    _SHUFFLE_OPTIONS + " ``groups`` is required, as in the forward; ``grad_output`` is unshuffled once.",
    """
    >>> x, w = np.ones((2, 4, 5, 5), np.float32), np.ones((6, 2, 3, 3), np.float32)
    >>> y = numbaconv.shuffle_conv2d(x, w, groups=2, padding=1)
    >>> [g.shape for g in numbaconv.grad.shuffle_conv2d_backward(x, w, np.ones_like(y), groups=2, padding=1)]
    [(2, 4, 5, 5), (6, 2, 3, 3), (6,)]""",
)


def resize_conv2d_input(
    input_size: Shape,
    weight: Array,
    grad_output: Array,
    *,
    scale_factor: IntOrTuple = 2,
    mode: ResizeMode = "nearest",
    align_corners: bool | None = None,
    padding: Padding = "same",
    padding_mode: PaddingMode = "zeros",
    stride: IntOrTuple = 1,
    dilation: IntOrTuple = 1,
    groups: int = 1,
    layout: Layout2d | None = None,
    activation: Activation = None,
    output: Array | None = None,
    negative_slope: float = 0.01,
    out: Array | None = None,
    dtype: DTypeLike | None = None,
    stream: Stream = None,
) -> Array:
    return composite.resize_conv(
        "resize_conv2d_input",
        frozenset({"input"}),
        dict(grad_output=grad_output, weight=weight, output=output),
        input_size,
        scale_factor=scale_factor,
        mode=mode,
        align_corners=align_corners,
        padding=padding,
        padding_mode=padding_mode,
        stride=stride,
        dilation=dilation,
        groups=groups,
        layout=layout,
        activation=activation,
        negative_slope=negative_slope,
        out=out,
        dtype=dtype,
        stream=stream,
    )["input"]


def resize_conv2d_weight(
    input: Array,
    weight_size: Shape,
    grad_output: Array,
    *,
    scale_factor: IntOrTuple = 2,
    mode: ResizeMode = "nearest",
    align_corners: bool | None = None,
    padding: Padding = "same",
    padding_mode: PaddingMode = "zeros",
    stride: IntOrTuple = 1,
    dilation: IntOrTuple = 1,
    groups: int = 1,
    layout: Layout2d | None = None,
    activation: Activation = None,
    output: Array | None = None,
    negative_slope: float = 0.01,
    out: Array | None = None,
    dtype: DTypeLike | None = None,
    stream: Stream = None,
) -> Array:
    return composite.resize_conv(
        "resize_conv2d_weight",
        frozenset({"weight"}),
        dict(input=input, grad_output=grad_output, output=output),
        weight_size=weight_size,
        scale_factor=scale_factor,
        mode=mode,
        align_corners=align_corners,
        padding=padding,
        padding_mode=padding_mode,
        stride=stride,
        dilation=dilation,
        groups=groups,
        layout=layout,
        activation=activation,
        negative_slope=negative_slope,
        out=out,
        dtype=dtype,
        stream=stream,
    )["weight"]


def resize_conv2d_backward(
    input: Array,
    weight: Array,
    grad_output: Array,
    *,
    bias: bool = True,
    scale_factor: IntOrTuple = 2,
    mode: ResizeMode = "nearest",
    align_corners: bool | None = None,
    padding: Padding = "same",
    padding_mode: PaddingMode = "zeros",
    stride: IntOrTuple = 1,
    dilation: IntOrTuple = 1,
    groups: int = 1,
    layout: Layout2d | None = None,
    activation: Activation = None,
    output: Array | None = None,
    negative_slope: float = 0.01,
    dtype: DTypeLike | None = None,
    stream: Stream = None,
) -> tuple[Array, Array, Array | None]:
    grads = composite.resize_conv(
        "resize_conv2d_backward",
        composite.ONE_WEIGHT if bias else composite.ONE_WEIGHT - {"bias"},
        dict(input=input, weight=weight, grad_output=grad_output, output=output),
        scale_factor=scale_factor,
        mode=mode,
        align_corners=align_corners,
        padding=padding,
        padding_mode=padding_mode,
        stride=stride,
        dilation=dilation,
        groups=groups,
        layout=layout,
        activation=activation,
        negative_slope=negative_slope,
        out=None,
        dtype=dtype,
        stream=stream,
    )
    return grads["input"], grads["weight"], grads.get("bias")


resize_conv2d_bias = for_dims(_bias, "resize_conv2d_bias", 2)

_RESIZE_OPTIONS = _options(
    "resize_conv2d",
    "scale_factor, mode, align_corners, padding, padding_mode, stride, dilation, groups, layout",
)
resize_conv2d_input.__doc__ = _input_doc(
    "resize_conv2d",
    "the convolution's input gradient onto the upsampled image (a transpose convolution; an intermediate of the "
    "compute dtype, ``scale_factor**2`` times the input's size), then the upsampling's: each input pixel sums its "
    "cell (:func:`unpool2d_input`, ``mode='nearest'``) or the outputs that read it times their weights "
    "(:func:`interpolate_input`, ``'bilinear'`` and ``'bicubic'``)",
    _RESIZE_OPTIONS,
    """
    >>> gx = numbaconv.grad.resize_conv2d_input((1, 1, 2, 2), np.ones((1, 1, 1, 1)), np.ones((1, 1, 4, 4)))
    >>> gx  # nearest x2: each input pixel is read by a 2x2 cell
    array([[[[4., 4.],
             [4., 4.]]]])""",
)
resize_conv2d_weight.__doc__ = _weight_doc(
    "resize_conv2d",
    _RESIZE_OPTIONS
    + """ With ``mode="nearest"`` the input is read through the forward's index tables (no upsampled
        image is built); ``"bilinear"`` and ``"bicubic"`` build the upsampled image as the forward does.""",
    """
    >>> x = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    >>> numbaconv.grad.resize_conv2d_weight(x, (1, 1, 1, 1), np.ones((1, 1, 4, 4)))  # 4 copies of each pixel
    array([[[[40.]]]])""",
)
resize_conv2d_bias.__doc__ = _bias_doc(
    "resize_conv2d",
    """
    >>> numbaconv.grad.resize_conv2d_bias(np.ones((1, 8, 8, 3), np.float32), layout="NHWC")
    array([64., 64., 64.], dtype=float32)""",
)
resize_conv2d_backward.__doc__ = _backward_doc(
    "resize_conv2d",
    _RESIZE_OPTIONS,
    """
    >>> x, w = np.ones((1, 2, 3, 3)), np.ones((4, 2, 3, 3))
    >>> y = numbaconv.resize_conv2d(x, w, mode="bilinear")
    >>> [g.shape for g in numbaconv.grad.resize_conv2d_backward(x, w, np.ones_like(y), mode="bilinear")]
    [(1, 2, 3, 3), (4, 2, 3, 3), (4,)]""",
)
