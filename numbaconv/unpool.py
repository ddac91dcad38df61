"""Unpooling and upsampling: max_unpool1d/2d/3d, unpool1d/2d/3d, interpolate (nearest, linear and cubic).

Each public function reads call -> params -> select -> run (numbaconv/_call.py, numbaconv/_params_pool.py,
numbaconv/_launch_pool.py). All checks happen before any kernel runs, so no index can point outside the
output (on CUDA the range of the indices is checked by a device reduction that runs, and is waited for,
before anything is written). NumPy arrays run kernels/unpool.py; CUDA arrays run kernels/unpool_cuda.py on
the same source tables, and the result is of the caller's array kind.
"""

from __future__ import annotations

import math

from ._call import Call
from ._launch_pool import launch, select
from ._params import CHANNELS_FIRST, show
from ._params_pool import INTERPOLATE_MODES as INTERPOLATE_MODES  # the modes: public here as before
from ._params_pool import UNPOOL_MODES as UNPOOL_MODES
from ._params_pool import (
    GatherParams,
    InterpolateParams,
    check_copy_dtype,
    check_float_dtype,
    interpolate_params,
    max_unpool_params,
    unpool_params,
)
from ._types import (
    Array,
    FloatOrTuple,
    InterpolateMode,
    IntOrTuple,
    Layout,
    PaddingNumbers,
    Stream,
    UnpoolMode,
    for_dims,
)

__all__ = ["interpolate", "max_unpool1d", "max_unpool2d", "max_unpool3d", "unpool1d", "unpool2d", "unpool3d"]


def _gather(call: Call, params: GatherParams):
    """unpool and interpolate: the gather of `params.tables` into a new (or the caller's) output."""
    call.check_out(params.out_shape)
    kernel = select(params, "gather", call.backend)
    return call.run(params.out_shape, lambda target: launch(call, params, kernel, target))


# ---- max_unpool ----


