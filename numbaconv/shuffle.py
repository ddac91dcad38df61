"""Shuffles and separable filters: channel_shuffle, pixel_shuffle / pixel_unshuffle, shuffle_conv2d,
spatially_separable_conv2d and factorize_separable.

The three shuffles are pure data movement: each is one copy of a permuted view of the input, done by a
single gather kernel (kernels/shuffle.py, kernels/shuffle_cuda.py) that moves the elements' bytes, so any
fixed-size dtype works. shuffle_conv2d and spatially_separable_conv2d reuse the convolution kernels of the
arrays' backend; factorize_separable is a host function. All checks run before any kernel does.
"""

from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple

import numpy as np

from . import _cpu, tuning
from ._algorithms import applicable_algorithms, resolve_algorithm
from ._arrays import as_compute, backend_of, check_out, check_real, result_dtypes
from ._params import _is_int, _show, conv_params, int_tuple, padding_pairs, spatial_layout
from .conv import _check_bias, _run, on_backend

__all__ = ["Separable", "channel_shuffle", "factorize_separable", "pixel_shuffle", "pixel_unshuffle",
           "shuffle_conv2d", "spatially_separable_conv2d"]


def _host_only(op: str, **arrays) -> None:
    """For ops with CPU kernels only (analysis.dead_channels): NumPy arrays in, else an error before any work."""
    if backend_of(op, **arrays) != "cpu":
        raise NotImplementedError(f"{op}: CUDA arrays are not supported by {op} yet; pass NumPy arrays")


class _Move(NamedTuple):
    """A shuffle's input and `out=` as its kernels see them, with what is needed to return the caller's kind."""
    op: str
    backend: str
    x: object
    out: object
    like: object
    user_out: object
    stream: object


def _movable(op: str, x, out, stream) -> _Move:
    backend = backend_of(op, x=x, out=out)
    like, user_out = x, out
    x, out = on_backend(op, backend, stream, x, out)
    if x.dtype.hasobject or x.dtype.itemsize == 0:
        raise TypeError(f"{op}: input dtype {x.dtype} is not supported; any fixed-size dtype (numbers, bool, "
                        f"datetime, structured) works, object arrays do not")
    return _Move(op, backend, x, out, like, user_out, stream)


