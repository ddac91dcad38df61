"""Shuffles and separable filters: channel_shuffle, pixel_shuffle / pixel_unshuffle, shuffle_conv2d,
spatially_separable_conv2d and factorize_separable.

The three shuffles are pure data movement: each is one copy of a permuted view of the input, done by a
single gather kernel (kernels/shuffle.py, kernels/shuffle_cuda.py) that moves the elements' bytes, so any
fixed-size dtype works. shuffle_conv2d and spatially_separable_conv2d reuse the convolution kernels of the
arrays' backend; factorize_separable is a host function. All checks run before any kernel does.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal, NamedTuple

import numpy as np

from ._algorithms import select
from ._arrays import backend_of, check_real, host_view
from ._call import Call
from ._launch_conv import launch
from ._launch_shuffle import launch as launch_shuffle
from ._params import ConvParams, conv_params, int_tuple, is_int, padding_pairs, show
from ._params_shuffle import PermuteParams, channel_shuffle_params, pixel_shuffle_params, pixel_unshuffle_params
from ._types import (
    Activation,
    Array,
    ConvAlgorithm,
    DTypeLike,
    IntOrTuple,
    Layout,
    Layout2d,
    Padding,
    PaddingMode,
    Stream,
)
from .conv import run_conv

__all__ = [
    "Separable",
    "channel_shuffle",
    "factorize_separable",
    "pixel_shuffle",
    "pixel_unshuffle",
    "shuffle_conv2d",
    "spatially_separable_conv2d",
]


def _movable(op: str, x, out, stream) -> Call:
    """The call of a shuffle: x (and `out=`) on their backend, any fixed-size dtype (the kernels move bytes)."""
    call = Call(op, {"x": x}, outs={"out": out}, stream=stream)
    if call.x.dtype.hasobject or call.x.dtype.itemsize == 0:
        raise TypeError(
            f"{op}: input dtype {call.x.dtype} is not supported; any fixed-size dtype (numbers, bool, "
            f"datetime, structured) works, object arrays do not"
        )
    return call


def _shuffled(call: Call, params: PermuteParams) -> Array:
    """Check or allocate the result (of the caller's array kind), then fill it with the permuted copy of x."""
    call.check_out(params.out_shape)
    return call.run(params.out_shape, lambda target: launch_shuffle(call, params.src_shape, params.axes, target))


def channel_shuffle(
    x: Array,
    groups: int,
    *,
    layout: Layout | Literal["NC"] | None = None,
    out: Array | None = None,
    stream: Stream = None,
) -> Array:
    """Shuffle channels across ``groups``, as ShuffleNet does between grouped convolutions.

    Channel ``gi * (C / groups) + k`` moves to ``k * groups + gi``: the reshape ``(N, groups, C / groups,
    ...)``, swap of those two axes and reshape back of ``torch.nn.functional.channel_shuffle``.

    Parameters
    ----------
    x : ndarray or CUDA array
        ``(N, C, *spatial)`` with 0 to 3 spatial dims (any number with ``layout=None``), or channels-last
        ``(N, *spatial, C)`` with ``layout="NWC"``, ``"NHWC"`` or ``"NDHWC"``. Any fixed-size dtype.
    groups : int
        Positive, dividing C.
    layout : str, optional
        None (the default) or a channels-first name means channels at dim 1; ``"NC"`` is accepted for 2-d input.
    out : ndarray or CUDA array, optional
        C-contiguous result of x's shape and dtype, on x's device, not overlapping x.
    stream : optional
        CUDA arrays only: the stream to launch on (a Numba stream, a CuPy/torch stream or a raw handle);
        by default CuPy's / torch's current stream.

    Returns
    -------
    ndarray or CUDA array
        Same shape, dtype and array kind as x.

    Examples
    --------
    >>> import numpy as np, numbaconv
    >>> numbaconv.channel_shuffle(np.arange(6).reshape(1, 6, 1), 2)[0, :, 0]
    array([0, 3, 1, 4, 2, 5])
    """
    call = _movable("channel_shuffle", x, out, stream)
    return _shuffled(call, channel_shuffle_params("channel_shuffle", tuple(call.x.shape), groups, layout))


def pixel_shuffle(
    x: Array,
    upscale_factor: int | tuple[int, int],
    *,
    layout: Layout2d = "NCHW",
    out: Array | None = None,
    stream: Stream = None,
) -> Array:
    """Rearrange ``(*, C * r**2, H, W)`` into ``(*, C, H * r, W * r)`` (sub-pixel convolution upsampling).

    ``out[..., c, h * r + i, w * r + j] = x[..., c * r * r + i * r + j, h, w]``, as
    ``torch.nn.functional.pixel_shuffle``. ``upscale_factor`` may also be a pair ``(rH, rW)``: the channels
    then divide by ``rH * rW`` and channel ``c * rH * rW + i * rW + j`` goes to offset ``(i, j)``.

    Parameters
    ----------
    x : ndarray or CUDA array
        ``(*, C * rH * rW, H, W)``, or ``(*, H, W, C * rH * rW)`` with ``layout="NHWC"``. Any fixed-size dtype.
    upscale_factor : int or (int, int)
    layout : {"NCHW", "NHWC"}
    out : ndarray or CUDA array, optional
        C-contiguous result of the exact shape and x's dtype, on x's device, not overlapping x.
    stream : optional
        CUDA arrays only: the stream to launch on (a Numba stream, a CuPy/torch stream or a raw handle);
        by default CuPy's / torch's current stream.

    Returns
    -------
    ndarray or CUDA array
        ``(*, C, H * rH, W * rW)`` (or channels-last), of x's dtype.

    Examples
    --------
    >>> import numpy as np, numbaconv
    >>> numbaconv.pixel_shuffle(np.arange(4).reshape(1, 4, 1, 1), 2)[0, 0]
    array([[0, 1],
           [2, 3]])
    """
    call = _movable("pixel_shuffle", x, out, stream)
    return _shuffled(call, pixel_shuffle_params("pixel_shuffle", tuple(call.x.shape), upscale_factor, layout))


def pixel_unshuffle(
    x: Array,
    downscale_factor: int | tuple[int, int],
    *,
    layout: Layout2d = "NCHW",
    out: Array | None = None,
    stream: Stream = None,
) -> Array:
    """Rearrange ``(*, C, H * r, W * r)`` into ``(*, C * r**2, H, W)``: the inverse of :func:`pixel_shuffle`.

    ``out[..., c * r * r + i * r + j, h, w] = x[..., c, h * r + i, w * r + j]``, as
    ``torch.nn.functional.pixel_unshuffle``; ``downscale_factor`` may also be a pair ``(rH, rW)``.

    Parameters
    ----------
    x : ndarray or CUDA array
        ``(*, C, H, W)`` with H divisible by rH and W by rW, or ``(*, H, W, C)`` with ``layout="NHWC"``.
        Any fixed-size dtype.
    downscale_factor : int or (int, int)
    layout : {"NCHW", "NHWC"}
    out : ndarray or CUDA array, optional
        C-contiguous result of the exact shape and x's dtype, on x's device, not overlapping x.
    stream : optional
        CUDA arrays only: the stream to launch on (a Numba stream, a CuPy/torch stream or a raw handle);
        by default CuPy's / torch's current stream.

    Returns
    -------
    ndarray or CUDA array
        ``(*, C * rH * rW, H / rH, W / rW)`` (or channels-last), of x's dtype.

    Examples
    --------
    >>> import numpy as np, numbaconv
    >>> numbaconv.pixel_unshuffle(np.arange(4).reshape(1, 1, 2, 2), 2)[0, :, 0, 0]
    array([0, 1, 2, 3])
    """
    call = _movable("pixel_unshuffle", x, out, stream)
    return _shuffled(call, pixel_unshuffle_params("pixel_unshuffle", tuple(call.x.shape), downscale_factor, layout))


def shuffle_conv2d(
    x: Array,
    weight: Array,
    bias: Array | None = None,
    *,
    groups: int,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
    padding_mode: PaddingMode = "zeros",
    flip: bool = False,
    residual: Array | None = None,
    activation: Activation = None,
    negative_slope: float = 0.01,
    layout: Layout2d = "NCHW",
    out: Array | None = None,
    algorithm: ConvAlgorithm = "auto",
    dtype: DTypeLike | None = None,
    stream: Stream = None,
) -> Array:
    """Grouped 2-D convolution whose output is written already channel-shuffled, in one pass.

    Equals ``channel_shuffle(conv2d(x, weight, bias, groups=groups, ...), groups)`` (activation applied
    before the shuffle, which commutes with it) without the unshuffled temporary: group ``gi``'s output
    channels land directly on channels ``gi, gi + groups, gi + 2 * groups, ...``. A ``residual`` has the
    shape of that shuffled result and is added to it before the activation.

    Parameters
    ----------
    x : ndarray or CUDA array
        ``(N, C_in, H, W)``, or ``(N, H, W, C_in)`` with ``layout="NHWC"``.
    weight : ndarray or CUDA array
        ``(C_out, C_in / groups, kH, kW)``, on x's device.
    groups : int
        Required: the convolution's groups, which is also the shuffle's.
    algorithm : str
        ``"auto"`` or a :func:`conv2d` algorithm of x's backend that applies to one group's convolution.

    Other arguments (``stream`` included) as :func:`conv2d`.

    Returns
    -------
    ndarray or CUDA array
        ``(N, C_out, H_out, W_out)`` in ``layout``, channels shuffled, of x's array kind.

    Examples
    --------
    >>> import numpy as np, numbaconv
    >>> x = np.ones((1, 4, 3, 3), np.float32)
    >>> w = np.arange(4, dtype=np.float32).reshape(4, 1, 1, 1)  # output channel o scales by o
    >>> numbaconv.shuffle_conv2d(x, w, groups=4)[0, :, 0, 0]
    array([0., 1., 2., 3.], dtype=float32)
    >>> numbaconv.shuffle_conv2d(np.ones((1, 2, 3, 3), np.float32), w[:, :1], groups=2)[0, :, 0, 0]
    array([0., 2., 1., 3.], dtype=float32)
    """
    call = Call.weighted("shuffle_conv2d", x, weight, bias, out, dtype, stream, residual).unbatched(2, "residual")
    params, one_group = shuffle_conv_params(
        call,
        groups=groups,
        stride=stride,
        padding=padding,
        dilation=dilation,
        padding_mode=padding_mode,
        flip=flip,
        activation=activation,
        negative_slope=negative_slope,
        layout=layout,
    )
    return run_conv(call, params, algorithm, one_group=one_group)


def shuffle_conv_params(call: Call, *, groups, **options) -> tuple[ConvParams, ConvParams]:
    """(the grouped conv's params, one group's) of shuffle_conv2d, every rule checked on the call's shapes
    (`options`: conv2d's stride, padding, dilation, padding_mode, flip, activation, negative_slope, layout). One
    group's convolution is what picks the kernel. (numbaconv.dask checks a global call with them too.)"""
    params = conv_params(call.op, 2, call.x.shape, call["weight"].shape, groups=groups, **options)
    one_group = dataclasses.replace(
        params, in_channels=params.in_per_group, out_channels=params.out_per_group, groups=1
    )
    return params, one_group


# The 3-d shapes a spatially separable pass's weight may have, and where its 4-d shape has the axis of 1.
SEPARABLE_WEIGHTS = {
    "column_weight": (3, "(C_mid, C_in/groups, kH) or (C_mid, C_in/groups, kH, 1)"),
    "row_weight": (2, "(C_out, C_mid/groups, kW) or (C_out, C_mid/groups, 1, kW)"),
}


def separable_weight_shape(op: str, name: str, shape) -> tuple[int, ...]:
    """The 4-d weight shape of spatially_separable_conv2d's pass `name` ("column_weight", "row_weight") for the
    3-d ``(C_o, C_i, k)`` or 4-d shape `shape` the caller passed."""
    axis, shape_text = SEPARABLE_WEIGHTS[name]
    shape = tuple(shape)
    if len(shape) == 3:
        return (*shape[:axis], 1, *shape[axis:])
    if len(shape) == 4 and shape[axis] == 1:
        return shape
    raise ValueError(f"{op}: {name}.shape={shape} must be {shape_text}")


def separable_weight(op: str, name: str, weight):
    """A 3-d or 4-d pass weight as the 4-d weight of its conv2d pass (a view)."""
    shape = separable_weight_shape(op, name, weight.shape)
    if weight.ndim == 4:
        return weight
    if isinstance(weight, np.ndarray):
        return weight.reshape(shape)
    from . import _cuda

    strides = list(weight.strides)
    strides.insert(SEPARABLE_WEIGHTS[name][0], 0)
    return _cuda.restride(weight, shape, tuple(strides))


def separable_passes(op: str, stride, padding: Padding, dilation) -> tuple[dict[str, Any], dict[str, Any]]:
    """The stride, padding and dilation of spatially_separable_conv2d's column pass (the H parts) and row pass
    (the W parts); a padding string goes to both (a kernel of size 1 gets no padding from any padding string)."""
    s_h, s_w = int_tuple(op, "stride", stride, 2, 1)
    d_h, d_w = int_tuple(op, "dilation", dilation, 2, 1)
    col_pad: Padding
    row_pad: Padding
    if isinstance(padding, str):
        col_pad = row_pad = padding
    else:
        p_h, p_w = padding_pairs(op, padding, 2, None, None, None, None)
        col_pad, row_pad = (p_h, (0, 0)), ((0, 0), p_w)
    return (
        dict(stride=(s_h, 1), padding=col_pad, dilation=(d_h, 1)),
        dict(stride=(1, s_w), padding=row_pad, dilation=(1, d_w)),
    )


def spatially_separable_conv2d(
    x: Array,
    column_weight: Array,
    row_weight: Array,
    bias: Array | None = None,
    *,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
    padding_mode: PaddingMode = "zeros",
    flip: bool = False,
    residual: Array | None = None,
    activation: Activation = None,
    negative_slope: float = 0.01,
    layout: Layout2d = "NCHW",
    out: Array | None = None,
    dtype: DTypeLike | None = None,
    stream: Stream = None,
) -> Array:
    """A ``kH x 1`` convolution down the columns, then a ``1 x kW`` convolution along the rows.

    Exactly ``conv2d(conv2d(x, column_weight, stride=(sH, 1), padding=((pH_lo, pH_hi), (0, 0)),
    dilation=(dH, 1), groups=groups), row_weight, bias, stride=(1, sW), padding=((0, 0), (pW_lo, pW_hi)),
    dilation=(1, dW), groups=groups, activation=activation)``: the column pass takes the H parts of stride,
    padding and dilation, the row pass the W parts, and padding strings (``"same"``, ...) mean what they
    mean for the 2-d kernel ``outer(column, row)``. No bias or activation between the passes, so the result
    is the convolution with that rank-1 (or, with several mid channels, low-rank) kernel, for every padding
    mode. Both passes are checked before either runs. On CUDA arrays both passes run on the device (the
    intermediate is a device array too).

    Parameters
    ----------
    x : ndarray or CUDA array
        ``(N, C_in, H, W)``, or ``(N, H, W, C_in)`` with ``layout="NHWC"``.
    column_weight : ndarray or CUDA array
        ``(C_mid, C_in / groups, kH, 1)`` or ``(C_mid, C_in / groups, kH)``.
    row_weight : ndarray
        ``(C_out, C_mid / groups, 1, kW)`` or ``(C_out, C_mid / groups, kW)``.
    bias : ndarray, optional
        ``(C_out,)``, added after the row pass, before the activation.
    residual : ndarray, optional
        Of the result's shape, added after the bias, before the activation (as :func:`conv2d`'s).
    groups : int
        Groups of both passes; ``groups=C_in`` with ``C_mid = C_out = C_in`` filters each channel on its own
        (a separable image filter such as Sobel applied per channel).

    Other arguments (``stream`` included) as :func:`conv2d`; every array on x's device.

    Returns
    -------
    ndarray or CUDA array
        ``(N, C_out, H_out, W_out)`` in ``layout``, of x's array kind.

    Examples
    --------
    >>> import numpy as np, numbaconv
    >>> x = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)
    >>> col, row = np.array([[[1., 2., 1.]]]), np.array([[[1., 0., -1.]]])  # Sobel: smooth H, differentiate W
    >>> numbaconv.spatially_separable_conv2d(x, col, row)[0, 0]
    array([[-8., -8.],
           [-8., -8.]])
    """
    call = spatially_separable_call(x, column_weight, row_weight, bias, residual, out, dtype, stream)
    col_params, row_params = spatially_separable_params(
        call,
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
        padding_mode=padding_mode,
        flip=flip,
        activation=activation,
        negative_slope=negative_slope,
        layout=layout,
    )
    bias = call.bias("bias", row_params.out_channels, row_params.op)
    residual = call.residual(row_params.out_shape)
    call.check_out(row_params.out_shape)
    col_kernel, row_kernel = select(col_params, "auto", call.backend), select(row_params, "auto", call.backend)
    x, col_w, row_w = call.compute_input("x"), call.compute_input("column_weight"), call.compute_input("row_weight")

    def fill(target):
        mid = call.empty(col_params.out_shape, call.compute)
        launch(call, col_params, col_kernel, x, col_w, call.bias(None, col_params.out_channels), mid)
        launch(call, row_params, row_kernel, mid, row_w, bias, target, residual)

    return call.run(row_params.out_shape, fill)


def spatially_separable_call(x, column_weight, row_weight, bias, residual, out, dtype, stream) -> Call:
    """The call of spatially_separable_conv2d: every array on one backend, a float result, real weights, x
    batched."""
    call = Call(
        "spatially_separable_conv2d",
        {"x": x, "column_weight": column_weight, "row_weight": row_weight, "bias": bias, "residual": residual},
        outs={"out": out},
        stream=stream,
    )
    return call.float_result(dtype).real("column_weight", "row_weight").unbatched(2, "residual")


def spatially_separable_params(
    call: Call,
    *,
    stride: IntOrTuple,
    padding: Padding,
    dilation: IntOrTuple,
    groups: int,
    padding_mode: PaddingMode,
    flip: bool,
    activation: Activation,
    negative_slope: float,
    layout: Layout2d,
) -> tuple[ConvParams, ConvParams]:
    """(column pass, row pass) params of spatially_separable_conv2d, every rule of both checked on the call's
    shapes; the weights are made 4-d in `call.arrays`. (numbaconv.dask checks a global call with them too.)"""
    op = call.op
    col = separable_weight(op, "column_weight", call["column_weight"])
    row = separable_weight(op, "row_weight", call["row_weight"])
    col_pass, row_pass = separable_passes(op, stride, padding, dilation)
    common: dict[str, Any] = dict(
        groups=groups, padding_mode=padding_mode, flip=flip, negative_slope=negative_slope, layout=layout
    )
    col_params = conv_params(f"{op} (column pass)", 2, call.x.shape, col.shape, **col_pass, **common)
    row_params = conv_params(
        f"{op} (row pass)", 2, col_params.out_shape, row.shape, **row_pass, activation=activation, **common
    )
    call.arrays.update(column_weight=col, row_weight=row)
    return col_params, row_params


class Separable(NamedTuple):
    """Result of :func:`factorize_separable`."""

    column: np.ndarray
    """``(..., rank, kH)`` column filters."""
    row: np.ndarray
    """``(..., rank, kW)`` row filters."""
    error: np.ndarray
    """``(...)`` relative Frobenius error of each kernel's rank-``rank`` reconstruction."""

    @property
    def groups(self) -> int:
        """``groups=`` for :func:`spatially_separable_conv2d`: 1 for one kernel ``(kH, kW)``, C for a stack of
        per-channel kernels ``(C, kH, kW)`` or a depthwise weight ``(C, 1, kH, kW)``."""
        lead = self.column.shape[:-2]
        if len(lead) == 0:
            return 1
        if len(lead) == 1 or (len(lead) == 2 and lead[1] == 1):
            return int(lead[0])
        raise ValueError(
            f"factorize_separable: a weight of shape {(*lead, self.column.shape[-1], self.row.shape[-1])} mixes "
            f"channels, so its factors are not one column pass and one row pass; factorize one kernel, a stack "
            f"(C, kH, kW) or a depthwise weight (C, 1, kH, kW)"
        )

    @property
    def column_weight(self) -> np.ndarray:
        """The column filters as :func:`spatially_separable_conv2d`'s ``column_weight``:
        ``(groups * rank, 1, kH)``."""
        rank, k_h = self.column.shape[-2:]
        return self.column.reshape(self.groups * rank, 1, k_h)

    @property
    def row_weight(self) -> np.ndarray:
        """The row filters as :func:`spatially_separable_conv2d`'s ``row_weight``: ``(groups, rank, kW)``."""
        rank, k_w = self.row.shape[-2:]
        return self.row.reshape(self.groups, rank, k_w)


def factorize_separable(weight: np.ndarray, rank: int = 1) -> Separable:
    """Split each 2-d kernel into ``rank`` column and row filters by SVD (the best rank-r approximation).

    ``kernel ~= sum_r outer(column[..., r, :], row[..., r, :])``. The singular values are shared evenly
    (``sqrt(s)`` on each side) and each column filter's largest-magnitude entry is made positive, so the split
    is deterministic. Not every kernel is separable: ``error`` is ``||kernel - approximation||_F /
    ||kernel||_F`` per kernel (0 for a zero kernel), i.e. ``sqrt(sum of the dropped s**2 / sum of all s**2)``;
    it is 0 up to rounding for a rank-1 kernel such as Sobel at ``rank=1``.

    A host function (a small SVD, on NumPy): a CUDA array is a TypeError; copy the weight to the host first
    (``cupy.asnumpy(w)``, ``w.copy_to_host()``, ``w.cpu().numpy()``) and move the filters back with your library.

    Parameters
    ----------
    weight : ndarray
        ``(..., kH, kW)``: one kernel or any stack of them, e.g. a conv weight ``(C_out, C_in, kH, kW)``.
    rank : int
        Number of separable terms, from 1 to ``min(kH, kW)``.

    Returns
    -------
    Separable
        ``(column (..., rank, kH), row (..., rank, kW), error (...))``; float32 filters for float32 or
        float16 weights, float64 otherwise; error is float64 (a NumPy scalar for one 2-d kernel). Its
        ``column_weight``, ``row_weight`` and ``groups`` are what :func:`spatially_separable_conv2d` takes, for
        one kernel ``(kH, kW)`` on a one-channel input, or per-channel kernels ``(C, kH, kW)`` /
        ``(C, 1, kH, kW)`` on a C-channel input: ``spatially_separable_conv2d(x, s.column_weight, s.row_weight,
        groups=s.groups)`` equals the conv with the rank-``rank`` approximation (a weight that mixes channels has
        no such pair: ``groups`` raises a ValueError).

    Examples
    --------
    >>> import numpy as np, numbaconv
    >>> sobel = np.outer([1, 2, 1], [1, 0, -1])
    >>> column, row, error = numbaconv.factorize_separable(sobel)
    >>> np.allclose(column[0, :, None] * row[0], sobel), bool(error < 1e-12)
    (True, True)
    >>> round(float(numbaconv.factorize_separable(np.eye(3)).error), 4)  # identity: far from separable
    0.8165
    >>> s = numbaconv.factorize_separable(np.stack([sobel, sobel.T]).astype(np.float32))  # one per channel
    >>> x = np.random.default_rng(0).random((1, 2, 6, 6), np.float32)
    >>> y = numbaconv.spatially_separable_conv2d(x, s.column_weight, s.row_weight, groups=s.groups)
    >>> np.allclose(y, numbaconv.conv2d(x, np.stack([sobel, sobel.T])[:, None].astype(np.float32), groups=2))
    True
    """
    op = "factorize_separable"
    if backend_of(op, weight=weight) != "cpu":
        raise TypeError(
            f"{op}: weight is a CUDA array ({type(weight).__qualname__}); {op} is a host function "
            f"that takes NumPy: copy the weight to the host (cupy.asnumpy(w), w.copy_to_host(), "
            f"w.cpu().numpy()) and move the filters back to the device"
        )
    weight = host_view(op, "weight", weight)
    check_real(op, "weight", weight)
    if weight.ndim < 2:
        raise ValueError(f"{op}: weight must be at least 2-d (..., kH, kW), got {weight.ndim}-d shape {weight.shape}")
    k_h, k_w = weight.shape[-2:]
    if k_h < 1 or k_w < 1:
        raise ValueError(f"{op}: kernel size ({k_h}, {k_w}) (weight.shape[-2:]) must be positive")
    if not is_int(rank) or not 1 <= rank <= min(k_h, k_w):
        raise ValueError(f"{op}: rank={show(rank)!r} must be an integer from 1 to min(kH, kW) = {min(k_h, k_w)}")
    dtype = np.float32 if weight.dtype in (np.float16, np.float32) else np.float64
    u, s, vt = np.linalg.svd(weight.astype(dtype, copy=False), full_matrices=False)
    root = np.sqrt(s[..., :rank])
    column = np.swapaxes(u[..., :, :rank], -1, -2) * root[..., :, None]
    row = vt[..., :rank, :] * root[..., :, None]
    peak = np.take_along_axis(column, np.argmax(np.abs(column), axis=-1)[..., None], axis=-1)
    sign = np.where(peak < 0, -1, 1).astype(dtype)
    s64 = s.astype(np.float64) ** 2
    total = s64.sum(axis=-1)
    dropped = s64[..., rank:].sum(axis=-1)
    error = np.sqrt(np.divide(dropped, total, out=np.zeros_like(total), where=total > 0))
    # "+ 0" turns the -0.0 that a sign flip makes of zero taps back into 0.0.
    return Separable(column * sign + 0, row * sign + 0, error[()])
