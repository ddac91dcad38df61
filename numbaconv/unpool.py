"""Unpooling and upsampling: max_unpool1d/2d/3d, unpool1d/2d/3d, interpolate.

Each public function: resolve backend -> check every argument -> allocate (or check `out`) -> launch ->
return. All checks happen before any kernel runs, so no index can point outside the output (on CUDA the
range of the indices is checked by a device reduction that runs, and is waited for, before anything is
written). NumPy arrays run kernels/unpool.py; CUDA arrays run kernels/unpool_cuda.py via numbaconv/_gpu_pool.py
on the same source tables, and the result is of the caller's array kind.
"""

from __future__ import annotations

import math

import numpy as np

from ._arrays import as_compute, backend_of, check_out
from ._params import (CHANNELS_FIRST, _is_int, _show, int_tuple, join_shape, padding_pairs, spatial_layout,
                      split_shape)
from .conv import on_backend
from .pool import _as5d, _max_pool_dtypes

__all__ = ["interpolate", "max_unpool1d", "max_unpool2d", "max_unpool3d", "unpool1d", "unpool2d", "unpool3d"]

UNPOOL_MODES = ("nearest", "bed_of_nails")
INTERPOLATE_MODES = ("nearest", "nearest_exact")
_DEFAULT_SIZE = "(in - 1) * stride - pad_lo - pad_hi + kernel"


def _input(op: str, x, nd: int, layout) -> tuple[str, bool]:
    layout = CHANNELS_FIRST[nd] if layout is None else layout
    channels_last = spatial_layout(op, layout, nd)
    if x.ndim != nd + 2:
        raise ValueError(f"{op}: input must be {nd + 2}-d ({layout}), got {x.ndim}-d shape {tuple(x.shape)}")
    return layout, channels_last


def _check_copy_dtype(op: str, x) -> None:
    """The gather kernels move bits: any bool, integer or float dtype of 1, 2, 4 or 8 bytes."""
    if x.dtype.kind not in "biuf" or x.dtype.itemsize not in (1, 2, 4, 8):
        raise TypeError(f"{op}: input dtype {x.dtype} is not supported; use a bool, integer or float dtype of "
                        f"1, 2, 4 or 8 bytes")


def _gather(x: np.ndarray, tables: list, channels_last: bool, out: np.ndarray) -> None:
    """out[..., o, ...] = x[..., table[o], ...] per spatial dim (-1 = zero), in either layout."""
    from .kernels import unpool as k

    if out.size == 0:
        return
    md, mh, mw = [np.zeros(1, np.int64)] * (3 - len(tables)) + [np.asarray(t, np.int64) for t in tables]
    x5, out5 = _as5d(np.ascontiguousarray(x), channels_last), _as5d(out, channels_last)
    if channels_last:
        k.gather_pixels(x5.view(np.uint8), md, mh, mw, out5.view(np.uint8))
    else:
        bits = np.dtype(f"u{x.dtype.itemsize}")
        k.gather_cf(x5.view(bits), md, mh, mw, out5.view(bits))


def _fill(backend: str, like, x, tables: list, channels_last: bool, shape: tuple[int, ...], out, user_out,
          stream):
    """The gather of `tables` into `out` (allocated of the caller's kind when None), on x's backend."""
    if backend == "cpu":
        out = np.empty(shape, dtype=x.dtype) if out is None else out
        _gather(x, tables, channels_last, out)
        return out
    from . import _cuda, _gpu_pool
    stream = _cuda.stream_for(like, stream)
    result = _cuda.allocate(like, shape, x.dtype, stream) if user_out is None else user_out
    _gpu_pool.gather(x, tables, channels_last, _cuda.to_numba(result), stream)
    return result


# ---- max_unpool ----

