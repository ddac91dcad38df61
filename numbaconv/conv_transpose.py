"""Transpose convolution (conv_transpose1d/2d/3d), resize_conv2d and their shape helpers.

Each public function reads call -> params -> select -> run: a `Call` (numbaconv/_call.py) finds the backend,
views and dtypes, the params object checks every rule, numbaconv/_algorithms.py names the kernel and
numbaconv/_launch_transpose.py (resize-conv: numbaconv/_launch_conv.py) runs it. All checks happen before any
kernel runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from ._algorithms import select_resize, select_transpose
from ._call import Call
from ._launch_transpose import launch
from ._params import int_tuple, shape_nd, show
from ._params_pool import InterpolateParams, resize_interpolation
from ._params_transpose import (
    ConvTransposeParams,
    conv_transpose_params,
    resize_conv_params,
    solve_output_padding,
    transpose_padding,
)
from ._types import (
    Activation,
    Array,
    DTypeLike,
    IntOrTuple,
    Layout,
    Layout2d,
    Padding,
    PaddingMode,
    ResizeAlgorithm,
    ResizeMode,
    Shape,
    Stream,
    TransposeAlgorithm,
    TransposePadding,
    for_dims,
)
from .conv import run_conv
from .unpool import interpolated

__all__ = [
    "ConvTransposeParams",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "conv_transpose_output_shape",
    "conv_transpose_params",
    "output_padding_for",
    "resize_conv2d",
]


def _conv_transpose(
    op: str,
    nd: int,
    /,
    x: Array,
    weight: Array,
    bias: Array | None = None,
    *,
    stride: IntOrTuple = 1,
    padding: TransposePadding = 0,
    output_padding: IntOrTuple = 0,
    groups: int = 1,
    dilation: IntOrTuple = 1,
    output_size: Sequence[int] | None = None,
    residual: Array | None = None,
    activation: Activation = None,
    negative_slope: float = 0.01,
    layout: Layout | None = None,
    out: Array | None = None,
    algorithm: TransposeAlgorithm = "auto",
    dtype: DTypeLike | None = None,
    stream: Stream = None,
) -> Array:
    call = Call.weighted(op, x, weight, bias, out, dtype, stream, residual).unbatched(nd, "residual")
    params = conv_transpose_params(
        op,
        nd,
        call.x.shape,
        call["weight"].shape,
        stride=stride,
        padding=padding,
        output_padding=output_padding,
        groups=groups,
        dilation=dilation,
        output_size=output_size,
        activation=activation,
        negative_slope=negative_slope,
        layout=layout,
    )
    bias = call.bias("bias", params.out_channels)
    residual = call.residual(params.out_shape)
    kernel = select_transpose(params, algorithm, call.backend)
    call.check_out(params.out_shape)
    x, weight = call.compute_input("x"), call.compute_input("weight")
    return call.run(params.out_shape, lambda target: launch(call, params, kernel, x, weight, bias, target, residual))


_COMMON_DOC = """
    bias : ndarray, optional
        ``(C_out,)``, added before the activation.
    stride, dilation : int or tuple of ints
    padding : int, tuple of ints, tuple of (lo, hi) pairs, or "same"
        Crops ``lo`` from the start and ``hi`` from the end of the full output, as torch's ``padding``.
        ``"same"`` gives output = input * stride (the odd cropped pixel at the end): the adjoint of conv's
        ``"same"`` on the upsampled size.
    output_padding : int or tuple of ints
        Extra length at the end of each dim; smaller than stride or dilation (torch's rule).
    groups : int
        Input and output channels are split into this many independent groups.
    output_size : tuple of ints, optional
        Spatial output size (or a full output shape in ``layout``); solves ``output_padding`` within
        ``out = (in - 1) * stride - pad_lo - pad_hi + dilation * (kernel - 1) + output_padding + 1``.
    residual : ndarray, optional
        Added after the bias and before the activation, in the same store:
        ``activation(conv_transpose(x, weight) + bias + residual)`` (a U-Net skip connection added as the
        decoder upsamples). Exactly the result's shape and layout (unbatched when x is), on x's device, any
        float dtype (read in the compute dtype); ``out`` must not overlap it.
    activation : {None, "relu", "relu6", "leaky_relu", "sigmoid", "tanh"}
        Fused with the bias (and residual) into the kernel's store.
    negative_slope : float
        Slope of ``"leaky_relu"`` for negative inputs.
    layout : str
        Channels-first (``"NCW"``, ``"NCHW"``, ``"NCDHW"``, the default) or channels-last (``"NWC"``,
        ``"NHWC"``, ``"NDHWC"``) for the input and the output; the weight is always channels-first.
    out : ndarray, optional
        C-contiguous result array of the exact shape and dtype, not overlapping any input (a device array
        for CUDA input).
    algorithm : {"auto", "direct", "gemm"}
        CPU: ``"direct"``, a gather over output rows; ``"gemm"``, a BLAS GEMM per group into a column buffer,
        then a gather (col2im) over output rows. CUDA: ``"direct"`` only, a gather with one thread per output.
        All write each output once, so results are deterministic.
    dtype : dtype, optional
        Result dtype (float16, float32 or float64); required for integer input. Defaults to x's dtype.
    stream : optional
        CUDA arrays only: the stream to launch on (a Numba stream, a CuPy/torch stream or a raw handle);
        by default CuPy's / torch's current stream.

    Returns
    -------
    ndarray
        ``(N, C_out, *out_spatial)`` in ``layout``, of x's dtype and array kind (CUDA in, CUDA out).
"""

conv_transpose1d = for_dims(_conv_transpose, "conv_transpose1d", 1)
conv_transpose2d = for_dims(_conv_transpose, "conv_transpose2d", 2)
conv_transpose3d = for_dims(_conv_transpose, "conv_transpose3d", 3)

conv_transpose1d.__doc__ = (
    """1-D transpose convolution (fractionally strided convolution) of ``x (N, C_in, W)``.

    The adjoint of :func:`conv1d` with the same weight, stride, padding, dilation and groups.

    Parameters
    ----------
    x : ndarray
        ``(N, C_in, W)``, or ``(N, W, C_in)`` with ``layout="NWC"``.
    weight : ndarray
        ``(C_in, C_out / groups, kW)`` (torch's transpose layout)."""
    + _COMMON_DOC
    + """
    Examples
    --------
    >>> import numpy as np, numbaconv
    >>> x = np.array([[[1, 2, 3]]], np.float32)
    >>> numbaconv.conv_transpose1d(x, np.ones((1, 1, 2), np.float32), stride=2)
    array([[[1., 1., 2., 2., 3., 3.]]], dtype=float32)
    >>> skip = np.full((1, 1, 6), 10, np.float32)
    >>> numbaconv.conv_transpose1d(x, np.ones((1, 1, 2), np.float32), stride=2, residual=skip)
    array([[[11., 11., 12., 12., 13., 13.]]], dtype=float32)
"""
)

conv_transpose2d.__doc__ = (
    """2-D transpose convolution (fractionally strided convolution) of ``x (N, C_in, H, W)``.

    The adjoint of :func:`conv2d` with the same weight, stride, padding, dilation and groups.

    Parameters
    ----------
    x : ndarray
        ``(N, C_in, H, W)``, or ``(N, H, W, C_in)`` with ``layout="NHWC"``.
    weight : ndarray
        ``(C_in, C_out / groups, kH, kW)`` (torch's transpose layout)."""
    + _COMMON_DOC
    + """
    Examples
    --------
    >>> import numpy as np, numbaconv
    >>> x, w = np.ones((1, 4, 5, 5), np.float32), np.ones((4, 2, 4, 4), np.float32)
    >>> numbaconv.conv_transpose2d(x, w, stride=2, padding=1).shape
    (1, 2, 10, 10)
    >>> numbaconv.conv_transpose2d(x, w[:, :, :3, :3], stride=2, padding=1, output_size=(10, 10)).shape
    (1, 2, 10, 10)
"""
)

conv_transpose3d.__doc__ = (
    """3-D transpose convolution (fractionally strided convolution) of ``x (N, C_in, D, H, W)``.

    The adjoint of :func:`conv3d` with the same weight, stride, padding, dilation and groups.

    Parameters
    ----------
    x : ndarray
        ``(N, C_in, D, H, W)``, or ``(N, D, H, W, C_in)`` with ``layout="NDHWC"``.
    weight : ndarray
        ``(C_in, C_out / groups, kD, kH, kW)`` (torch's transpose layout)."""
    + _COMMON_DOC
    + """
    Examples
    --------
    >>> import numpy as np, numbaconv
    >>> x = np.ones((1, 2, 3, 4, 5))
    >>> numbaconv.conv_transpose3d(x, np.ones((2, 3, 2, 2, 2)), stride=2, padding="same").shape
    (1, 3, 6, 8, 10)
"""
)


def conv_transpose_output_shape(
    input_shape: Shape,
    weight_shape: Shape,
    *,
    stride: IntOrTuple = 1,
    padding: TransposePadding = 0,
    output_padding: IntOrTuple = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
    layout: Layout | None = None,
) -> tuple[int, ...]:
    """Shape of ``conv_transpose{1,2,3}d(x, weight, ...)`` for these shapes, with every rule of the op checked.

    Examples
    --------
    >>> import numbaconv
    >>> numbaconv.conv_transpose_output_shape((1, 64, 28, 28), (64, 32, 4, 4), stride=2, padding=1)
    (1, 32, 56, 56)
    """
    nd = shape_nd("conv_transpose_output_shape", input_shape)
    return conv_transpose_params(
        f"conv_transpose{nd}d",
        nd,
        input_shape,
        weight_shape,
        stride=stride,
        padding=padding,
        output_padding=output_padding,
        dilation=dilation,
        groups=groups,
        layout=layout,
    ).out_shape


def output_padding_for(
    input_size: IntOrTuple,
    output_size: IntOrTuple,
    kernel_size: IntOrTuple,
    stride: IntOrTuple = 1,
    padding: TransposePadding = 0,
    dilation: IntOrTuple = 1,
) -> tuple[int, ...]:
    """The ``output_padding`` that makes a transpose convolution produce ``output_size``.

    Every argument is an int or a per-dim tuple (``padding`` also per-side pairs or ``"same"``); the number of
    dims comes from the tuples (1 if all are ints). Raises ValueError quoting the size formula and the reachable
    range when no output_padding reaches ``output_size``.

    Examples
    --------
    >>> import numbaconv
    >>> numbaconv.output_padding_for((7, 7), (14, 13), kernel_size=3, stride=2, padding=1)
    (1, 0)
    """
    op = "output_padding_for"
    args = dict(
        input_size=input_size, output_size=output_size, kernel_size=kernel_size, stride=stride, dilation=dilation
    )
    lengths = {len(v) for v in args.values() if isinstance(v, (tuple, list))}
    if len(lengths) > 1:
        raise ValueError(
            f"{op}: per-dim arguments have different lengths: "
            f"{', '.join(f'{k}={show(v)!r}' for k, v in args.items() if isinstance(v, (tuple, list)))}"
        )
    nd = lengths.pop() if lengths else 1
    sizes = int_tuple(op, "input_size", input_size, nd, 1)
    want = int_tuple(op, "output_size", output_size, nd, 1)
    kernel = int_tuple(op, "kernel_size", kernel_size, nd, 1)
    stride = int_tuple(op, "stride", stride, nd, 1)
    dilation = int_tuple(op, "dilation", dilation, nd, 1)
    pads, implied = transpose_padding(op, padding, nd, kernel, stride, dilation, sizes)
    if implied is not None:
        same = tuple(n * s for n, s in zip(sizes, stride, strict=False))
        if want != same:
            raise ValueError(f"{op}: output_size={want} must be input * stride = {same} with padding='same'")
        return (0,) * nd
    return solve_output_padding(op, want, sizes, kernel, stride, dilation, pads)


def resize_conv2d(
    x: Array,
    weight: Array,
    bias: Array | None = None,
    *,
    scale_factor: IntOrTuple = 2,
    mode: ResizeMode = "nearest",
    align_corners: bool | None = None,
    padding: Padding = "same",
    padding_mode: PaddingMode = "zeros",
    stride: IntOrTuple = 1,
    dilation: IntOrTuple = 1,
    groups: int = 1,
    residual: Array | None = None,
    activation: Activation = None,
    negative_slope: float = 0.01,
    layout: Layout2d = "NCHW",
    out: Array | None = None,
    algorithm: ResizeAlgorithm = "auto",
    dtype: DTypeLike | None = None,
    stream: Stream = None,
) -> Array:
    """Upsampling by an integer ``scale_factor`` then a 2-D convolution, fused for nearest upsampling.

    The checkerboard-free alternative to a strided transpose convolution (Odena et al., 2016).

    Equal to ``conv2d(interpolate(x, scale_factor=scale_factor, mode=mode, align_corners=align_corners),
    weight, ...)``. With ``mode="nearest"`` (the default) it runs in one pass and no upsampled image is built:
    the convolution's index tables read input pixel ``i // scale_factor`` directly. ``"bilinear"`` and
    ``"bicubic"`` run :func:`interpolate`'s kernel into an intermediate upsampled image (of the compute dtype,
    ``scale_factor**2`` times x's size), which the convolution then reads. Padding and ``padding_mode`` apply
    to the upsampled image.

    Parameters
    ----------
    x : ndarray
        ``(N, C_in, H, W)``, or ``(N, H, W, C_in)`` with ``layout="NHWC"``.
    weight : ndarray
        ``(C_out, C_in / groups, kH, kW)`` (conv's layout).
    scale_factor : int or tuple of 2 ints
        Upsampling factor per spatial dim.
    mode : {"nearest", "bilinear", "bicubic"}
        The upsampling, as :func:`interpolate`'s modes.
    align_corners : bool, optional
        ``"bilinear"`` and ``"bicubic"`` only, as :func:`interpolate` (None means False).
    padding, padding_mode, stride, dilation, groups, residual, activation, negative_slope, layout, out, dtype, stream
        As :func:`conv2d`, for the convolution over the upsampled image; ``padding`` defaults to ``"same"``.
    algorithm : {"auto", "direct", "gemm"} or "depthwise" on CUDA
        conv's kernels, run on the remapped index tables: on the CPU its direct or im2col + GEMM kernel; on
        CUDA its direct, implicit-GEMM or (for groups = C_in) depthwise kernel, chosen by conv's CUDA rule.

    Returns
    -------
    ndarray
        ``(N, C_out, H_out, W_out)`` in ``layout``, of x's dtype and array kind; with ``padding="same"`` and stride 1,
        ``H_out = H * scale``.

    Examples
    --------
    >>> import numpy as np, numbaconv
    >>> x = np.array([[[[1, 2], [3, 4]]]], np.float32)
    >>> numbaconv.resize_conv2d(x, np.ones((1, 1, 1, 1), np.float32))
    array([[[[1., 1., 2., 2.],
             [1., 1., 2., 2.],
             [3., 3., 4., 4.],
             [3., 3., 4., 4.]]]], dtype=float32)
    >>> numbaconv.resize_conv2d(x, np.ones((3, 1, 3, 3), np.float32), mode="bilinear", align_corners=True).shape
    (1, 3, 4, 4)
    """
    op = "resize_conv2d"
    call = Call.weighted(op, x, weight, bias, out, dtype, stream, residual).unbatched(2, "residual")
    params = resize_conv_params(
        op,
        call.x.shape,
        call["weight"].shape,
        scale_factor=scale_factor,
        layout=layout,
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
        padding_mode=padding_mode,
        activation=activation,
        negative_slope=negative_slope,
    )
    upsample = resize_interpolation(op, call.x.shape, params.scale, mode, align_corners, layout)
    if upsample is not None:
        call, params = _read_interpolated(call, params, upsample, algorithm)
    return run_conv(call, params, algorithm, select_kernel=select_resize)


def _read_interpolated(call: Call, params, upsample: InterpolateParams, algorithm: str):
    """resize_conv2d's bilinear and bicubic modes: after the conv's remaining checks (bias, residual, algorithm,
    out=), x is interpolated into an intermediate of the upsampled size, which the conv then reads as its input
    (scale 1: its index tables are those of a plain conv over the upsampled image)."""
    call.bias("bias", params.out_channels, params.op)
    call.residual(params.out_shape)
    select_resize(params, algorithm, call.backend)
    call.check_out(params.out_shape)
    call.arrays["x"] = interpolated(call, upsample)
    return call, replace(params, scale=(1,) * len(params.scale))
