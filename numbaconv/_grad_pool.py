"""Gradients w.r.t. the input of pooling, unpooling, interpolation and the shuffles (public in numbaconv.grad).

``{op}_input(input_size, grad_output, <saved arrays>, <the forward's arguments>)`` is the gradient of ``op`` w.r.t.
its input, as ``torch.nn.grad.conv2d_input`` names it: ``input_size`` is the forward input's shape, ``grad_output``
the gradient w.r.t. the forward's output, which must have exactly the shape the forward gives. Each reads call ->
params -> check -> run, on the forward's own params builders (numbaconv/_params_pool.py, _params_shuffle.py):

- average pooling, adaptive average pooling, unpooling and interpolation are linear gathers; their gradient is
  the transposed gather, built on the host as tables and run by the interpolation kernels
  (numbaconv/_launch_grad_pool.py);
- max pooling (and adaptive max pooling) sends each output's gradient to its saved index: each input sums the
  gradients of the outputs whose window covers it and whose index names it, in the outputs' C order (torch's
  order); the indices are checked to lie in their windows before;
- max unpooling's gradient reads grad_output at the indices (checked to lie in the plane before);
- the shuffles are permutations: their gradient is the inverse permutation, run by the forward's kernels.

Each input element is written once, with no atomics: results are the same whatever the thread count.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from ._arrays import STORAGE_DTYPES
from ._call import Call
from ._launch_grad_pool import launch, strays
from ._launch_pool import launch as launch_pool
from ._launch_shuffle import launch as launch_shuffle
from ._params import (
    CHANNELS_FIRST,
    channels_last_any,
    int_tuple,
    is_int,
    join_shape,
    pad3,
    show,
    spatial_layout,
    split_shape,
)
from ._params_pool import (
    adaptive_pool_params,
    avg_options,
    interpolate_params,
    max_unpool_params,
    pool_params,
    unpool_params,
)
from ._params_shuffle import PermuteParams, channel_shuffle_params, pixel_shuffle_params, pixel_unshuffle_params
from ._types import (
    Array,
    DTypeLike,
    FloatOrTuple,
    InterpolateMode,
    IntOrTuple,
    Layout,
    Layout2d,
    Padding,
    PaddingNumbers,
    Shape,
    Stream,
    UnpoolMode,
    for_dims,
)

__all__ = [
    "adaptive_avg_pool1d_input",
    "adaptive_avg_pool2d_input",
    "adaptive_avg_pool3d_input",
    "adaptive_max_pool1d_input",
    "adaptive_max_pool2d_input",
    "adaptive_max_pool3d_input",
    "avg_pool1d_input",
    "avg_pool2d_input",
    "avg_pool3d_input",
    "channel_shuffle_input",
    "interpolate_input",
    "max_pool1d_input",
    "max_pool2d_input",
    "max_pool3d_input",
    "max_unpool1d_input",
    "max_unpool2d_input",
    "max_unpool3d_input",
    "pixel_shuffle_input",
    "pixel_unshuffle_input",
    "unpool1d_input",
    "unpool2d_input",
    "unpool3d_input",
]


# ---- checks ----


def _grad_call(op: str, grad_output, out, stream, dtype=None, **saved) -> Call:
    """The call of a gradient: grad_output (float16, float32 or float64; float16 computed in float32) and the saved
    arrays; the result has grad_output's dtype, or `dtype`."""
    call = Call(op, {"grad_output": grad_output, **saved}, outs={"out": out}, stream=stream)
    if call.x.dtype not in STORAGE_DTYPES:
        raise TypeError(
            f"{op}: grad_output dtype {call.x.dtype} is not supported; use one of {', '.join(map(str, STORAGE_DTYPES))}"
        )
    return call.float_result(dtype)


def _sizes(op: str, input_size) -> tuple[int, ...]:
    """`input_size`, the shape of the forward's input, as a tuple of non-negative ints."""
    if not isinstance(input_size, (tuple, list)) or not all(is_int(v) for v in input_size):
        raise TypeError(
            f"{op}: input_size={show(input_size)!r} must be a sequence of ints (the shape of the forward's input)"
        )
    shape = tuple(int(v) for v in input_size)
    if any(v < 0 for v in shape):
        raise ValueError(f"{op}: input_size={shape} must not be negative")
    return shape


def _batched(op: str, name: str, shape: tuple[int, ...], nd: int) -> tuple[tuple[int, ...], bool]:
    """An `nd`-d op's array shape `shape` with its batch axis (a leading 1 when unbatched), and whether it had none."""
    if len(shape) not in (nd + 2, nd + 1):
        raise ValueError(
            f"{op}: {name} must be {nd + 2}-d or {nd + 1}-d unbatched, got {len(shape)}-d shape {tuple(shape)}"
        )
    return ((1, *shape), True) if len(shape) == nd + 1 else (tuple(shape), False)