def _unpool_output_size(op, nd, output_size, default, stride, in_spatial, pads, kernel, batch, channels,
                        layout, channels_last):
    """The output's spatial size: the default size, or `output_size` checked against torch's rule."""
    if output_size is None:
        for dim, size in enumerate(default):
            if size < 1:
                raise ValueError(f"{op}: output size {size} < 1 along spatial dim {dim}: {_DEFAULT_SIZE} with "
                                 f"in={in_spatial[dim]}, stride={stride[dim]}, pad={pads[dim]}, "
                                 f"kernel={kernel[dim]}")
        return default
    if isinstance(output_size, (tuple, list)) and len(output_size) == nd + 2:
        n, c, spatial = split_shape(tuple(output_size), channels_last)
        if (n, c) != (batch, channels):
            raise ValueError(f"{op}: output_size={_show(output_size)!r} ({layout}) has batch and channels "
                             f"({_show(n)}, {_show(c)}) but x has ({batch}, {channels})")
        output_size = spatial
    elif not (_is_int(output_size) or isinstance(output_size, (tuple, list)) and len(output_size) == nd):
        raise TypeError(f"{op}: output_size={_show(output_size)!r} must be {nd} ints (the spatial size) or "
                        f"{nd + 2} ints (the full shape in {layout})")
    sizes = int_tuple(op, "output_size", output_size, nd, 1)
    for dim, (size, d, s) in enumerate(zip(sizes, default, stride)):
        if not d - s < size < d + s:
            raise ValueError(f"{op}: output_size={sizes} cannot come from this input: along spatial dim {dim} "
                             f"it must lie strictly between default - stride = {d - s} and default + stride = "
                             f"{d + s}, where default = {_DEFAULT_SIZE} = {d} (in={in_spatial[dim]}, "
                             f"stride={s}, pad={pads[dim]}, kernel={kernel[dim]})")
    return sizes


def _check_indices(op: str, nd: int, indices, x_shape: tuple[int, ...]) -> None:
    if indices.dtype.kind not in "iu":
        raise TypeError(f"{op}: indices dtype {indices.dtype} must be an integer dtype (max_pool{nd}d with "
                        f"return_indices=True gives int64)")
    if tuple(indices.shape) != tuple(x_shape):
        raise ValueError(f"{op}: indices.shape={tuple(indices.shape)} must equal x.shape={tuple(x_shape)}")


def _check_index_range(op: str, indices, plane: int, out_spatial: tuple[int, ...], backend: str, stream) -> None:
    """Every index in [0, plane); on CUDA a device reduction finds the first one outside (and is waited for)."""
    if backend == "cuda":
        from . import _gpu_pool
        pos = _gpu_pool.first_outside(indices, plane, stream)
    else:
        outside = (indices < 0) | (indices >= plane)
        pos = tuple(int(i) for i in np.argwhere(outside)[0]) if outside.any() else None
    if pos is not None:
        raise ValueError(f"{op}: indices[{', '.join(map(str, pos))}]={_show(indices[pos])} is outside "
                         f"[0, {plane}): indices are flat positions within each (n, c) plane of the "
                         f"{out_spatial} output")


def _max_unpool(op, nd, x, indices, kernel_size, stride, padding, output_size, layout, out, stream):
    backend = backend_of(op, x=x, indices=indices, out=out)
    like, user_out = x, out
    x, indices, out = on_backend(op, backend, stream, x, indices, out)
    storage, compute = _max_pool_dtypes(op, x)
    layout, channels_last = _input(op, x, nd, layout)
    batch, channels, in_spatial = split_shape(tuple(x.shape), channels_last)
    if any(n < 1 for n in in_spatial):
        raise ValueError(f"{op}: input shape {tuple(x.shape)} ({layout}) must have non-empty spatial dims")
    kernel = int_tuple(op, "kernel_size", kernel_size, nd, 1)
    stride = kernel if stride is None else int_tuple(op, "stride", stride, nd, 1)
    if isinstance(padding, str):
        raise ValueError(f"{op}: padding={padding!r}: a padding string depends on the size of the pooled input, "
                         f"which max_unpool does not know; pass the padding as numbers (pool_output_shape's "
                         f"pairs) or give output_size")
    pads = padding_pairs(op, padding, nd, kernel, stride, (1,) * nd, in_spatial)
    default = tuple((n - 1) * s - lo - hi + k for n, s, (lo, hi), k in zip(in_spatial, stride, pads, kernel))
    out_spatial = _unpool_output_size(op, nd, output_size, default, stride, in_spatial, pads, kernel, batch,
                                      channels, layout, channels_last)
    plane = math.prod(out_spatial)
    _check_indices(op, nd, indices, x.shape)
    shape = join_shape(batch, channels, out_spatial, channels_last)
    if out is not None:
        check_out(op, out, shape, storage, {"x": x, "indices": indices}, backend)
    if backend == "cuda":
        from . import _cuda, _gpu_pool
        stream = _cuda.stream_for(like, stream)
        _check_index_range(op, indices, plane, out_spatial, backend, stream)
        result = _cuda.allocate(like, shape, storage, stream) if user_out is None else user_out
        if math.prod(shape):
            _gpu_pool.max_unpool(x, indices, channels_last, _cuda.to_numba(result), compute, stream)
        return result
    _check_index_range(op, indices, plane, out_spatial, backend, None)
    out = np.empty(shape, dtype=storage) if out is None else out
    target = out if storage == compute else np.empty(out.shape, dtype=compute)
    if out.size:
        _launch_max_unpool(np.ascontiguousarray(as_compute(x, compute)), np.ascontiguousarray(indices, np.int64),
                           batch, channels, plane, channels_last, target)
    if target is not out:
        np.copyto(out, target, casting="unsafe")
    return out


