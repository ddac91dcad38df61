"""Pooling: max_pool1d/2d/3d, avg_pool1d/2d/3d, adaptive_max_pool1d/2d/3d, adaptive_avg_pool1d/2d/3d and
pool_output_shape.

Each public function reads call -> params -> select -> run: a `Call` finds the backend, the zero-copy CUDA
views and the dtypes; numbaconv/_params_pool.py checks every rule before any kernel runs; numbaconv/_launch_pool.py
picks and launches the kernel (kernels/pool.py on NumPy arrays, kernels/pool_cuda.py on CUDA arrays, on the
same params and index tables), and the result is of the caller's array kind. Adaptive pooling goes through
numbaconv/_launch_adaptive.py: its own box kernel for channels-first NumPy arrays (kernels/adaptive_pool.py), else
the pooling kernels on index tables of torch's adaptive windows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from . import _launch_adaptive as adaptive
from ._call import Call
from ._launch_pool import launch, select
from ._params import shape_nd
from ._params_pool import adaptive_pool_params, avg_options, check_bool, check_float_input, pool_params
from ._types import Array, DTypeLike, IntOrTuple, Layout, Padding, Shape, Stream, for_dims

__all__ = [
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_avg_pool3d",
    "adaptive_max_pool1d",
    "adaptive_max_pool2d",
    "adaptive_max_pool3d",
    "avg_pool1d",
    "avg_pool2d",
    "avg_pool3d",
    "max_pool1d",
    "max_pool2d",
    "max_pool3d",
    "pool_output_shape",
]


def pool_output_shape(
    input_shape: Shape,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None = None,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
    ceil_mode: bool = False,
    layout: Layout | None = None,
) -> tuple[int, ...]:
    """Shape of ``max_pool{1,2,3}d`` / ``avg_pool{1,2,3}d`` on this input, with every rule checked.

    Examples
    --------
    >>> import numbaconv
    >>> numbaconv.pool_output_shape((1, 64, 112, 112), 3, stride=2, padding=1)
    (1, 64, 56, 56)
    >>> numbaconv.pool_output_shape((1, 5, 5, 8), 2, ceil_mode=True, layout="NHWC")
    (1, 3, 3, 8)
    """
    nd = shape_nd("pool_output_shape", input_shape)
    return pool_params(
        "pool_output_shape", nd, tuple(input_shape), kernel_size, stride, padding, dilation, ceil_mode, layout
    ).out_shape


def _max_call(op: str, nd: int, x, return_indices, out, stream, floats_only: bool = False) -> tuple[Call, bool]:
    """The call of a max pooling (an `out=` pair with return_indices) and the checked return_indices."""
    return_indices = check_bool(op, "return_indices", return_indices)
    if return_indices and out is not None and not (isinstance(out, (tuple, list)) and len(out) == 2):
        raise TypeError(
            f"{op}: with return_indices=True, out must be a (values, indices) pair of arrays, got "
            f"{type(out).__qualname__}"
        )
    out_values, out_indices = out if return_indices and out is not None else (out, None)
    call = Call(op, {"x": x}, outs={"out": out_values, "out_indices": out_indices}, stream=stream)
    if floats_only:
        check_float_input(op, call.x.dtype)
    return call.max_result().unbatched(nd), return_indices


def _max_results(call: Call, shape: tuple[int, ...], return_indices: bool, fill: Callable[..., object]):
    """The values (and int64 indices) of a max pooling of result `shape`: `fill(values_target[, indices_target])`
    into new (or the caller's) arrays; an empty result runs no kernel."""
    call.check_out(shape)
    call.check_out(shape, np.int64, "out_indices", against={"x": call.x, "out values": call.out})
    if not return_indices:
        return call.run(shape, fill)
    values, target = call.result(shape)
    indices, indices_target = call.result(shape, np.int64, "out_indices")
    if math.prod(shape):
        fill(target, indices_target)
    return call.finish(values, target), call.finish(indices, indices_target, "out_indices")


def _max_pool(
    op: str,
    nd: int,
    /,
    x: Array,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None = None,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
    *,
    layout: Layout | None = None,
    out: Array | tuple[Array, Array] | None = None,
    stream: Stream = None,
) -> Array | tuple[Array, Array]:
    call, return_indices = _max_call(op, nd, x, return_indices, out, stream)
    params = pool_params(op, nd, call.x.shape, kernel_size, stride, padding, dilation, ceil_mode, layout)
    kernel = select(params, "max", call.backend)
    return _max_results(call, params.out_shape, return_indices, lambda *targets: launch(call, params, kernel, *targets))


def _avg_pool(
    op: str,
    nd: int,
    /,
    x: Array,
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
    call = Call(op, {"x": x}, outs={"out": out}, stream=stream).float_result(dtype).unbatched(nd)
    params = pool_params(op, nd, call.x.shape, kernel_size, stride, padding, dilation, ceil_mode, layout)
    count_include_pad, divisor_override = avg_options(op, count_include_pad, divisor_override)
    call.check_out(params.out_shape)
    kernel = select(params, "avg", call.backend)
    return call.run(
        params.out_shape, lambda target: launch(call, params, kernel, target, count_include_pad, divisor_override)
    )


def _adaptive_max_pool(
    op: str,
    nd: int,
    /,
    x: Array,
    output_size: int | Sequence[int | None],
    return_indices: bool = False,
    *,
    layout: Layout | None = None,
    out: Array | tuple[Array, Array] | None = None,
    stream: Stream = None,
) -> Array | tuple[Array, Array]:
    call, return_indices = _max_call(op, nd, x, return_indices, out, stream, floats_only=True)
    params = adaptive_pool_params(op, nd, call.x.shape, output_size, layout)
    kernel = adaptive.select(params, "max", call.backend)
    return _max_results(
        call, params.out_shape, return_indices, lambda *targets: adaptive.launch(call, params, kernel, *targets)
    )


def _adaptive_avg_pool(
    op: str,
    nd: int,
    /,
    x: Array,
    output_size: int | Sequence[int | None],
    *,
    layout: Layout | None = None,
    out: Array | None = None,
    dtype: DTypeLike | None = None,
    stream: Stream = None,
) -> Array:
    call = Call(op, {"x": x}, outs={"out": out}, stream=stream)
    check_float_input(op, call.x.dtype)
    call = call.float_result(dtype).unbatched(nd)
    params = adaptive_pool_params(op, nd, call.x.shape, output_size, layout)
    call.check_out(params.out_shape)
    kernel = adaptive.select(params, "avg", call.backend)
    return call.run(params.out_shape, lambda target: adaptive.launch(call, params, kernel, target))


_PARAMS_DOC = """
    kernel_size : int or tuple of ints
    stride : int or tuple of ints, optional
        Defaults to ``kernel_size``.
    padding : int, tuple of ints, tuple of (lo, hi) pairs, or str
        As for convolution: ``"valid"``, ``"same"`` (output = ceil(input / stride), the odd extra pixel at
        the end), ``"same_lower"`` or ``"full"``. Each side must be smaller than the dilated kernel extent
        ``dilation * (kernel - 1) + 1``, so no window lies wholly in padding."""

_LAYOUT_OUT_DOC = """
    layout : str, optional
        Channels-first (``"NCW"``, ``"NCHW"``, ``"NCDHW"``, the default) or channels-last (``"NWC"``,
        ``"NHWC"``, ``"NDHWC"``), for the input and the result."""

_STREAM_DOC = """
    stream : optional
        CUDA arrays only: the stream to launch on (a Numba stream, a CuPy/torch stream or a raw handle);
        by default CuPy's / torch's current stream."""

# The parameters after the geometry, the returns and the example, of every max and every average pooling.
_MAX_TAIL_DOC = (
    """
    return_indices : bool
        Also return the int64 flat position of each maximum within its (n, c) spatial plane (as torch),
        in the same layout as the values: what ``max_unpool{nd}d`` takes."""
    + _LAYOUT_OUT_DOC
    + """
    out : ndarray or (ndarray, ndarray), optional
        C-contiguous result of the exact shape and dtype (a (values, int64 indices) pair with
        ``return_indices=True``), not overlapping ``x``; device arrays for CUDA input."""
    + _STREAM_DOC
    + """

    Returns
    -------
    ndarray, or (ndarray, ndarray) with ``return_indices=True``
        Of x's dtype, layout and array kind (NumPy in, NumPy out; CUDA in, CUDA out).

    Examples
    --------
{example}"""
)

_AVG_TAIL_DOC = (
    _LAYOUT_OUT_DOC
    + """
    out : ndarray, optional
        C-contiguous result array of the exact shape and dtype, not overlapping ``x``; a device array for CUDA
        input.
    dtype : dtype, optional
        Result dtype (float16, float32 or float64){dtype_note}. Defaults to x's dtype."""
    + _STREAM_DOC
    + """

    Returns
    -------
    ndarray
        Of ``dtype`` (x's by default), x's layout and x's array kind (CUDA in, CUDA out).

    Examples
    --------
{example}"""
)


max_pool1d, max_pool2d, max_pool3d = (for_dims(_max_pool, f"max_pool{nd}d", nd) for nd in (1, 2, 3))
avg_pool1d, avg_pool2d, avg_pool3d = (for_dims(_avg_pool, f"avg_pool{nd}d", nd) for nd in (1, 2, 3))
adaptive_max_pool1d, adaptive_max_pool2d, adaptive_max_pool3d = (
    for_dims(_adaptive_max_pool, f"adaptive_max_pool{nd}d", nd) for nd in (1, 2, 3)
)
adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d = (
    for_dims(_adaptive_avg_pool, f"adaptive_avg_pool{nd}d", nd) for nd in (1, 2, 3)
)

_MAX_DOC = (
    """{nd}-D max pooling of ``x {shape}`` (torch.nn.functional.max_pool{nd}d semantics).

    Padded positions never win; NaN propagates (a window holding a NaN gives NaN, and its index); among equal
    maxima the first in scan order wins. Integer input pools as it is; float16 is pooled exactly in float32.

    Parameters
    ----------
    x : ndarray or CUDA array
        ``{shape}``, or ``{shape_last}`` with ``layout="{layout_last}"``; float16/32/64 or any integer dtype.
"""
    + _PARAMS_DOC
    + """
    dilation : int or tuple of ints
        Spacing between the taps of a window.
    ceil_mode : bool
        Round the output size up; a last window that would start inside the right padding is dropped."""
    + _MAX_TAIL_DOC
)

_AVG_DOC = (
    """{nd}-D average pooling of ``x {shape}`` (torch.nn.functional.avg_pool{nd}d semantics).

    The divisor is the number of taps inside the input (``count_include_pad=False``), or inside the input
    and its padding (the default, as torch: a ceil_mode window that hangs past the padding does not count the
    part beyond it), or ``divisor_override``. ``dilation`` (as ONNX AveragePool; torch has none) averages
    over the dilated taps.

    Parameters
    ----------
    x : ndarray or CUDA array
        ``{shape}``, or ``{shape_last}`` with ``layout="{layout_last}"``.
"""
    + _PARAMS_DOC
    + """
    ceil_mode : bool
        Round the output size up; a last window that would start inside the right padding is dropped.
    count_include_pad : bool
        Count padded positions in the divisor.
    divisor_override : int, optional
        Positive divisor used for every window instead.
    dilation : int or tuple of ints
        Spacing between the taps of a window."""
    + _AVG_TAIL_DOC
)

_SHAPES = {
    1: ("(N, C, W)", "(N, W, C)", "NWC"),
    2: ("(N, C, H, W)", "(N, H, W, C)", "NHWC"),
    3: ("(N, C, D, H, W)", "(N, D, H, W, C)", "NDHWC"),
}

_MAX_EXAMPLES = {
    1: """    >>> import numpy as np, numbaconv
    >>> x = np.array([[[1, 5, 2, 4, 3]]], np.float32)
    >>> numbaconv.max_pool1d(x, 2)
    array([[[5., 4.]]], dtype=float32)
    >>> numbaconv.max_pool1d(x, 2, ceil_mode=True, return_indices=True)
    (array([[[5., 4., 3.]]], dtype=float32), array([[[1, 3, 4]]]))
""",
    2: """    >>> import numpy as np, numbaconv
    >>> x = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)
    >>> numbaconv.max_pool2d(x, 2)
    array([[[[ 5.,  7.],
             [13., 15.]]]])
    >>> numbaconv.max_pool2d(x, 3, stride=1, padding="same").shape
    (1, 1, 4, 4)
""",
    3: """    >>> import numpy as np, numbaconv
    >>> x = np.zeros((1, 2, 4, 4, 4), np.int64)
    >>> x[0, 1, 3, 3, 3] = 7
    >>> numbaconv.max_pool3d(x, 2)[0, :, 1, 1, 1]
    array([0, 7])
""",
}

_AVG_EXAMPLES = {
    1: """    >>> import numpy as np, numbaconv
    >>> x = np.array([[[1, 2, 3, 4, 5]]], np.float64)
    >>> numbaconv.avg_pool1d(x, 3, stride=2, padding=1)
    array([[[1., 3., 3.]]])
    >>> numbaconv.avg_pool1d(x, 3, stride=2, padding=1, count_include_pad=False)
    array([[[1.5, 3. , 4.5]]])
""",
    2: """    >>> import numpy as np, numbaconv
    >>> x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    >>> numbaconv.avg_pool2d(x, 2)
    array([[[[ 2.5,  4.5],
             [10.5, 12.5]]]], dtype=float32)
    >>> numbaconv.avg_pool2d(x.astype(np.int32), 4, dtype=np.float64)
    array([[[[7.5]]]])
""",
    3: """    >>> import numpy as np, numbaconv
    >>> x = np.ones((1, 4, 4, 4, 3), np.float32)
    >>> numbaconv.avg_pool3d(x, 2, layout="NDHWC").shape
    (1, 2, 2, 2, 3)
""",
}

_ADAPTIVE_HEAD = """Adaptive {nd}-D {kind} pooling of ``x {shape}`` (torch's adaptive_{kind}_pool{nd}d semantics).

    Along a spatial dim of input size ``in`` and output size ``out``, output ``o`` pools the input window
    ``[floor(o * in / out), ceil((o + 1) * in / out))``: windows overlap where ``out`` does not divide ``in``, and
    with ``out > in`` an input element feeds several outputs. ``output_size=1`` is global pooling.
"""

_ADAPTIVE_PARAMS_DOC = """
    Parameters
    ----------
    x : ndarray or CUDA array
        ``{shape}``, or ``{shape_last}`` with ``layout="{layout_last}"`` (either without the batch axis too);
        float16, float32 or float64 (float16 is pooled in float32; other dtypes are a TypeError, as torch).
    output_size : int or tuple of ints and None
        The output's spatial size: one positive int for every dim, or {nd} entries, each a positive int or None
        (the input's size along that dim). Larger than the input is allowed."""

_ADAPTIVE_MAX_DOC = (
    _ADAPTIVE_HEAD
    + """
    A window holding a NaN gives NaN (and the index of its last NaN); among equal maxima the first in scan order
    wins.
"""
    + _ADAPTIVE_PARAMS_DOC
    + _MAX_TAIL_DOC
)

_ADAPTIVE_AVG_DOC = (
    _ADAPTIVE_HEAD
    + """
    Each window's sum is divided by its own number of elements.
"""
    + _ADAPTIVE_PARAMS_DOC
    + _AVG_TAIL_DOC
)

_ADAPTIVE_MAX_EXAMPLES = {
    1: """    >>> import numpy as np, numbaconv
    >>> x = np.array([[[1, 5, 2, 4, 3]]], np.float32)
    >>> numbaconv.adaptive_max_pool1d(x, 2)  # windows [0, 3) and [2, 5)
    array([[[5., 4.]]], dtype=float32)
    >>> numbaconv.adaptive_max_pool1d(x, 3, return_indices=True)  # windows [0, 2), [1, 4) and [3, 5)
    (array([[[5., 5., 4.]]], dtype=float32), array([[[1, 1, 3]]]))
""",
    2: """    >>> import numpy as np, numbaconv
    >>> x = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)
    >>> numbaconv.adaptive_max_pool2d(x, 1)
    array([[[[15.]]]])
    >>> numbaconv.adaptive_max_pool2d(x, (2, None)).shape
    (1, 1, 2, 4)
""",
    3: """    >>> import numpy as np, numbaconv
    >>> x = np.ones((2, 5, 6, 7, 3), np.float32)
    >>> numbaconv.adaptive_max_pool3d(x, (2, 3, 4), layout="NDHWC").shape
    (2, 2, 3, 4, 3)
""",
}

_ADAPTIVE_AVG_EXAMPLES = {
    1: """    >>> import numpy as np, numbaconv
    >>> x = np.array([[[1, 2, 3, 4, 5]]], np.float64)
    >>> numbaconv.adaptive_avg_pool1d(x, 3)  # windows [0, 2), [1, 4) and [3, 5)
    array([[[1.5, 3. , 4.5]]])
""",
    2: """    >>> import numpy as np, numbaconv
    >>> x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    >>> numbaconv.adaptive_avg_pool2d(x, 1)
    array([[[[7.5]]]], dtype=float32)
    >>> numbaconv.adaptive_avg_pool2d(x, (2, 2))
    array([[[[ 2.5,  4.5],
             [10.5, 12.5]]]], dtype=float32)
""",
    3: """    >>> import numpy as np, numbaconv
    >>> numbaconv.adaptive_avg_pool3d(np.ones((3, 4, 5, 6)), (2, None, 8)).shape  # unbatched (C, D, H, W)
    (3, 2, 5, 8)
""",
}

for _nd in (1, 2, 3):
    _shape, _shape_last, _layout_last = _SHAPES[_nd]
    _fmt = dict(nd=_nd, shape=_shape, shape_last=_shape_last, layout_last=_layout_last)
    (max_pool1d, max_pool2d, max_pool3d)[_nd - 1].__doc__ = _MAX_DOC.format(example=_MAX_EXAMPLES[_nd], **_fmt)
    (avg_pool1d, avg_pool2d, avg_pool3d)[_nd - 1].__doc__ = _AVG_DOC.format(
        example=_AVG_EXAMPLES[_nd],
        dtype_note="; required for integer input (torch would return integers\n        rounded toward zero; here an "
        "average is a float)",
        **_fmt,
    )
    (adaptive_max_pool1d, adaptive_max_pool2d, adaptive_max_pool3d)[_nd - 1].__doc__ = _ADAPTIVE_MAX_DOC.format(
        kind="max", example=_ADAPTIVE_MAX_EXAMPLES[_nd], **_fmt
    )
    (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d)[_nd - 1].__doc__ = _ADAPTIVE_AVG_DOC.format(
        kind="avg", example=_ADAPTIVE_AVG_EXAMPLES[_nd], dtype_note="", **_fmt
    )
del _nd, _shape, _shape_last, _layout_last, _fmt