def _check_grad_shape(call: Call, want: tuple[int, ...], unbatched: bool, input_shape: tuple[int, ...]) -> None:
    """grad_output's shape is the forward's output shape (`want`, batched) on this input."""
    got = tuple(call.x.shape)
    want, input_shape = (want[1:], input_shape[1:]) if unbatched else (want, input_shape)
    if got != want:
        raise ValueError(
            f"{call.op}: grad_output.shape={got} must equal the shape {want} of "
            f"{call.op.removesuffix('_input')}'s output on an input of shape {input_shape}"
        )


def _check_indices(call: Call) -> None:
    """The saved indices of a max pooling: integers of grad_output's shape."""
    indices = call["indices"]
    if np.dtype(indices.dtype).kind not in "iu":
        raise TypeError(
            f"{call.op}: indices dtype {indices.dtype} must be an integer dtype ({call.op.removesuffix('_input')} "
            f"with return_indices=True gives int64)"
        )
    if tuple(indices.shape) != tuple(call.x.shape):
        raise ValueError(
            f"{call.op}: indices.shape={tuple(indices.shape)} must equal grad_output.shape={tuple(call.x.shape)}"
        )


def _user_position(call: Call, position: tuple[int, ...], nd: int, channels_last: bool) -> tuple[int, ...]:
    """A batched (n, c, d, h, w) position (3 spatial dims) as an index into the caller's array."""
    n, c, *spatial = position
    spatial = spatial[3 - nd :]
    full = (n, *spatial, c) if channels_last else (n, c, *spatial)
    return full[1:] if call.batch_added else full


def _check_windows(call: Call, params, nd: int) -> None:
    """Every index lies in its own pooling window (so none of them is out of range either)."""
    firsts = strays(call, params)
    bad = np.flatnonzero(firsts.ravel() >= 0)
    if not bad.size:
        return
    n, c = divmod(int(bad[0]), firsts.shape[1])
    spatial = np.unravel_index(int(firsts[n, c]), pad3(params.out_spatial, 1))
    at = _user_position(call, (n, c, *map(int, spatial)), nd, params.channels_last)
    value = call["indices"][(0, *at) if call.batch_added else at]
    raise ValueError(
        f"{call.op}: indices[{', '.join(map(str, at))}]={show(value)} is not a position inside that output's "
        f"pooling window: indices are flat positions within each (n, c) plane of the {params.in_spatial} input, as "
        f"{call.op.removesuffix('_input')}(..., return_indices=True) gives them"
    )


# ---- pooling ----


def _max_input(call: Call, params, nd: int, shape: tuple[int, ...], unbatched: bool):
    """The gradient of a max pooling (`params`: PoolParams or AdaptivePoolParams) from its saved indices."""
    _check_grad_shape(call, params.out_shape, unbatched, shape)
    _check_indices(call)
    call.unbatched(nd, "indices")
    call.check_out(shape)
    if math.prod(call.x.shape):
        _check_windows(call, params, nd)
    return call.run(shape, lambda target: launch(call, params, "max", target))


def _linear_input(call: Call, params, nd: int | None, shape, unbatched: bool, options: tuple = ()):
    """The gradient of a linear gather (`nd` None: the forward takes no unbatched input)."""
    _check_grad_shape(call, params.out_shape, unbatched, shape)
    if nd is not None:
        call.unbatched(nd)
    call.check_out(shape)
    return call.run(shape, lambda target: launch(call, params, "linear", target, options))


def _max_pool_input(
    op: str,
    nd: int,
    /,
    input_size: Shape,
    grad_output: Array,
    indices: Array,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None = None,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
    ceil_mode: bool = False,
    *,
    layout: Layout | None = None,
    out: Array | None = None,
    stream: Stream = None,
) -> Array:
    call = _grad_call(op, grad_output, out, stream, indices=indices)
    shape, unbatched = _batched(op, "input_size", _sizes(op, input_size), nd)
    params = pool_params(op, nd, shape, kernel_size, stride, padding, dilation, ceil_mode, layout)
    return _max_input(call, params, nd, shape, unbatched)


def _avg_pool_input(
    op: str,
    nd: int,
    /,
    input_size: Shape,
    grad_output: Array,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None = None,
    padding: Padding = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
    dilation: IntOrTuple = 1,
    *,
    layout: Layout | None = None,
    out: Array | None = None,
    dtype: DTypeLike | None = None,
    stream: Stream = None,
) -> Array:
    call = _grad_call(op, grad_output, out, stream, dtype)
    shape, unbatched = _batched(op, "input_size", _sizes(op, input_size), nd)
    params = pool_params(op, nd, shape, kernel_size, stride, padding, dilation, ceil_mode, layout)
    options = ("avg", *avg_options(op, count_include_pad, divisor_override))
    return _linear_input(call, params, nd, shape, unbatched, options)