def _launch_max_unpool(x, indices, batch, channels, plane, channels_last, out) -> None:
    from .kernels import unpool as k

    # Planes as (B, P, C): channels-last is (N, P, C); channels-first is (N * C, P, 1).
    shape_in = (batch, -1, channels) if channels_last else (batch * channels, -1, 1)
    shape_out = (batch, plane, channels) if channels_last else (batch * channels, plane, 1)
    block = max(1, 64 // x.itemsize)  # one cache line of channels per thread
    k.max_unpool_planes(x.reshape(shape_in), indices.reshape(shape_in), block, out.reshape(shape_out))


def _make_max_unpool(nd: int):
    op = f"max_unpool{nd}d"

    def max_unpool_nd(x, indices, kernel_size, stride=None, padding=0, output_size=None, *, layout=None,
                      out=None, stream=None):
        return _max_unpool(op, nd, x, indices, kernel_size, stride, padding, output_size, layout, out, stream)

    max_unpool_nd.__name__ = max_unpool_nd.__qualname__ = op
    return max_unpool_nd


# ---- unpool ----

def _unpool(op, nd, x, scale_factor, mode, layout, out, stream):
    backend = backend_of(op, x=x, out=out)
    like, user_out = x, out
    x, out = on_backend(op, backend, stream, x, out)
    _check_copy_dtype(op, x)
    layout, channels_last = _input(op, x, nd, layout)
    scale = int_tuple(op, "scale_factor", scale_factor, nd, 1)
    if mode not in UNPOOL_MODES:
        raise ValueError(f"{op}: mode={mode!r} is not one of {', '.join(map(repr, UNPOOL_MODES))}")
    batch, channels, in_spatial = split_shape(tuple(x.shape), channels_last)
    out_spatial = tuple(n * s for n, s in zip(in_spatial, scale))
    shape = join_shape(batch, channels, out_spatial, channels_last)
    if out is not None:
        check_out(op, out, shape, x.dtype, {"x": x}, backend)
    tables = []
    for o, s in zip(out_spatial, scale):
        dst = np.arange(o)
        tables.append(dst // s if mode == "nearest" else np.where(dst % s == 0, dst // s, -1))
    return _fill(backend, like, x, tables, channels_last, shape, out, user_out, stream)


def _make_unpool(nd: int):
    op = f"unpool{nd}d"

    def unpool_nd(x, scale_factor=2, mode="nearest", *, layout=None, out=None, stream=None):
        return _unpool(op, nd, x, scale_factor, mode, layout, out, stream)

    unpool_nd.__name__ = unpool_nd.__qualname__ = op
    return unpool_nd


# ---- interpolate ----

def _scale_factors(op: str, scale_factor, nd: int) -> tuple[float, ...]:
    def real(v):
        return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))

    items = [scale_factor] * nd if real(scale_factor) else scale_factor
    if not isinstance(items, (tuple, list)) or len(items) != nd or not all(real(v) for v in items):
        raise TypeError(f"{op}: scale_factor={_show(scale_factor)!r} must be a number or a sequence of {nd} "
                        f"numbers")
    items = tuple(float(v) for v in items)
    if not all(math.isfinite(v) and v > 0 for v in items):
        raise ValueError(f"{op}: scale_factor={_show(scale_factor)!r} must be positive and finite")
    return items