def _words(a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """C-contiguous `a` seen as `shape` + (words per element,) unsigned ints holding its bytes.

    Moving bytes instead of typed values gives one compiled kernel per word size for every dtype (float16,
    complex, structured, non-native byte order included) and copies NaN payloads bit for bit.
    """
    size = a.dtype.itemsize
    word = next(w for w in (8, 4, 2, 1) if size % w == 0)
    return a.reshape(-1).view(f"u{word}").reshape(*shape, size // word)


def _permute_copy(x: np.ndarray, src_shape: tuple[int, ...], axes: tuple[int, ...], out: np.ndarray) -> np.ndarray:
    """out = x viewed as the 5-d `src_shape`, transposed by `axes`; one parallel gather, no temporary."""
    from .kernels import shuffle as k

    src = _words(np.ascontiguousarray(x), src_shape).transpose(*axes, 5)
    dst = _words(out, src.shape[:5])
    if src.flags.c_contiguous:  # the permutation only moves size-1 axes: a plain copy
        np.copyto(dst, src)
    else:
        k.permute_copy_cpu(src, dst)
    return out


def _shuffled(m: _Move, shape: tuple[int, ...], src_shape: tuple[int, ...], axes: tuple[int, ...]):
    """Check or allocate the result (of the caller's array kind), then fill it with the permuted copy of x."""
    if m.out is not None:
        check_out(m.op, m.out, shape, m.x.dtype, {"x": m.x}, m.backend)
    if m.backend == "cpu":
        return _permute_copy(m.x, src_shape, axes, np.empty(shape, m.x.dtype) if m.out is None else m.out)
    from . import _cuda, _gpu_shuffle
    stream = _cuda.stream_for(m.like, m.stream)
    result = _cuda.allocate(m.like, shape, m.x.dtype, stream) if m.user_out is None else m.user_out
    _gpu_shuffle.permute_copy(m.op, m.x, src_shape, axes, _cuda.to_numba(result), stream)
    return result


def _channels_last_any(op: str, layout, ndim: int) -> bool:
    """Layout of an (N, C, *spatial) array with any number of spatial dims; None means channels at dim 1."""
    if layout is None or (ndim == 2 and layout == "NC"):
        return False
    if 1 <= ndim - 2 <= 3:
        return spatial_layout(op, layout, ndim - 2)
    raise ValueError(f"{op}: layout={layout!r} does not describe a {ndim}-d input; use layout=None (channels at "
                     f"dim 1){' or ' + repr('NC') if ndim == 2 else ''}")


def channel_shuffle(x, groups, *, layout=None, out=None, stream=None):
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
    op = "channel_shuffle"
    m = _movable(op, x, out, stream)
    shape = tuple(m.x.shape)  # a plain tuple: the CUDA simulator's shapes refuse negative indices
    if len(shape) < 2:
        raise ValueError(f"{op}: input must be at least 2-d (N, C, *spatial), got {len(shape)}-d shape {shape}")
    channels_last = _channels_last_any(op, layout, len(shape))
    if not _is_int(groups) or groups < 1:
        raise ValueError(f"{op}: groups={_show(groups)!r} must be a positive integer")
    channels = shape[-1] if channels_last else shape[1]
    if channels % groups:
        raise ValueError(f"{op}: groups={int(groups)} must divide the number of channels {channels}")
    g, per_group = int(groups), channels // int(groups)
    # Lay the work out for the CPU kernel (parallel over the first two axes, sequential writes inside):
    # channels-first (N, C/g, 1, g, spatial) parallel over images x channels; channels-last
    # (1, pixels, 1, C/g, g) parallel over pixels. The CUDA kernel runs one thread per element of either.
    if channels_last:
        return _shuffled(m, shape, (1, math.prod(shape[:-1]), 1, g, per_group), (0, 1, 2, 4, 3))
    return _shuffled(m, shape, (shape[0], g, 1, per_group, math.prod(shape[2:])), (0, 3, 2, 1, 4))


def _pixel_args(op: str, x, factor, name: str, layout, out, stream):
    m = _movable(op, x, out, stream)
    x = m.x
    channels_last = spatial_layout(op, layout, 2)
    if x.ndim < 3:
        want = "(*, H, W, C)" if channels_last else "(*, C, H, W)"
        raise ValueError(f"{op}: input must be at least 3-d {want}, got {x.ndim}-d shape {x.shape}")
    rh, rw = int_tuple(op, name, factor, 2, 1)
    lead = math.prod(x.shape[:-3])
    if channels_last:
        height, width, channels = x.shape[-3:]
    else:
        channels, height, width = x.shape[-3:]
    return m, channels_last, rh, rw, lead, channels, height, width


def pixel_shuffle(x, upscale_factor, *, layout="NCHW", out=None, stream=None):
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
    op = "pixel_shuffle"
    m, cl, rh, rw, lead, channels, height, width = _pixel_args(op, x, upscale_factor, "upscale_factor", layout,
                                                               out, stream)
    if channels % (rh * rw):
        raise ValueError(f"{op}: input channels {channels} must be divisible by upscale_factor**2 = "
                         f"{rh} * {rw} = {rh * rw}")
    c = channels // (rh * rw)
    shape = tuple(m.x.shape[:-3]) + ((height * rh, width * rw, c) if cl else (c, height * rh, width * rw))
    # Channels-first: (B*C, rH, rW, H, W) -> (B*C, H, rH, W, rW); channels-last: (B*H, W, C, rH, rW) ->
    # (B*H, rH, W, rW, C). The same axis order does both.
    src = (lead * height, width, c, rh, rw) if cl else (lead * c, rh, rw, height, width)
    return _shuffled(m, shape, src, (0, 3, 1, 4, 2))


def pixel_unshuffle(x, downscale_factor, *, layout="NCHW", out=None, stream=None):
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
    op = "pixel_unshuffle"
    m, cl, rh, rw, lead, channels, height, width = _pixel_args(op, x, downscale_factor, "downscale_factor",
                                                               layout, out, stream)
    for name, size, r in (("height", height, rh), ("width", width, rw)):
        if size % r:
            raise ValueError(f"{op}: input {name} {size} must be divisible by downscale_factor {r}")
    h, w, c = height // rh, width // rw, channels * rh * rw
    shape = tuple(m.x.shape[:-3]) + ((h, w, c) if cl else (c, h, w))
    # The inverse permutation of pixel_shuffle's, on the same 5-d views.
    src = (lead * h, rh, w, rw, channels) if cl else (lead * channels, h, rh, w, rw)
    return _shuffled(m, shape, src, (0, 2, 4, 1, 3))


def shuffle_conv2d(x, weight, bias=None, *, groups, stride=1, padding=0, dilation=1, padding_mode="zeros",
                   flip=False, activation=None, negative_slope=0.01, layout="NCHW", out=None, algorithm="auto",
                   dtype=None, stream=None):
    """Grouped 2-D convolution whose output is written already channel-shuffled, in one pass.

    Equals ``channel_shuffle(conv2d(x, weight, bias, groups=groups, ...), groups)`` (activation applied
    before the shuffle, which commutes with it) without the unshuffled temporary: group ``gi``'s output
    channels land directly on channels ``gi, gi + groups, gi + 2 * groups, ...``.

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
    op = "shuffle_conv2d"
    backend = backend_of(op, x=x, weight=weight, bias=bias, out=out)
    like, user_out = x, out
    x, weight, bias, out = on_backend(op, backend, stream, x, weight, bias, out)
    storage, compute = result_dtypes(op, x, dtype, out)
    check_real(op, "weight", weight)
    params = conv_params(op, 2, x.shape, weight.shape, stride=stride, padding=padding, dilation=dilation,
                         groups=groups, padding_mode=padding_mode, flip=flip, activation=activation,
                         alpha=negative_slope, layout=layout)
    bias = _check_bias(params, bias)
    one_group = dataclasses.replace(params, in_channels=params.in_per_group, out_channels=params.out_per_group,
                                    groups=1)
    if algorithm != "tune":
        algorithm = resolve_algorithm(one_group, algorithm, backend)
    if out is not None:
        check_out(op, out, params.out_shape, storage, {"x": x, "weight": weight, "bias": bias}, backend)
    if backend == "cuda":
        from . import _cuda, _gpu_shuffle
        stream = _cuda.stream_for(like, stream)

        def launch(name, result):
            _gpu_shuffle.shuffle_conv(params, one_group, name, x, weight, bias, _cuda.to_numba(result), compute,
                                      stream)
            return result

        if algorithm == "tune":
            algorithm = tuning.tune(params, compute, backend, applicable_algorithms(one_group, backend),
                                    lambda name: launch(name, _cuda.allocate(like, params.out_shape, storage, stream)))
        return launch(algorithm, _cuda.allocate(like, params.out_shape, storage, stream) if user_out is None
                      else user_out)
    x = as_compute(x, compute)
    weight = as_compute(weight, compute)
    bias = np.zeros(params.out_channels, compute) if bias is None else np.ascontiguousarray(as_compute(bias, compute))
    if algorithm == "tune":
        algorithm = tuning.tune(params, compute, backend, applicable_algorithms(one_group, backend),
                                lambda name: _shuffle_groups(params, one_group, name, x, weight, bias,
                                                             np.empty(params.out_shape, dtype=compute)))
    if out is None:
        out = np.empty(params.out_shape, dtype=storage)
    target = out if storage == compute else np.empty(params.out_shape, dtype=compute)
    _shuffle_groups(params, one_group, algorithm, x, weight, bias, target)
    if target is not out:
        np.copyto(out, target, casting="unsafe")
    return out


def _shuffle_groups(params, one_group, algorithm, x, weight, bias, target) -> None:
    """Each group's convolution straight into its shuffled output channels (CPU)."""
    c_group, o_group, g = params.in_per_group, params.out_per_group, params.groups
    for gi in range(g):
        cs, os = slice(gi * c_group, (gi + 1) * c_group), slice(gi * o_group, (gi + 1) * o_group)
        # Strided channel views: the conv launcher works on any strides, so the shuffle costs nothing.
        if params.channels_last:
            x_g, out_g = x[..., cs], target[..., gi::g]
        else:
            x_g, out_g = x[:, cs], target[:, gi::g]
        _cpu.conv(one_group, algorithm, x_g, weight[os], bias[os], out_g)


def _separable_weight(op: str, name: str, weight, axis: int, shape_text: str):
    """A 3-d ``(C_o, C_i, k)`` or 4-d weight with a size-1 axis, as the 4-d weight of its conv2d pass (a view)."""
    if weight.ndim == 3 and isinstance(weight, np.ndarray):
        return np.expand_dims(weight, axis)
    if weight.ndim == 3:
        from . import _cuda
        shape, strides = list(weight.shape), list(weight.strides)
        shape.insert(axis, 1)
        strides.insert(axis, 0)
        return _cuda.restride(weight, tuple(shape), tuple(strides))
    if weight.ndim == 4 and weight.shape[axis] == 1:
        return weight
    raise ValueError(f"{op}: {name}.shape={tuple(weight.shape)} must be {shape_text}")


def spatially_separable_conv2d(x, column_weight, row_weight, bias=None, *, stride=1, padding=0, dilation=1,
                               groups=1, padding_mode="zeros", flip=False, activation=None, negative_slope=0.01,
                               layout="NCHW", out=None, dtype=None, stream=None):
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
    op = "spatially_separable_conv2d"
    backend = backend_of(op, x=x, column_weight=column_weight, row_weight=row_weight, bias=bias, out=out)
    like, user_out = x, out
    x, column_weight, row_weight, bias, out = on_backend(op, backend, stream, x, column_weight, row_weight, bias, out)
    storage, compute = result_dtypes(op, x, dtype, out)
    check_real(op, "column_weight", column_weight)
    check_real(op, "row_weight", row_weight)
    col = _separable_weight(op, "column_weight", column_weight, 3,
                            "(C_mid, C_in/groups, kH) or (C_mid, C_in/groups, kH, 1)")
    row = _separable_weight(op, "row_weight", row_weight, 2, "(C_out, C_mid/groups, kW) or (C_out, C_mid/groups, "
                                                             "1, kW)")
    s_h, s_w = int_tuple(op, "stride", stride, 2, 1)
    d_h, d_w = int_tuple(op, "dilation", dilation, 2, 1)
    if isinstance(padding, str):
        col_pad = row_pad = padding  # a kernel of size 1 gets no padding from any padding string
    else:
        p_h, p_w = padding_pairs(op, padding, 2, None, None, None, None)
        col_pad, row_pad = (p_h, (0, 0)), ((0, 0), p_w)
    common = dict(groups=groups, padding_mode=padding_mode, flip=flip, alpha=negative_slope, layout=layout)
    col_params = conv_params(f"{op} (column pass)", 2, x.shape, col.shape, stride=(s_h, 1), padding=col_pad,
                             dilation=(d_h, 1), **common)
    row_params = conv_params(f"{op} (row pass)", 2, col_params.out_shape, row.shape, stride=(1, s_w),
                             padding=row_pad, dilation=(1, d_w), activation=activation, **common)
    bias = _check_bias(row_params, bias)
    if out is not None:
        check_out(op, out, row_params.out_shape, storage, {"x": x, "column_weight": column_weight,
                                                           "row_weight": row_weight, "bias": bias}, backend)
    mid = _run(col_params, resolve_algorithm(col_params, "auto", backend), backend, like, x, col, None, compute,
               compute, None, None, stream)
    mid_view = on_backend(op, backend, None, mid)[0]
    return _run(row_params, resolve_algorithm(row_params, "auto", backend), backend, like, mid_view, row, bias,
                compute, storage, out, user_out, stream)


class Separable(NamedTuple):
    """Result of :func:`factorize_separable`."""
    column: np.ndarray
    """``(..., rank, kH)`` column filters."""
    row: np.ndarray
    """``(..., rank, kW)`` row filters."""
    error: np.ndarray
    """``(...)`` relative Frobenius error of each kernel's rank-``rank`` reconstruction."""


def factorize_separable(weight, rank=1):
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
        float16 weights, float64 otherwise; error is float64 (a NumPy scalar for one 2-d kernel). To run one
        factorised kernel: ``spatially_separable_conv2d(x, column[:, None, :], row[None])`` (C_mid = rank).

    Examples
    --------
    >>> import numpy as np, numbaconv
    >>> sobel = np.outer([1, 2, 1], [1, 0, -1])
    >>> column, row, error = numbaconv.factorize_separable(sobel)
    >>> np.allclose(column[0, :, None] * row[0], sobel), bool(error < 1e-12)
    (True, True)
    >>> round(float(numbaconv.factorize_separable(np.eye(3)).error), 4)  # identity: far from separable
    0.8165
    """
    op = "factorize_separable"
    if backend_of(op, weight=weight) != "cpu":
        raise TypeError(f"{op}: weight is a CUDA array ({type(weight).__qualname__}); {op} is a host function "
                        f"that takes NumPy: copy the weight to the host (cupy.asnumpy(w), w.copy_to_host(), "
                        f"w.cpu().numpy()) and move the filters back to the device")
    check_real(op, "weight", weight)
    if weight.ndim < 2:
        raise ValueError(f"{op}: weight must be at least 2-d (..., kH, kW), got {weight.ndim}-d shape {weight.shape}")
    k_h, k_w = weight.shape[-2:]
    if k_h < 1 or k_w < 1:
        raise ValueError(f"{op}: kernel size ({k_h}, {k_w}) (weight.shape[-2:]) must be positive")
    if not _is_int(rank) or not 1 <= rank <= min(k_h, k_w):
        raise ValueError(f"{op}: rank={_show(rank)!r} must be an integer from 1 to min(kH, kW) = {min(k_h, k_w)}")
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
