"""Pooling: max_pool1d/2d/3d, avg_pool1d/2d/3d and pool_output_shape.

Each public function: resolve backend -> build params -> allocate (or check `out`) -> launch -> return.
All checks happen before any kernel runs. NumPy arrays run the CPU kernels (kernels/pool.py); CUDA arrays run
the CUDA gathers (kernels/pool_cuda.py, via numbaconv/_gpu_pool.py) on the same params and index tables, and
the result is of the caller's array kind.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._arrays import STORAGE_DTYPES, as_compute, backend_of, check_out, result_dtypes
from ._params import (CHANNELS_FIRST, _is_int, _show, index_map, int_tuple, interior_range, join_shape, pad3,
                      padding_pairs, shape_nd, spatial_layout, split_shape)
from .conv import on_backend

__all__ = ["avg_pool1d", "avg_pool2d", "avg_pool3d", "max_pool1d", "max_pool2d", "max_pool3d", "pool_output_shape"]

_SIZE_FORMULA = ("out = floor((in + pad_lo + pad_hi - dilation * (kernel - 1) - 1) / stride) + 1 (ceil instead "
                 "of floor with ceil_mode=True)")


@dataclass(frozen=True)
class PoolParams:
    """Normalised geometry of one pooling call (channels-first or channels-last)."""
    op: str
    batch: int
    channels: int
    in_spatial: tuple[int, ...]
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    padding: tuple[tuple[int, int], ...]
    ceil_mode: bool
    out_spatial: tuple[int, ...]
    channels_last: bool = False

    @property
    def nd(self) -> int:
        return len(self.in_spatial)

    @property
    def out_shape(self) -> tuple[int, ...]:
        return join_shape(self.batch, self.channels, self.out_spatial, self.channels_last)

    def _dims(self):
        return zip(self.in_spatial, self.out_spatial, self.kernel, self.stride, self.dilation, self.padding)

    def index_maps(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Three (out, kernel) input-index tables (-1 = padding), padded to 3 spatial dims."""
        maps = [index_map(n, o, k, s, d, p[0], "zeros") for n, o, k, s, d, p in self._dims()]
        ones = np.zeros((1, 1), dtype=np.int64)
        return tuple([ones] * (3 - self.nd) + maps)

    def divisors(self, count_include_pad: bool, divisor_override, dtype) -> tuple[np.ndarray, ...]:
        """Per-dim divisor factors of average pooling, padded to 3 dims; their product is the divisor.

        A factor counts the window's taps inside the input, or (count_include_pad) inside the input and its
        padding; a ceil_mode window hanging past the right padding does not count the part beyond it, as torch.
        """
        if divisor_override is not None:
            o_d, o_h, o_w = pad3(self.out_spatial, 1)
            return np.full(o_d, divisor_override, dtype=dtype), np.ones(o_h, dtype=dtype), np.ones(o_w, dtype=dtype)
        factors = []
        for n, o, k, s, d, (lo, hi) in self._dims():
            pos = np.arange(o)[:, None] * s - lo + np.arange(k)[None, :] * d
            lower, upper = (-lo, n + hi) if count_include_pad else (0, n)
            factors.append(((pos >= lower) & (pos < upper)).sum(axis=1).astype(dtype))
        return tuple([np.ones(1, dtype=dtype)] * (3 - self.nd) + factors)