def _adaptive_max_pool_input(
    op: str,
    nd: int,
    /,
    input_size: Shape,
    grad_output: Array,
    indices: Array,
    output_size: int | Sequence[int | None],
    *,
    layout: Layout | None = None,
    out: Array | None = None,
    stream: Stream = None,
) -> Array:
    call = _grad_call(op, grad_output, out, stream, indices=indices)
    shape, unbatched = _batched(op, "input_size", _sizes(op, input_size), nd)
    params = adaptive_pool_params(op, nd, shape, output_size, layout)
    return _max_input(call, params, nd, shape, unbatched)


def _adaptive_avg_pool_input(
    op: str,
    nd: int,
    /,
    input_size: Shape,
    grad_output: Array,
    output_size: int | Sequence[int | None],
    *,
    layout: Layout | None = None,
    out: Array | None = None,
    dtype: DTypeLike | None = None,
    stream: Stream = None,
) -> Array:
    call = _grad_call(op, grad_output, out, stream, dtype)
    shape, unbatched = _batched(op, "input_size", _sizes(op, input_size), nd)
    params = adaptive_pool_params(op, nd, shape, output_size, layout)
    return _linear_input(call, params, nd, shape, unbatched, ("avg", True, None))


# ---- unpooling and interpolation ----


def _max_unpool_input(
    op: str,
    nd: int,
    /,
    grad_output: Array,
    indices: Array,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None = None,
    padding: PaddingNumbers = 0,
    output_size: IntOrTuple | None = None,
    *,
    layout: Layout | None = None,
    out: Array | None = None,
    stream: Stream = None,
) -> Array:
    call = _grad_call(op, grad_output, out, stream, indices=indices)
    # The forward's input has the indices' shape (unbatched with them).
    shape, unbatched = _batched(op, "indices", tuple(call["indices"].shape), nd)
    args = (call["indices"].dtype, shape, kernel_size, stride, padding, output_size, layout)
    params = max_unpool_params(op, nd, shape, *args)
    _check_grad_shape(call, params.out_shape, unbatched, shape)
    call.unbatched(nd, "indices")
    call.check_out(shape)
    pos = launch_pool(call, params, "first_outside")  # on CUDA a device reduction, waited for
    if pos is not None:
        at = pos[1:] if call.batch_added else pos
        raise ValueError(
            f"{op}: indices[{', '.join(map(str, at))}]={show(call['indices'][pos])} is outside [0, {params.plane}): "
            f"indices are flat positions within each (n, c) plane of the {params.out_spatial} output"
        )
    return call.run(shape, lambda target: launch(call, params, "max_unpool", target))