def _nearest_sources(size: int, out: int, scale: np.float32, exact: bool) -> np.ndarray:
    """Source index of each output, with torch's float32 arithmetic (see `interpolate`)."""
    dst = np.arange(out)
    if exact:
        src = np.floor(((dst + 0.5) * np.float64(scale)).astype(np.float32))
    else:
        src = np.floor(dst.astype(np.float32) * scale)
    return np.minimum(src.astype(np.int64), size - 1)


def interpolate(x, size=None, scale_factor=None, mode="nearest", *, layout=None, out=None, stream=None):
    """Nearest-neighbour resize of the spatial dims of ``x`` (torch.nn.functional.interpolate semantics).

    Output index ``dst`` reads input index ``floor(dst * scale)`` (``"nearest"``: torch's legacy rule, which
    aligns the top-left corners rather than the pixel centres) or ``floor((dst + 0.5) * scale)``
    (``"nearest_exact"``: pixel centres, as Pillow and scipy.ndimage.zoom), clamped to ``in - 1``. As in
    torch, ``scale`` is float32: ``1 / scale_factor`` when ``scale_factor`` is given (the output size is then
    ``floor(in * scale_factor)``), else ``in / size``; so ``scale_factor=1.5`` and ``size=floor(1.5 * in)``
    can pick different pixels.

    Parameters
    ----------
    x : ndarray or CUDA array
        ``(N, C, *spatial)`` with 1, 2 or 3 spatial dims, or ``(N, *spatial, C)`` with a channels-last
        ``layout``; any bool, integer or float dtype (values are copied, never combined).
    size : int or tuple of ints, optional
        Output spatial size. Give exactly one of ``size`` and ``scale_factor``.
    scale_factor : float or tuple of floats, optional
        Positive; need not be an integer.
    mode : {"nearest", "nearest_exact"}
        ``"nearest-exact"`` (torch's spelling) is accepted too.
    layout : str, optional
        Channels-first (``"NCW"``, ``"NCHW"``, ``"NCDHW"``, the default for x's rank) or channels-last
        (``"NWC"``, ``"NHWC"``, ``"NDHWC"``), for the input and the result.
    out : ndarray, optional
        C-contiguous result array of the exact shape and x's dtype, not overlapping ``x``; a device array for
        CUDA input.
    stream : optional
        CUDA arrays only: the stream to launch on (a Numba stream, a CuPy/torch stream or a raw handle);
        by default CuPy's / torch's current stream.

    Returns
    -------
    ndarray
        Of x's dtype, layout and array kind (CUDA in, CUDA out).

    Examples
    --------
    >>> import numpy as np, numbaconv
    >>> x = np.array([[[10, 20, 30]]])
    >>> numbaconv.interpolate(x, size=5)
    array([[[10, 10, 20, 20, 30]]])
    >>> numbaconv.interpolate(x, size=5, mode="nearest_exact")
    array([[[10, 10, 20, 30, 30]]])
    >>> numbaconv.interpolate(np.ones((1, 2, 4, 4), np.float32), scale_factor=0.5).shape
    (1, 2, 2, 2)
    """
    op = "interpolate"
    backend = backend_of(op, x=x, out=out)
    like, user_out = x, out
    x, out = on_backend(op, backend, stream, x, out)
    _check_copy_dtype(op, x)
    nd = x.ndim - 2
    if nd not in (1, 2, 3):
        raise ValueError(f"{op}: input must be 3-, 4- or 5-d (N, C, *spatial), got {x.ndim}-d shape "
                         f"{tuple(x.shape)}")
    layout, channels_last = _input(op, x, nd, layout)
    if mode not in INTERPOLATE_MODES + ("nearest-exact",):
        raise ValueError(f"{op}: mode={mode!r} is not one of {', '.join(map(repr, INTERPOLATE_MODES))}")
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{op}: pass exactly one of size and scale_factor (got size={_show(size)!r}, "
                         f"scale_factor={_show(scale_factor)!r})")
    batch, channels, in_spatial = split_shape(tuple(x.shape), channels_last)
    if any(n < 1 for n in in_spatial):
        raise ValueError(f"{op}: input shape {tuple(x.shape)} ({layout}) must have non-empty spatial dims")
    if size is not None:
        out_spatial = int_tuple(op, "size", size, nd, 1)
        scales = [np.float32(n) / np.float32(o) for n, o in zip(in_spatial, out_spatial)]
    else:
        factors = _scale_factors(op, scale_factor, nd)
        out_spatial = tuple(math.floor(n * f) for n, f in zip(in_spatial, factors))
        for dim, (n, f, o) in enumerate(zip(in_spatial, factors, out_spatial)):
            if o < 1:
                raise ValueError(f"{op}: scale_factor={_show(scale_factor)!r} gives output size floor({n} * {f}) "
                                 f"= {o} < 1 along spatial dim {dim}")
        scales = [np.float32(1.0 / f) for f in factors]
    shape = join_shape(batch, channels, out_spatial, channels_last)
    if out is not None:
        check_out(op, out, shape, x.dtype, {"x": x}, backend)
    exact = mode != "nearest"
    tables = [_nearest_sources(n, o, s, exact) for n, o, s in zip(in_spatial, out_spatial, scales)]
    return _fill(backend, like, x, tables, channels_last, shape, out, user_out, stream)