def _max_unpool(
    op: str,
    nd: int,
    /,
    x: Array,
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
    call = (
        Call(op, {"x": x, "indices": indices}, outs={"out": out}, stream=stream).max_result().unbatched(nd, "indices")
    )
    params = max_unpool_params(
        op,
        nd,
        call.x.shape,
        call["indices"].dtype,
        call["indices"].shape,
        kernel_size,
        stride,
        padding,
        output_size,
        layout,
    )
    call.check_out(params.out_shape)
    pos = launch(call, params, "first_outside")  # on CUDA a device reduction, waited for
    if pos is not None:
        raise ValueError(
            f"{op}: indices[{', '.join(map(str, pos))}]={show(call['indices'][pos])} is outside "
            f"[0, {params.plane}): indices are flat positions within each (n, c) plane of the "
            f"{params.out_spatial} output"
        )
    kernel = select(params, "max_unpool", call.backend)
    return call.run(params.out_shape, lambda target: launch(call, params, kernel, target))


# ---- unpool ----


def _unpool(
    op: str,
    nd: int,
    /,
    x: Array,
    scale_factor: IntOrTuple = 2,
    mode: UnpoolMode = "nearest",
    *,
    layout: Layout | None = None,
    out: Array | None = None,
    stream: Stream = None,
) -> Array:
    call = Call(op, {"x": x}, outs={"out": out}, stream=stream).unbatched(nd)
    check_copy_dtype(op, call.x.dtype)
    return _gather(call, unpool_params(op, nd, call.x.shape, scale_factor, mode, layout))


# ---- interpolate ----


def interpolate(
    x: Array,
    size: IntOrTuple | None = None,
    scale_factor: FloatOrTuple | None = None,
    mode: InterpolateMode = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
    *,
    layout: Layout | None = None,
    out: Array | None = None,
    stream: Stream = None,
) -> Array:
    """Resize the spatial dims of ``x`` by nearest, linear or cubic interpolation (torch.nn.functional.interpolate).

    Each output index ``dst`` reads input coordinate ``src`` along each spatial dim, with ``scale`` the
    input/output ratio below:

    - ``"nearest"``: input ``floor(dst * scale)`` (torch's legacy rule, which aligns the first pixels rather
      than the pixel centres); ``"nearest_exact"``: ``floor((dst + 0.5) * scale)`` (pixel centres, as Pillow
      and scipy.ndimage.zoom); both clamped to ``in - 1``, values copied.
    - ``"linear"`` (3-d input), ``"bilinear"`` (4-d), ``"trilinear"`` (5-d): ``src = (dst + 0.5) * scale -
      0.5`` raised to 0, or ``dst * scale`` with ``align_corners=True``; the two neighbours of ``src``
      (the last one repeated at the border) weighted by distance, separably per dim.
    - ``"bicubic"`` (4-d): the same ``src`` without the raise to 0; the four neighbours ``floor(src) - 1 ..
      floor(src) + 2`` (indices clamped to the image) weighted by Keys' cubic kernel with ``A = -0.75``
      (torch's and OpenCV's), so results can overshoot the input's range.

    ``scale`` follows torch: ``(in - 1) / (out - 1)`` with ``align_corners=True`` (0 for one output); else
    ``1 / scale_factor`` when ``scale_factor`` is given (the output size is then ``floor(in * scale_factor)``)
    unless ``recompute_scale_factor=True``; else ``in / out``. So ``scale_factor=1.5`` and ``size=floor(1.5 *
    in)`` can differ. It and ``src`` are computed in the compute dtype (float32 for the nearest modes), as
    torch; a linear dim whose output size equals its input size is copied, as torch's CPU kernels do.

    Parameters
    ----------
    x : ndarray or CUDA array
        ``(N, C, *spatial)`` with 1, 2 or 3 spatial dims, or ``(N, *spatial, C)`` with a channels-last
        ``layout``. As torch, there is no unbatched form: a 3-d array is a batch of 1-d signals. Nearest modes
        take any bool, integer or float dtype (values are copied, never combined); the interpolating modes
        take float16, float32 or float64 (float16 is computed in float32).
    size : int or tuple of ints, optional
        Output spatial size. Give exactly one of ``size`` and ``scale_factor``.
    scale_factor : float or tuple of floats, optional
        Positive; need not be an integer.
    mode : {"nearest", "nearest_exact", "linear", "bilinear", "bicubic", "trilinear"}
        ``"nearest-exact"`` (torch's spelling) is accepted too.
    align_corners : bool, optional
        Interpolating modes only (None means False): map the corner pixels' centres onto each other instead
        of the corners of the images.
    recompute_scale_factor : bool, optional
        With ``scale_factor``: True computes ``scale`` from the sizes (``in / out``) instead of
        ``1 / scale_factor``. Not allowed with ``size``.
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
    >>> numbaconv.interpolate(x.astype(np.float32), size=5, mode="linear", align_corners=True)
    array([[[10., 15., 20., 25., 30.]]], dtype=float32)
    >>> numbaconv.interpolate(np.ones((1, 2, 4, 4), np.float32), scale_factor=0.5, mode="bicubic").shape
    (1, 2, 2, 2)
    """
    call = Call("interpolate", {"x": x}, outs={"out": out}, stream=stream)
    params = interpolate_params(
        call.x.shape,
        size,
        scale_factor,
        mode,
        layout,
        align_corners=align_corners,
        recompute_scale_factor=recompute_scale_factor,
    )
    if isinstance(params, GatherParams):
        check_copy_dtype("interpolate", call.x.dtype)
    else:
        check_float_dtype("interpolate", mode, call.x.dtype)
    return _resize(call, params)


def _resize(call: Call, params: GatherParams | InterpolateParams):
    if isinstance(params, GatherParams):
        return _gather(call, params)
    call.float_result()
    call.check_out(params.out_shape)
    kernel = select(params, "interpolate", call.backend)
    return call.run(params.out_shape, lambda target: launch(call, params, kernel, target))


def resized(x: Array, params: GatherParams | InterpolateParams) -> Array:
    """x resized by `params`, whose every rule (x's dtype included) has been checked: `interpolate`'s kernels on
    the params of a whole call or of a part of one (`resize_part`), which numbaconv.dask's blocks run so that
    each output keeps the source taps and weights of the whole array's call."""
    return _resize(Call("interpolate", {"x": x}), params)


def interpolated(call: Call, params: InterpolateParams):
    """x of `call` interpolated into a new array of its backend in the compute dtype: resize_conv2d's
    intermediate for its bilinear and bicubic modes (every check has run)."""
    target = call.empty(params.out_shape, call.compute)
    if math.prod(params.out_shape):
        launch(call, params, select(params, "interpolate", call.backend), target)
    return target


max_unpool1d, max_unpool2d, max_unpool3d = (for_dims(_max_unpool, f"max_unpool{nd}d", nd) for nd in (1, 2, 3))
unpool1d, unpool2d, unpool3d = (for_dims(_unpool, f"unpool{nd}d", nd) for nd in (1, 2, 3))

_SHAPES = {
    1: ("(N, C, W)", "(N, W, C)", "NWC"),
    2: ("(N, C, H, W)", "(N, H, W, C)", "NHWC"),
    3: ("(N, C, D, H, W)", "(N, D, H, W, C)", "NDHWC"),
}

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
    _fmt = dict(
        nd=_nd,
        nd_full=_nd + 2,
        shape=_shape,
        shape_last=_shape_last,
        layout_last=_layout_last,
        layout_first=CHANNELS_FIRST[_nd],
    )
    (max_unpool1d, max_unpool2d, max_unpool3d)[_nd - 1].__doc__ = _MAX_UNPOOL_DOC.format(
        example=_MAX_UNPOOL_EXAMPLES[_nd], **_fmt
    )
    (unpool1d, unpool2d, unpool3d)[_nd - 1].__doc__ = _UNPOOL_DOC.format(example=_UNPOOL_EXAMPLES[_nd], **_fmt)
del _nd, _shape, _shape_last, _layout_last, _fmt