def _unpool_input(
    op: str,
    nd: int,
    /,
    grad_output: Array,
    scale_factor: IntOrTuple = 2,
    mode: UnpoolMode = "nearest",
    *,
    layout: Layout | None = None,
    out: Array | None = None,
    dtype: DTypeLike | None = None,
    stream: Stream = None,
) -> Array:
    call = _grad_call(op, grad_output, out, stream, dtype)
    layout = CHANNELS_FIRST[nd] if layout is None else layout
    channels_last = spatial_layout(op, layout, nd)
    shape, unbatched = _batched(op, "grad_output", tuple(call.x.shape), nd)
    scale = int_tuple(op, "scale_factor", scale_factor, nd, 1)
    batch, channels, spatial = split_shape(shape, channels_last)
    for dim, (n, s) in enumerate(zip(spatial, scale, strict=True)):
        if n % s:
            raise ValueError(
                f"{op}: grad_output.shape={tuple(call.x.shape)} ({layout}) has size {n} along spatial dim {dim}, "
                f"which must be a multiple of scale_factor {s}: {op.removesuffix('_input')}'s output is in * "
                f"scale_factor"
            )
    in_shape = join_shape(batch, channels, tuple(n // s for n, s in zip(spatial, scale, strict=True)), channels_last)
    params = unpool_params(op, nd, in_shape, scale, mode, layout)
    return _linear_input(call, params, nd, in_shape, unbatched)


def interpolate_input(
    input_size: Shape,
    grad_output: Array,
    size: IntOrTuple | None = None,
    scale_factor: FloatOrTuple | None = None,
    mode: InterpolateMode = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
    *,
    layout: Layout | None = None,
    out: Array | None = None,
    dtype: DTypeLike | None = None,
    stream: Stream = None,
) -> Array:
    """Gradient of :func:`numbaconv.interpolate` w.r.t. its input, every mode.

    Each input element sums the gradients of the outputs that read it, each times the weight it was read with
    (1 for the nearest modes): the transposed interpolation, as torch's backward computes it, written as a
    gather (each input element once, deterministic).

    Parameters
    ----------
    input_size : tuple of ints
        Shape of interpolate's input ``(N, C, *spatial)`` (or channels-last), 1 to 3 spatial dims.
    grad_output : ndarray or CUDA array
        Gradient w.r.t. interpolate's output: exactly its shape; float16, float32 or float64.
    size, scale_factor, mode, align_corners, recompute_scale_factor
        As passed to :func:`numbaconv.interpolate`.
    layout : str, optional
        Channels-first (the default) or channels-last (``"NWC"``, ``"NHWC"``, ``"NDHWC"``), for grad_output and
        the result.
    out : ndarray, optional
        C-contiguous result of shape ``input_size`` and the result dtype, not overlapping grad_output.
    dtype : dtype, optional
        Result dtype (float16, float32 or float64; float16 computes in float32); grad_output's by default.
    stream : optional
        CUDA arrays only: the stream to launch on; by default CuPy's / torch's current stream.

    Returns
    -------
    ndarray
        Of shape ``input_size``, grad_output's dtype (or ``dtype``) and array kind.

    Examples
    --------
    >>> import numpy as np
    >>> from numbaconv import grad
    >>> g = np.ones((1, 1, 5), np.float32)
    >>> grad.interpolate_input((1, 1, 3), g, size=5)  # nearest: outputs read inputs 0, 0, 1, 1, 2
    array([[[2., 2., 1.]]], dtype=float32)
    >>> grad.interpolate_input((1, 1, 3), g, size=5, mode="linear", align_corners=True)
    array([[[1.5, 2. , 1.5]]], dtype=float32)
    """
    op = "interpolate_input"
    call = _grad_call(op, grad_output, out, stream, dtype)
    shape = _sizes(op, input_size)
    params = interpolate_params(
        shape,
        size,
        scale_factor,
        mode,
        layout,
        align_corners=align_corners,
        recompute_scale_factor=recompute_scale_factor,
        op=op,
    )
    return _linear_input(call, params, None, shape, False)


# ---- shuffles ----


def _permuted(op: str, grad_output, out, stream, params_of: Callable[[tuple[int, ...]], PermuteParams]) -> Array:
    """grad_output permuted by `params_of(its shape)` with the shuffles' own kernels (any fixed-size dtype)."""
    call = Call(op, {"grad_output": grad_output}, outs={"out": out}, stream=stream)
    if call.x.dtype.hasobject or call.x.dtype.itemsize == 0:
        raise TypeError(f"{op}: grad_output dtype {call.x.dtype} is not supported; use a fixed-size dtype")
    params = params_of(tuple(call.x.shape))
    call.check_out(params.out_shape)
    return call.run(params.out_shape, lambda target: launch_shuffle(call, params.src_shape, params.axes, target))


def _pixel_input(op: str, grad_output, factor, layout, out, stream) -> Array:
    """pixel_shuffle_input (the forward's output, grad_output, has H and W divisible by the factor; the gradient
    is its pixel_unshuffle) or pixel_unshuffle_input (channels divisible by rH * rW; the gradient is a
    pixel_shuffle)."""
    upscale = op == "pixel_shuffle_input"
    name = "upscale_factor" if upscale else "downscale_factor"

    def params_of(shape: tuple[int, ...]) -> PermuteParams:
        channels_last = spatial_layout(op, layout, 2)
        if len(shape) < 3:
            want = "(*, H, W, C)" if channels_last else "(*, C, H, W)"
            raise ValueError(f"{op}: grad_output must be at least 3-d {want}, got {len(shape)}-d shape {shape}")
        rh, rw = int_tuple(op, name, factor, 2, 1)
        height, width, channels = shape[-3:] if channels_last else (*shape[-2:], shape[-3])
        if not upscale:
            if channels % (rh * rw):
                raise ValueError(
                    f"{op}: grad_output channels {channels} must be divisible by {name}**2 = {rh} * {rw} = "
                    f"{rh * rw}: pixel_unshuffle's output is (*, C * rH * rW, H, W)"
                )
            return pixel_shuffle_params(op, shape, (rh, rw), layout)
        for side, n, r in (("height", height, rh), ("width", width, rw)):
            if n % r:
                raise ValueError(
                    f"{op}: grad_output {side} {n} must be divisible by {name} {r}: pixel_shuffle's output is "
                    f"(*, C, H * rH, W * rW)"
                )
        return pixel_unshuffle_params(op, shape, (rh, rw), layout)

    return _permuted(op, grad_output, out, stream, params_of)


def pixel_shuffle_input(
    grad_output: Array,
    upscale_factor: int | tuple[int, int],
    *,
    layout: Layout2d = "NCHW",
    out: Array | None = None,
    stream: Stream = None,
) -> Array:
    return _pixel_input("pixel_shuffle_input", grad_output, upscale_factor, layout, out, stream)


def pixel_unshuffle_input(
    grad_output: Array,
    downscale_factor: int | tuple[int, int],
    *,
    layout: Layout2d = "NCHW",
    out: Array | None = None,
    stream: Stream = None,
) -> Array:
    return _pixel_input("pixel_unshuffle_input", grad_output, downscale_factor, layout, out, stream)


_PIXEL_DOC = """Gradient of :func:`numbaconv.{forward}` w.r.t. its input: :func:`numbaconv.{inverse}` of
    ``grad_output`` (the inverse permutation).

    Parameters
    ----------
    grad_output : ndarray or CUDA array
        ``{big}``, or ``{big_last}`` with ``layout="NHWC"``; any fixed-size dtype.
    {name} : int or (int, int)
        As passed to {forward}.
    layout : {{"NCHW", "NHWC"}}
    out : ndarray or CUDA array, optional
        C-contiguous result of the exact shape and grad_output's dtype, not overlapping grad_output.
    stream : optional
        CUDA arrays only: the stream to launch on; by default CuPy's / torch's current stream.

    Returns
    -------
    ndarray or CUDA array
        ``{small}`` (or channels-last), of grad_output's dtype and array kind.

    Examples
    --------
    >>> import numpy as np
    >>> from numbaconv import grad
{example}"""

_UP, _DOWN = "(*, C, H * rH, W * rW)", "(*, C * rH * rW, H, W)"
pixel_shuffle_input.__doc__ = _PIXEL_DOC.format(
    forward="pixel_shuffle",
    inverse="pixel_unshuffle",
    name="upscale_factor",
    big=_UP,
    big_last="(*, H * rH, W * rW, C)",
    small=_DOWN,
    example="""    >>> grad.pixel_shuffle_input(np.arange(4.0).reshape(1, 1, 2, 2), 2)[0, :, 0, 0]
    array([0., 1., 2., 3.])""",
)
pixel_unshuffle_input.__doc__ = _PIXEL_DOC.format(
    forward="pixel_unshuffle",
    inverse="pixel_shuffle",
    name="downscale_factor",
    big=_DOWN,
    big_last="(*, H, W, C * rH * rW)",
    small=_UP,
    example="""    >>> grad.pixel_unshuffle_input(np.arange(4.0).reshape(1, 4, 1, 1), 2)[0, 0]
    array([[0., 1.],
           [2., 3.]])""",
)


def channel_shuffle_input(
    grad_output: Array,
    groups: int,
    *,
    layout: Layout | None = None,
    out: Array | None = None,
    stream: Stream = None,
) -> Array:
    """Gradient of :func:`numbaconv.channel_shuffle` w.r.t. its input: ``channel_shuffle(grad_output, C //
    groups)``, the inverse permutation (channel ``k * groups + gi`` goes back to ``gi * (C / groups) + k``).

    Parameters
    ----------
    grad_output : ndarray or CUDA array
        ``(N, C, *spatial)``, or channels-last with ``layout``; any fixed-size dtype.
    groups : int
        channel_shuffle's: positive, dividing C.
    layout : str, optional
        As channel_shuffle's: None or channels-first means channels at dim 1.
    out : ndarray or CUDA array, optional
        C-contiguous result of grad_output's shape and dtype, not overlapping grad_output.
    stream : optional
        CUDA arrays only: the stream to launch on; by default CuPy's / torch's current stream.

    Returns
    -------
    ndarray or CUDA array
        grad_output's shape, dtype and array kind.

    Examples
    --------
    >>> import numpy as np, numbaconv
    >>> from numbaconv import grad
    >>> y = numbaconv.channel_shuffle(np.arange(6.0).reshape(1, 6), 2)
    >>> grad.channel_shuffle_input(y, 2)
    array([[0., 1., 2., 3., 4., 5.]])
    """
    op = "channel_shuffle_input"

    def params_of(shape: tuple[int, ...]) -> PermuteParams:
        channel_shuffle_params(op, shape, groups, layout)  # the forward's rules (groups divides C)
        channels = shape[-1] if channels_last_any(op, layout, len(shape)) else shape[1]
        return channel_shuffle_params(op, shape, channels // int(groups) or 1, layout)

    return _permuted(op, grad_output, out, stream, params_of)


# ---- the per-dims functions and their docstrings ----

max_pool1d_input, max_pool2d_input, max_pool3d_input = (
    for_dims(_max_pool_input, f"max_pool{nd}d_input", nd) for nd in (1, 2, 3)
)
avg_pool1d_input, avg_pool2d_input, avg_pool3d_input = (
    for_dims(_avg_pool_input, f"avg_pool{nd}d_input", nd) for nd in (1, 2, 3)
)
adaptive_max_pool1d_input, adaptive_max_pool2d_input, adaptive_max_pool3d_input = (
    for_dims(_adaptive_max_pool_input, f"adaptive_max_pool{nd}d_input", nd) for nd in (1, 2, 3)
)
adaptive_avg_pool1d_input, adaptive_avg_pool2d_input, adaptive_avg_pool3d_input = (
    for_dims(_adaptive_avg_pool_input, f"adaptive_avg_pool{nd}d_input", nd) for nd in (1, 2, 3)
)
max_unpool1d_input, max_unpool2d_input, max_unpool3d_input = (
    for_dims(_max_unpool_input, f"max_unpool{nd}d_input", nd) for nd in (1, 2, 3)
)
unpool1d_input, unpool2d_input, unpool3d_input = (for_dims(_unpool_input, f"unpool{nd}d_input", nd) for nd in (1, 2, 3))

_INPUT_SIZE_DOC = """
    input_size : tuple of ints
        Shape of the forward's input: ``{shape}``, ``{shape_last}`` with ``layout="{layout_last}"``, or either
        without the batch axis (then grad_output and the result have none either)."""

_TAIL_DOC = """
    layout : str, optional
        Channels-first (``"{layout_first}"``, the default) or channels-last (``"{layout_last}"``), for
        {arrays}.
    out : ndarray, optional
        C-contiguous result of the result's shape and dtype, not overlapping an input; a device array for CUDA
        input.{dtype_doc}
    stream : optional
        CUDA arrays only: the stream to launch on (a Numba stream, a CuPy/torch stream or a raw handle);
        by default CuPy's / torch's current stream.

    Returns
    -------
    ndarray
        The gradient w.r.t. the forward's input: of its shape, grad_output's dtype{dtype_note} and array kind.

    Examples
    --------
{example}"""

_DTYPE_DOC = """
    dtype : dtype, optional
        Result dtype (float16, float32 or float64); defaults to grad_output's."""

_GRAD_OUTPUT_DOC = """
    grad_output : ndarray or CUDA array
        Gradient w.r.t. the forward's output: exactly the shape it has; float16, float32 or float64 (float16 is
        computed in float32)."""

_INDICES_DOC = """
    indices : ndarray or CUDA array
        The indices the forward returned (``return_indices=True``): integers of grad_output's shape, each a flat
        position inside its own window (checked before anything runs: a ValueError otherwise)."""

_MAX_POOL_DOC = (
    """Gradient of ``max_pool{nd}d`` w.r.t. its input, from the indices it returned.

    Each input element sums the gradients of the outputs whose window covers it and whose index names it (in the
    outputs' C order, as torch's backward adds them, so overlapping windows that chose one maximum add up); every
    other element is 0.

    Parameters
    ----------"""
    + _INPUT_SIZE_DOC
    + _GRAD_OUTPUT_DOC
    + _INDICES_DOC
    + """
    kernel_size, stride, padding, dilation, ceil_mode
        As passed to ``max_pool{nd}d``."""
    + _TAIL_DOC
)

_AVG_POOL_DOC = (
    """Gradient of ``avg_pool{nd}d`` w.r.t. its input.

    Each input element sums ``grad_output / divisor`` over the windows that cover it, with the forward's divisor
    (``count_include_pad``, ``ceil_mode`` windows, ``divisor_override``, dilation: numbaconv.avg_pool{nd}d's rules).

    Parameters
    ----------"""
    + _INPUT_SIZE_DOC
    + _GRAD_OUTPUT_DOC
    + """
    kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, dilation
        As passed to ``avg_pool{nd}d``."""
    + _TAIL_DOC
)

_ADAPTIVE_MAX_DOC = (
    """Gradient of ``adaptive_max_pool{nd}d`` w.r.t. its input, from the indices it returned.

    Each input element sums the gradients of the outputs whose window holds it and whose index names it.

    Parameters
    ----------"""
    + _INPUT_SIZE_DOC
    + _GRAD_OUTPUT_DOC
    + _INDICES_DOC
    + """
    output_size : int or tuple of ints and None
        As passed to ``adaptive_max_pool{nd}d``."""
    + _TAIL_DOC
)

_ADAPTIVE_AVG_DOC = (
    """Gradient of ``adaptive_avg_pool{nd}d`` w.r.t. its input.

    Each input element sums ``grad_output / window size`` over the (possibly overlapping) windows that hold it.

    Parameters
    ----------"""
    + _INPUT_SIZE_DOC
    + _GRAD_OUTPUT_DOC
    + """
    output_size : int or tuple of ints and None
        As passed to ``adaptive_avg_pool{nd}d``."""
    + _TAIL_DOC
)

_MAX_UNPOOL_DOC = (
    """Gradient of ``max_unpool{nd}d`` w.r.t. its input ``x``: ``grad_output`` read at the indices.

    ``grad_x[n, c].flat[p] = grad_output[n, c].flat[indices[n, c].flat[p]]``; where several inputs share an index
    each gets that gradient (as torch's backward gives, though the forward keeps only one of them). The result has
    the indices' shape.

    Parameters
    ----------"""
    + _GRAD_OUTPUT_DOC
    + """
    indices : ndarray or CUDA array
        The indices passed to ``max_unpool{nd}d`` (integers, x's shape), checked to lie in the output plane.
    kernel_size, stride, padding, output_size
        As passed to ``max_unpool{nd}d``."""
    + _TAIL_DOC
)

_UNPOOL_DOC = (
    """Gradient of ``unpool{nd}d`` w.r.t. its input.

    ``mode="nearest"``: each input element sums grad_output over its ``scale_factor`` cell; ``"bed_of_nails"``:
    it takes the cell's first (top-left) element. The input's size is grad_output's divided by ``scale_factor``.

    Parameters
    ----------"""
    + _GRAD_OUTPUT_DOC
    + """
    scale_factor, mode
        As passed to ``unpool{nd}d``."""
    + _TAIL_DOC
)

_SHAPES = {
    1: ("(N, C, W)", "(N, W, C)", "NWC"),
    2: ("(N, C, H, W)", "(N, H, W, C)", "NHWC"),
    3: ("(N, C, D, H, W)", "(N, D, H, W, C)", "NDHWC"),
}

_EXAMPLES = {
    "max_pool": {
        1: """    >>> import numpy as np, numbaconv
    >>> from numbaconv import grad
    >>> x = np.array([[[1, 5, 2, 4, 3]]], np.float32)
    >>> y, i = numbaconv.max_pool1d(x, 3, stride=1, return_indices=True)  # maxima 5, 5, 4 at 1, 1, 3
    >>> grad.max_pool1d_input(x.shape, np.ones_like(y), i, 3, stride=1)
    array([[[0., 2., 0., 1., 0.]]], dtype=float32)
""",
        2: """    >>> import numpy as np, numbaconv
    >>> from numbaconv import grad
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> y, i = numbaconv.max_pool2d(x, 2, return_indices=True)
    >>> grad.max_pool2d_input(x.shape, np.ones_like(y), i, 2)
    array([[[[0., 0., 0., 0.],
             [0., 1., 0., 1.],
             [0., 0., 0., 0.],
             [0., 1., 0., 1.]]]])
""",
        3: """    >>> import numpy as np, numbaconv
    >>> from numbaconv import grad
    >>> x = np.random.default_rng(0).random((2, 4, 4, 4))  # unbatched (C, D, H, W)
    >>> y, i = numbaconv.max_pool3d(x, 2, return_indices=True)
    >>> g = grad.max_pool3d_input(x.shape, np.ones_like(y), i, 2)
    >>> g.shape, g.sum()
    ((2, 4, 4, 4), np.float64(16.0))
""",
    },
    "avg_pool": {
        1: """    >>> import numpy as np
    >>> from numbaconv import grad
    >>> grad.avg_pool1d_input((1, 1, 5), np.ones((1, 1, 2)), 3, stride=2)  # windows [0, 3) and [2, 5)
    array([[[0.33333333, 0.33333333, 0.66666667, 0.33333333, 0.33333333]]])
    >>> grad.avg_pool1d_input((1, 1, 5), np.ones((1, 1, 3)), 3, stride=2, padding=1, count_include_pad=False)
    array([[[0.5       , 0.83333333, 0.33333333, 0.83333333, 0.5       ]]])
""",
        2: """    >>> import numpy as np
    >>> from numbaconv import grad
    >>> grad.avg_pool2d_input((1, 1, 2, 4), np.array([[[[4.0, 8.0]]]], np.float32), 2)
    array([[[[1., 1., 2., 2.],
             [1., 1., 2., 2.]]]], dtype=float32)
""",
        3: """    >>> import numpy as np
    >>> from numbaconv import grad
    >>> grad.avg_pool3d_input((1, 4, 4, 4, 3), np.ones((1, 2, 2, 2, 3), np.float32), 2, layout="NDHWC").shape
    (1, 4, 4, 4, 3)
""",
    },
    "adaptive_max_pool": {
        1: """    >>> import numpy as np, numbaconv
    >>> from numbaconv import grad
    >>> x = np.array([[[1, 5, 2, 4, 3]]], np.float32)
    >>> y, i = numbaconv.adaptive_max_pool1d(x, 3, return_indices=True)  # maxima 5, 5, 4 at 1, 1, 3
    >>> grad.adaptive_max_pool1d_input(x.shape, np.ones_like(y), i, 3)
    array([[[0., 2., 0., 1., 0.]]], dtype=float32)
""",
        2: """    >>> import numpy as np, numbaconv
    >>> from numbaconv import grad
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> y, i = numbaconv.adaptive_max_pool2d(x, 1, return_indices=True)
    >>> grad.adaptive_max_pool2d_input(x.shape, y, i, 1)[0, 0, 3]
    array([ 0.,  0.,  0., 15.])
""",
        3: """    >>> import numpy as np, numbaconv
    >>> from numbaconv import grad
    >>> x = np.random.default_rng(0).random((1, 2, 3, 4, 5))
    >>> y, i = numbaconv.adaptive_max_pool3d(x, 2, return_indices=True)
    >>> grad.adaptive_max_pool3d_input(x.shape, np.ones_like(y), i, 2).sum()
    np.float64(16.0)
""",
    },
    "adaptive_avg_pool": {
        1: """    >>> import numpy as np
    >>> from numbaconv import grad
    >>> grad.adaptive_avg_pool1d_input((1, 1, 5), np.ones((1, 1, 3)), 3)  # windows [0, 2), [1, 4), [3, 5)
    array([[[0.5       , 0.83333333, 0.33333333, 0.83333333, 0.5       ]]])
""",
        2: """    >>> import numpy as np
    >>> from numbaconv import grad
    >>> grad.adaptive_avg_pool2d_input((1, 1, 2, 2), np.array([[[[8.0]]]], np.float32), 1)
    array([[[[2., 2.],
             [2., 2.]]]], dtype=float32)
""",
        3: """    >>> import numpy as np
    >>> from numbaconv import grad
    >>> grad.adaptive_avg_pool3d_input((3, 4, 5, 6), np.ones((3, 2, 5, 8)), (2, None, 8)).shape  # unbatched
    (3, 4, 5, 6)
""",
    },
    "max_unpool": {
        1: """    >>> import numpy as np
    >>> from numbaconv import grad
    >>> g = np.array([[[10.0, 20.0, 30.0, 40.0]]])
    >>> grad.max_unpool1d_input(g, np.array([[[1, 3]]]), 2)
    array([[[20., 40.]]])
""",
        2: """    >>> import numpy as np
    >>> from numbaconv import grad
    >>> g = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> grad.max_unpool2d_input(g, np.array([[[[0, 3], [12, 15]]]]), 2)
    array([[[[ 0.,  3.],
             [12., 15.]]]])
""",
        3: """    >>> import numpy as np
    >>> from numbaconv import grad
    >>> grad.max_unpool3d_input(np.ones((1, 1, 2, 2, 2), np.float32), np.zeros((1, 1, 1, 1, 1), np.int64), 2)
    array([[[[[1.]]]]], dtype=float32)
""",
    },
    "unpool": {
        1: """    >>> import numpy as np
    >>> from numbaconv import grad
    >>> g = np.array([[[1.0, 2.0, 3.0, 4.0]]])
    >>> grad.unpool1d_input(g, 2)
    array([[[3., 7.]]])
    >>> grad.unpool1d_input(g, 2, mode="bed_of_nails")
    array([[[1., 3.]]])
""",
        2: """    >>> import numpy as np
    >>> from numbaconv import grad
    >>> grad.unpool2d_input(np.ones((1, 1, 4, 2), np.float32), (2, 1))
    array([[[[2., 2.],
             [2., 2.]]]], dtype=float32)
""",
        3: """    >>> import numpy as np
    >>> from numbaconv import grad
    >>> grad.unpool3d_input(np.ones((1, 4, 4, 4, 3)), 2, layout="NDHWC").shape
    (1, 2, 2, 2, 3)
""",
    },
}

_SIZED = "``input_size``, grad_output and the result"
_WITH_INDICES = "``input_size``, grad_output, indices and the result"
_DOCS: dict[str, tuple[str, tuple[Callable, Callable, Callable], str, bool]] = {
    # family: (docstring, the 1-d/2-d/3-d functions, what `layout` describes, takes dtype=)
    "max_pool": (_MAX_POOL_DOC, (max_pool1d_input, max_pool2d_input, max_pool3d_input), _WITH_INDICES, False),
    "avg_pool": (_AVG_POOL_DOC, (avg_pool1d_input, avg_pool2d_input, avg_pool3d_input), _SIZED, True),
    "adaptive_max_pool": (
        _ADAPTIVE_MAX_DOC,
        (adaptive_max_pool1d_input, adaptive_max_pool2d_input, adaptive_max_pool3d_input),
        _WITH_INDICES,
        False,
    ),
    "adaptive_avg_pool": (
        _ADAPTIVE_AVG_DOC,
        (adaptive_avg_pool1d_input, adaptive_avg_pool2d_input, adaptive_avg_pool3d_input),
        _SIZED,
        True,
    ),
    "max_unpool": (
        _MAX_UNPOOL_DOC,
        (max_unpool1d_input, max_unpool2d_input, max_unpool3d_input),
        "grad_output, indices and the result",
        False,
    ),
    "unpool": (_UNPOOL_DOC, (unpool1d_input, unpool2d_input, unpool3d_input), "grad_output and the result", True),
}

for _family, (_doc, _functions, _arrays, _takes_dtype) in _DOCS.items():
    for _nd, _function in enumerate(_functions, start=1):
        _shape, _shape_last, _layout_last = _SHAPES[_nd]
        _function.__doc__ = _doc.format(
            nd=_nd,
            shape=_shape,
            shape_last=_shape_last,
            layout_first=CHANNELS_FIRST[_nd],
            layout_last=_layout_last,
            arrays=_arrays,
            dtype_doc=_DTYPE_DOC if _takes_dtype else "",
            dtype_note=" (or ``dtype``)" if _takes_dtype else "",
            example=_EXAMPLES[_family][_nd],
        )
del _family, _doc, _functions, _arrays, _takes_dtype, _nd, _function, _shape, _shape_last, _layout_last