max_unpool1d, max_unpool2d, max_unpool3d = (_make_max_unpool(nd) for nd in (1, 2, 3))
unpool1d, unpool2d, unpool3d = (_make_unpool(nd) for nd in (1, 2, 3))

_SHAPES = {1: ("(N, C, W)", "(N, W, C)", "NWC"), 2: ("(N, C, H, W)", "(N, H, W, C)", "NHWC"),
           3: ("(N, C, D, H, W)", "(N, D, H, W, C)", "NDHWC")}

_MAX_UNPOOL_DOC = """Partial inverse of ``max_pool{nd}d``: ``out`` is zero except ``out[n, c][indices] = x``.

    ``indices`` are the flat positions within each (n, c) spatial plane that ``max_pool{nd}d(...,
    return_indices=True)`` returns; they are checked (integer dtype, x's shape, inside the output plane)
    before anything is written. Where several inputs name one position, the largest value is kept (NaN
    counts as largest; the first of equal values is kept), the same whatever the thread count; torch leaves
    this undefined. On CUDA each plane is scanned by one thread into a table of winners, which a gather
    then copies, so the result is the same there.

    Parameters
    ----------
    x : ndarray or CUDA array
        ``{shape}``, or ``{shape_last}`` with ``layout="{layout_last}"``; float16/32/64 or any integer dtype.
    indices : ndarray or CUDA array
        Integer array of x's shape and layout (and x's backend).
    kernel_size, stride, padding : int or tuple of ints
        Those of the pooling; ``stride`` defaults to ``kernel_size``. ``padding`` may also be (lo, hi) pairs.
    output_size : tuple of ints, optional
        Spatial size ({nd} ints) or full shape ({nd_full} ints, in ``layout``) of the result. Defaults to
        ``(in - 1) * stride - pad_lo - pad_hi + kernel``; as in torch, any size strictly between that minus
        ``stride`` and that plus ``stride`` is accepted (the sizes a pooling of that stride can come from).
    layout : str, optional
        Channels-first (``"{layout_first}"``, the default) or channels-last (``"{layout_last}"``).
    out : ndarray, optional
        C-contiguous result array of the exact shape and x's dtype, not overlapping ``x`` or ``indices``; a
        device array for CUDA input.
    stream : optional
        CUDA arrays only: the stream to launch on (a Numba stream, a CuPy/torch stream or a raw handle);
        by default CuPy's / torch's current stream.

    Returns
    -------
    ndarray
        Of x's dtype, layout and array kind (CUDA in, CUDA out).

    Examples
    --------
{example}"""