def _check_bool(op: str, name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{op}: {name}={value!r} must be a bool")
    return bool(value)


def _pool_size(op: str, dim: int, size: int, kernel: int, stride: int, dilation: int, pad: tuple[int, int],
               ceil_mode: bool) -> int:
    span = size + pad[0] + pad[1] - dilation * (kernel - 1) - 1
    if span < 0:
        raise ValueError(f"{op}: output size < 1 along spatial dim {dim}: {_SIZE_FORMULA} with in={size}, "
                         f"pad=({pad[0]}, {pad[1]}), dilation={dilation}, kernel={kernel}, stride={stride}")
    out = (-(-span // stride) if ceil_mode else span // stride) + 1
    # torch's rule: a last ceil_mode window that would start inside the right padding is dropped.
    if ceil_mode and (out - 1) * stride >= size + pad[0]:
        out -= 1
    return out


def _check_windows(op: str, dim: int, size: int, out: int, kernel: int, stride: int, dilation: int,
                   pad_lo: int) -> None:
    """Every window must read an input element; with dilation > input size a window's taps can straddle it."""
    taps = index_map(size, out, kernel, stride, dilation, pad_lo, "zeros")
    empty = np.flatnonzero((taps < 0).all(axis=1))
    if empty.size:
        o = int(empty[0])
        positions = [o * stride - pad_lo + j * dilation for j in range(kernel)]
        raise ValueError(f"{op}: window {o} along spatial dim {dim} reads no input element: its taps at "
                         f"{positions} all miss the input [0, {size}) (dilation={dilation} exceeds the input "
                         f"size); use less padding or a smaller dilation")


def pool_params(op: str, nd: int, x_shape: tuple[int, ...], kernel_size, stride=None, padding=0, dilation=1,
                ceil_mode=False, layout=None) -> PoolParams:
    """Check every rule of an `nd`-d pooling on this input shape and return its params."""
    layout = CHANNELS_FIRST[nd] if layout is None else layout
    channels_last = spatial_layout(op, layout, nd)
    if len(x_shape) != nd + 2:
        raise ValueError(f"{op}: input must be {nd + 2}-d ({layout}), got {len(x_shape)}-d shape {tuple(x_shape)}")
    batch, channels, in_spatial = split_shape(tuple(x_shape), channels_last)
    if any(n < 1 for n in in_spatial):
        raise ValueError(f"{op}: input shape {tuple(x_shape)} ({layout}) must have non-empty spatial dims")
    kernel = int_tuple(op, "kernel_size", kernel_size, nd, 1)
    stride = kernel if stride is None else int_tuple(op, "stride", stride, nd, 1)
    dilation = int_tuple(op, "dilation", dilation, nd, 1)
    ceil_mode = _check_bool(op, "ceil_mode", ceil_mode)
    pads = padding_pairs(op, padding, nd, kernel, stride, dilation, in_spatial)
    for dim, (k, d, pad) in enumerate(zip(kernel, dilation, pads)):
        extent = d * (k - 1) + 1
        if max(pad) >= extent:
            raise ValueError(f"{op}: padding {pad} along spatial dim {dim} must be smaller than the dilated "
                             f"kernel extent dilation * (kernel - 1) + 1 = {extent} on each side, so that no "
                             f"window lies wholly in padding")
    out_spatial = tuple(_pool_size(op, i, *args, ceil_mode)
                        for i, args in enumerate(zip(in_spatial, kernel, stride, dilation, pads)))
    for dim, (n, o, k, s, d, pad) in enumerate(zip(in_spatial, out_spatial, kernel, stride, dilation, pads)):
        _check_windows(op, dim, n, o, k, s, d, pad[0])
    return PoolParams(op=op, batch=batch, channels=channels, in_spatial=in_spatial, kernel=kernel, stride=stride,
                      dilation=dilation, padding=pads, ceil_mode=ceil_mode, out_spatial=out_spatial,
                      channels_last=channels_last)


def pool_output_shape(input_shape, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, layout=None):
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
    return pool_params("pool_output_shape", nd, tuple(input_shape), kernel_size, stride, padding, dilation,
                       ceil_mode, layout).out_shape


def _as5d(a: np.ndarray, channels_last: bool) -> np.ndarray:
    """(N, C, D, H, W) or (N, D, H, W, C) reshape of a C-contiguous array: a view, never a copy."""
    batch, channels, spatial = split_shape(a.shape, channels_last)
    return a.reshape(join_shape(batch, channels, pad3(spatial, 1), channels_last))


def _row_interior(params: PoolParams) -> tuple[int, int, int, int, int]:
    """(w_lo, w_hi, stride, dilation, pad_lo) along W for the channels-first kernels' check-free stretch."""
    s, d, lo = params.stride[-1], params.dilation[-1], params.padding[-1][0]
    w_lo, w_hi = interior_range(params.in_spatial[-1], params.out_spatial[-1], params.kernel[-1], s, d, lo)
    return w_lo, w_hi, s, d, lo


def _max_pool_dtypes(op: str, x) -> tuple[np.dtype, np.dtype]:
    """(result dtype, compute dtype): integers pool as they are; float16 is pooled in float32 (exactly)."""
    if x.dtype.kind in "iu":
        return x.dtype, x.dtype
    if x.dtype in STORAGE_DTYPES:
        return x.dtype, np.dtype(np.float32) if x.dtype == np.float16 else x.dtype
    raise TypeError(f"{op}: input dtype {x.dtype} is not supported; use float16, float32, float64 or an "
                    f"integer dtype")


def _lowest(dtype: np.dtype) -> np.ndarray:
    low = -np.inf if dtype.kind == "f" else np.iinfo(dtype).min
    return np.array([low], dtype=dtype)


def _max_pool(op, nd, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices, layout, out, stream):
    return_indices = _check_bool(op, "return_indices", return_indices)
    if return_indices and out is not None and not (isinstance(out, (tuple, list)) and len(out) == 2):
        raise TypeError(f"{op}: with return_indices=True, out must be a (values, indices) pair of arrays, got "
                        f"{type(out).__qualname__}")
    out_values, out_indices = out if return_indices and out is not None else (out, None)
    backend = backend_of(op, x=x, out=out_values, out_indices=out_indices)
    like, user_values, user_indices = x, out_values, out_indices
    x, out_values, out_indices = on_backend(op, backend, stream, x, out_values, out_indices)
    storage, compute = _max_pool_dtypes(op, x)
    params = pool_params(op, nd, x.shape, kernel_size, stride, padding, dilation, ceil_mode, layout)
    shape = params.out_shape
    if out_values is not None:
        check_out(op, out_values, shape, storage, {"x": x}, backend)
    if out_indices is not None:
        check_out(op, out_indices, shape, np.dtype(np.int64), {"x": x, "out values": out_values}, backend)
    if backend == "cuda":
        return _max_pool_cuda(params, like, x, user_values, user_indices, return_indices, compute, storage, stream)
    values = np.empty(shape, dtype=storage) if out_values is None else out_values
    indices = None if not return_indices else np.empty(shape, np.int64) if out_indices is None else out_indices
    target = values if storage == compute else np.empty(shape, dtype=compute)
    if values.size:
        _launch_max(params, np.ascontiguousarray(as_compute(x, compute)), target, indices)
    if target is not values:
        np.copyto(values, target, casting="unsafe")
    return (values, indices) if return_indices else values


def _max_pool_cuda(params: PoolParams, like, x, values, indices, return_indices: bool, compute, storage, stream):
    """Run the CUDA gather on the caller's stream; results of the caller's array kind (or the given `out`).

    The kernel reads the storage dtype and compares in `compute`, so nothing is converted or copied.
    """
    from . import _cuda, _gpu_pool
    stream = _cuda.stream_for(like, stream)
    shape = params.out_shape
    if values is None:
        values = _cuda.allocate(like, shape, storage, stream)
    if return_indices and indices is None:
        indices = _cuda.allocate(like, shape, np.dtype(np.int64), stream)
    if math.prod(shape):
        _gpu_pool.max_pool(params, x, _cuda.to_numba(values), _cuda.to_numba(indices) if return_indices else None,
                           compute, stream)
    return (values, indices) if return_indices else values


def _launch_max(params: PoolParams, x: np.ndarray, out: np.ndarray, indices) -> None:
    from .kernels import pool as k

    cl = params.channels_last
    md, mh, mw = params.index_maps()
    want_idx = indices is not None
    idx5 = _as5d(indices, cl) if want_idx else np.empty((1, 1, 0, 0, 0), dtype=np.int64)
    lowest = _lowest(out.dtype)
    if cl:
        k.max_pool_cl(_as5d(x, cl), md, mh, mw, lowest, want_idx, _as5d(out, cl), idx5)
    else:
        k.max_pool_cf(_as5d(x, cl), md, mh, mw, *_row_interior(params), lowest, want_idx, _as5d(out, cl), idx5)


def _avg_pool(op, nd, x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, dilation,
              layout, out, dtype, stream):
    backend = backend_of(op, x=x, out=out)
    like, user_out = x, out
    x, out = on_backend(op, backend, stream, x, out)
    storage, compute = result_dtypes(op, x, dtype, out)
    params = pool_params(op, nd, x.shape, kernel_size, stride, padding, dilation, ceil_mode, layout)
    count_include_pad = _check_bool(op, "count_include_pad", count_include_pad)
    if divisor_override is not None and not (_is_int(divisor_override) and divisor_override > 0):
        raise ValueError(f"{op}: divisor_override={_show(divisor_override)!r} must be None or a positive int")
    if out is not None:
        check_out(op, out, params.out_shape, storage, {"x": x}, backend)
    if backend == "cuda":
        from . import _cuda, _gpu_pool
        stream = _cuda.stream_for(like, stream)
        result = _cuda.allocate(like, params.out_shape, storage, stream) if user_out is None else user_out
        if math.prod(params.out_shape):
            _gpu_pool.avg_pool(params, x, _cuda.to_numba(result), count_include_pad, divisor_override, compute,
                               stream)
        return result
    if out is None:
        out = np.empty(params.out_shape, dtype=storage)
    target = out if storage == compute else np.empty(params.out_shape, dtype=compute)
    if out.size:
        divisors = params.divisors(count_include_pad, divisor_override, compute)
        _launch_avg(params, np.ascontiguousarray(as_compute(x, compute)), divisors, target)
    if target is not out:
        np.copyto(out, target, casting="unsafe")
    return out


def _launch_avg(params: PoolParams, x: np.ndarray, divisors, out: np.ndarray) -> None:
    from .kernels import pool as k

    cl = params.channels_last
    md, mh, mw = params.index_maps()
    if cl:
        k.avg_pool_cl(_as5d(x, cl), md, mh, mw, *divisors, _as5d(out, cl))
    else:
        k.avg_pool_cf(_as5d(x, cl), md, mh, mw, *_row_interior(params), *divisors, _as5d(out, cl))


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


def _make_max_pool(nd: int):
    op = f"max_pool{nd}d"

    def max_pool_nd(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False, *,
                    layout=None, out=None, stream=None):
        return _max_pool(op, nd, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices, layout, out,
                         stream)

    max_pool_nd.__name__ = max_pool_nd.__qualname__ = op
    return max_pool_nd


def _make_avg_pool(nd: int):
    op = f"avg_pool{nd}d"

    def avg_pool_nd(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                    divisor_override=None, dilation=1, *, layout=None, out=None, dtype=None, stream=None):
        return _avg_pool(op, nd, x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override,
                         dilation, layout, out, dtype, stream)

    avg_pool_nd.__name__ = avg_pool_nd.__qualname__ = op
    return avg_pool_nd


max_pool1d, max_pool2d, max_pool3d = (_make_max_pool(nd) for nd in (1, 2, 3))
avg_pool1d, avg_pool2d, avg_pool3d = (_make_avg_pool(nd) for nd in (1, 2, 3))

_MAX_DOC = """{nd}-D max pooling of ``x {shape}`` (torch.nn.functional.max_pool{nd}d semantics).

    Padded positions never win; NaN propagates (a window holding a NaN gives NaN, and its index); among equal
    maxima the first in scan order wins. Integer input pools as it is; float16 is pooled exactly in float32.

    Parameters
    ----------
    x : ndarray or CUDA array
        ``{shape}``, or ``{shape_last}`` with ``layout="{layout_last}"``; float16/32/64 or any integer dtype.
""" + _PARAMS_DOC + """
    dilation : int or tuple of ints
        Spacing between the taps of a window.
    ceil_mode : bool
        Round the output size up; a last window that would start inside the right padding is dropped.
    return_indices : bool
        Also return the int64 flat position of each maximum within its (n, c) spatial plane (as torch),
        in the same layout as the values: what ``max_unpool{nd}d`` takes.""" + _LAYOUT_OUT_DOC + """
    out : ndarray or (ndarray, ndarray), optional
        C-contiguous result of the exact shape and dtype (a (values, int64 indices) pair with
        ``return_indices=True``), not overlapping ``x``; device arrays for CUDA input.""" + _STREAM_DOC + """

    Returns
    -------
    ndarray, or (ndarray, ndarray) with ``return_indices=True``
        Of x's dtype, layout and array kind (NumPy in, NumPy out; CUDA in, CUDA out).

    Examples
    --------
{example}"""

_AVG_DOC = """{nd}-D average pooling of ``x {shape}`` (torch.nn.functional.avg_pool{nd}d semantics).

    The divisor is the number of taps inside the input (``count_include_pad=False``), or inside the input
    and its padding (the default, as torch: a ceil_mode window that hangs past the padding does not count the
    part beyond it), or ``divisor_override``. ``dilation`` (as ONNX AveragePool; torch has none) averages
    over the dilated taps.

    Parameters
    ----------
    x : ndarray or CUDA array
        ``{shape}``, or ``{shape_last}`` with ``layout="{layout_last}"``.
""" + _PARAMS_DOC + """
    ceil_mode : bool
        Round the output size up; a last window that would start inside the right padding is dropped.
    count_include_pad : bool
        Count padded positions in the divisor.
    divisor_override : int, optional
        Positive divisor used for every window instead.
    dilation : int or tuple of ints
        Spacing between the taps of a window.""" + _LAYOUT_OUT_DOC + """
    out : ndarray, optional
        C-contiguous result array of the exact shape and dtype, not overlapping ``x``; a device array for CUDA
        input.
    dtype : dtype, optional
        Result dtype (float16, float32 or float64); required for integer input (torch would return integers
        rounded toward zero; here an average is a float). Defaults to x's dtype.""" + _STREAM_DOC + """

    Returns
    -------
    ndarray
        Of ``dtype`` (x's by default), x's layout and x's array kind (CUDA in, CUDA out).

    Examples
    --------
{example}"""

_SHAPES = {1: ("(N, C, W)", "(N, W, C)", "NWC"), 2: ("(N, C, H, W)", "(N, H, W, C)", "NHWC"),
           3: ("(N, C, D, H, W)", "(N, D, H, W, C)", "NDHWC")}

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

for _nd in (1, 2, 3):
    _shape, _shape_last, _layout_last = _SHAPES[_nd]
    _fmt = dict(nd=_nd, shape=_shape, shape_last=_shape_last, layout_last=_layout_last)
    (max_pool1d, max_pool2d, max_pool3d)[_nd - 1].__doc__ = _MAX_DOC.format(example=_MAX_EXAMPLES[_nd], **_fmt)
    (avg_pool1d, avg_pool2d, avg_pool3d)[_nd - 1].__doc__ = _AVG_DOC.format(example=_AVG_EXAMPLES[_nd], **_fmt)
del _nd, _shape, _shape_last, _layout_last, _fmt