_UNPOOL_DOC = """{nd}-D unpooling by integer ``scale_factor`` of ``x {shape}``.

    ``mode="nearest"`` repeats each value over its ``scale_factor`` cell (``np.repeat`` along each spatial
    dim); ``mode="bed_of_nails"`` puts it at the first (top-left) position of its cell and zeros elsewhere.

    Parameters
    ----------
    x : ndarray or CUDA array
        ``{shape}``, or ``{shape_last}`` with ``layout="{layout_last}"``; any bool, integer or float dtype.
    scale_factor : int or tuple of ints
        Positive.
    mode : {{"nearest", "bed_of_nails"}}
    layout : str, optional
        Channels-first (``"{layout_first}"``, the default) or channels-last (``"{layout_last}"``).
    out : ndarray, optional
        C-contiguous result array of the exact shape and x's dtype, not overlapping ``x``; a device array for
        CUDA input.
    stream : optional
        CUDA arrays only: the stream to launch on (a Numba stream, a CuPy/torch stream or a raw handle);
        by default CuPy's / torch's current stream.

    Returns
    -------
    ndarray
        ``x``'s dtype, layout and array kind, each spatial dim multiplied by its scale factor.

    Examples
    --------
{example}"""

_MAX_UNPOOL_EXAMPLES = {
    1: """    >>> import numpy as np, numbaconv
    >>> x = np.array([[[1., 5., 2., 4., 3.]]])
    >>> y, i = numbaconv.max_pool1d(x, 2, return_indices=True)
    >>> numbaconv.max_unpool1d(y, i, 2, output_size=(5,))
    array([[[0., 5., 0., 4., 0.]]])
""",
    2: """    >>> import numpy as np, numbaconv
    >>> x = np.array([[[[1., 2.], [4., 3.]]]])
    >>> y, i = numbaconv.max_pool2d(x, 2, return_indices=True)
    >>> numbaconv.max_unpool2d(y, i, 2)
    array([[[[0., 0.],
             [4., 0.]]]])
""",
    3: """    >>> import numpy as np, numbaconv
    >>> x = np.ones((1, 1, 1, 1, 1), np.float32)
    >>> numbaconv.max_unpool3d(x, np.zeros(x.shape, np.int64), 2).shape
    (1, 1, 2, 2, 2)
""",
}

_UNPOOL_EXAMPLES = {
    1: """    >>> import numpy as np, numbaconv
    >>> x = np.array([[[1, 2, 3]]], np.int8)
    >>> numbaconv.unpool1d(x, 2)
    array([[[1, 1, 2, 2, 3, 3]]], dtype=int8)
    >>> numbaconv.unpool1d(x, 2, mode="bed_of_nails")
    array([[[1, 0, 2, 0, 3, 0]]], dtype=int8)
""",
    2: """    >>> import numpy as np, numbaconv
    >>> x = np.array([[[[1., 2.]]]])
    >>> numbaconv.unpool2d(x, (2, 1))
    array([[[[1., 2.],
             [1., 2.]]]])
""",
    3: """    >>> import numpy as np, numbaconv
    >>> numbaconv.unpool3d(np.ones((1, 2, 2, 2, 3), bool), 2, layout="NDHWC").shape
    (1, 4, 4, 4, 3)
""",
}

for _nd in (1, 2, 3):
    _shape, _shape_last, _layout_last = _SHAPES[_nd]
    _fmt = dict(nd=_nd, nd_full=_nd + 2, shape=_shape, shape_last=_shape_last, layout_last=_layout_last,
                layout_first=CHANNELS_FIRST[_nd])
    (max_unpool1d, max_unpool2d, max_unpool3d)[_nd - 1].__doc__ = _MAX_UNPOOL_DOC.format(
        example=_MAX_UNPOOL_EXAMPLES[_nd], **_fmt)
    (unpool1d, unpool2d, unpool3d)[_nd - 1].__doc__ = _UNPOOL_DOC.format(example=_UNPOOL_EXAMPLES[_nd], **_fmt)
del _nd, _shape, _shape_last, _layout_last, _fmt
