"""numbaconv's ops over dask arrays: lazy results, chunk by chunk, equal to the in-memory call.

Every function here takes a ``dask.array.Array`` (NumPy or CuPy chunks), checks every rule once on the global
shape (the same params objects the in-memory ops build), and returns a lazy dask array whose chunks and ``meta``
are known when the graph is built. Each chunk runs the in-memory public function on its block, so a chunk's
values are those of the whole-array call (dask-image's pattern, with strides, groups and pooling):

- Windowed axes (conv, pooling) use ``map_overlap`` with boundary ``"none"`` and the halo
  ``(pad_lo, extent - 1 - pad_lo)``; a block at the array's edge applies the global padding on its edge side
  with the op's own ``padding_mode`` (``"circular"`` takes its halo from dask's ``"periodic"`` boundary).
- Strides: output ``o`` belongs to the block holding its anchor ``o * stride``, so block ``[a, b)`` owns outputs
  ``[ceil(a / s), ceil(b / s))`` (the last block the rest): any chunking partitions the outputs exactly.
- Spatial chunks are merged (never silently by dask: ``allow_rechunk=False``) until each is at least
  ``2 * max(pad) + extent + stride`` long, so edge padding always finds its data in the block.
- Unpooling and the shuffles have no halo: ``map_blocks`` on each block, after rechunking only the axes the op
  mixes (the whole channel axis, whole groups of ``r * r`` channels, spatial chunks of multiples of ``r``).
- Upsampling (transpose convs, max_unpool, interpolate) partitions the outputs the same way from the global
  call's tap tables (`_Spread`): output ``o`` belongs to the block holding its anchor input (for a transpose
  ``(o + pad_lo) // stride``, for an interpolation ``floor(src)``), and the block reads the inputs its outputs'
  taps need, a halo derived from the tables. The in-memory op then computes exactly the block's outputs: a
  transpose by a crop and ``output_padding``, max_unpool onto the box its inputs' windows cover (then sliced),
  interpolate from the global tables, sliced (`numbaconv.unpool.resized`; an interpolate of the block alone would
  recompute the source positions from its own size). resize_conv2d is the upsampling, then conv2d.
- The algorithm is pinned from the global params (``"auto"`` could choose differently on a small edge block).
- Two-step convolutions run both steps in each block, the channel axis chunked as their mixing needs:
  separable_conv2d's pointwise step and shuffle_conv2d's shuffle mix every channel (one chunk),
  spatially_separable_conv2d keeps whole groups; filter2d is the depthwise conv its in-memory op runs.
- ``residual=`` (every convolution) is a dask array of the result's shape, rechunked to the result's chunks and
  passed block by block beside x (no halo), so each block adds its own in the kernel's store.
- Threads: the in-memory ops already take turns under Numba's workqueue layer (kernels/_jit.py), so dask's
  threaded scheduler and a distributed worker's threads need no guard of their own here. Numba's thread count is
  per thread: each block applies the one ``setup_workers`` gave its worker process.
"""

from __future__ import annotations

import functools
import itertools
import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

import numpy as np

try:
    import dask.array as da
except ImportError as exc:  # pragma: no cover - the module is only imported with dask installed
    raise ImportError("numbaconv.dask needs dask: pip install 'numbaconv[dask]' (dask[array] >= 2024.1)") from exc

from . import conv as _conv_ops
from . import conv_transpose as _transpose_ops
from . import pool as _pool_ops
from . import shuffle as _shuffle_ops
from . import unpool as _unpool_ops
from ._algorithms import resize_algorithm, resolve_algorithm, select_transpose
from ._arrays import STORAGE_DTYPES
from ._call import Call
from ._params import ConvParams, channels_last_any, conv_params, int_tuple
from ._params_pool import (
    GatherParams,
    PoolParams,
    avg_options,
    check_bool,
    check_copy_dtype,
    check_float_dtype,
    interpolate_params,
    max_unpool_params,
    pool_params,
    resize_interpolation,
    resize_part,
    unpool_params,
)
from ._params_shuffle import channel_shuffle_params, pixel_shuffle_params, pixel_unshuffle_params
from ._params_transpose import conv_transpose_params, resize_conv_params
from ._types import (
    Activation,
    ConvAlgorithm,
    DTypeLike,
    FloatOrTuple,
    InterpolateMode,
    IntOrTuple,
    Layout,
    Layout2d,
    Padding,
    PaddingMode,
    PaddingNumbers,
    ResizeAlgorithm,
    ResizeMode,
    TransposeAlgorithm,
    TransposePadding,
    UnpoolMode,
    for_dims,
)
from .warmup import DTYPES, FAMILIES, LAYOUTS, plan

CONVS = {1: _conv_ops.conv1d, 2: _conv_ops.conv2d, 3: _conv_ops.conv3d}  # what each block runs

__all__ = [
    "avg_pool1d",
    "avg_pool2d",
    "avg_pool3d",
    "channel_shuffle",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "depthwise_conv2d",
    "filter2d",
    "interpolate",
    "max_pool1d",
    "max_pool2d",
    "max_pool3d",
    "max_unpool1d",
    "max_unpool2d",
    "max_unpool3d",
    "pixel_shuffle",
    "pixel_unshuffle",
    "pointwise_conv2d",
    "resize_conv2d",
    "separable_conv2d",
    "setup_workers",
    "shuffle_conv2d",
    "spatially_separable_conv2d",
    "unpool1d",
    "unpool2d",
    "unpool3d",
]

DaskArray = Any  # dask.array.Array (NumPy or CuPy chunks)


# ---- arguments ----


def _check_dask(op: str, x, out, stream, **small) -> None:
    """x a dask array; `out=` and `stream=` not taken; weights and biases in memory."""
    if not isinstance(x, da.Array):
        raise TypeError(
            f"{op}: x must be a dask array, got {type(x).__module__}.{type(x).__qualname__}; "
            f"in-memory arrays go to numbaconv.{op}"
        )
    if out is not None:
        raise TypeError(
            f"{op}: out= is not taken by numbaconv.dask (the result is a lazy dask array); write it where it "
            f"belongs with dask.array.store or .to_zarr"
        )
    if stream is not None:
        raise TypeError(
            f"{op}: stream= is not taken by numbaconv.dask; CuPy chunks run on each worker's current stream"
        )
    for name, a in small.items():
        if isinstance(a, da.Array):
            raise TypeError(
                f"{op}: {name} must be an in-memory array (NumPy or CuPy), got a dask array; weights are small: "
                f"pass {name}.compute()"
            )


def _backend(x) -> str:
    return "cpu" if isinstance(x._meta, np.ndarray) else "cuda"


def _batched(x, nd: int):
    """(x with a batch axis, whether one was added): torch's unbatched ``(C, *spatial)`` runs as a batch of 1."""
    return (x[None], True) if x.ndim == nd + 1 else (x, False)


def _meta(x, ndim: int, dtype) -> Any:
    return da.utils.meta_from_array(x, ndim=ndim, dtype=np.dtype(dtype))


def _layout_axes(nd: int, ndim: int, channels_last: bool) -> tuple[int, tuple[int, ...]]:
    """(channel axis, spatial axes) of an (N, C, *spatial) or (N, *spatial, C) array."""
    if channels_last:
        return ndim - 1, tuple(range(1, 1 + nd))
    return 1, tuple(range(2, 2 + nd))


# ---- windowed axes: chunks, halos, owned outputs ----


def _merged(chunks: tuple[int, ...], min_chunk: int) -> tuple[int, ...]:
    """The user's chunks merged (never split) until each is at least min_chunk; one chunk when the axis is
    shorter."""
    merged: list[int] = []
    acc = 0
    for c in chunks:
        acc += c
        if acc >= min_chunk:
            merged.append(acc)
            acc = 0
    if acc:
        if merged:
            merged[-1] += acc
        else:
            merged.append(acc)
    return tuple(merged)


@dataclass(frozen=True)
class _Axis:
    """One windowed spatial axis of the global call: input size, output count, stride, dilated kernel extent and
    the (lo, hi) padding."""

    size: int
    out: int
    stride: int
    extent: int
    pad: tuple[int, int]

    @property
    def min_chunk(self) -> int:
        """A block this long reads every padded position it needs from itself (edge padding, reflect's mirror)
        and owns at least one anchor; its halo fits in its neighbour, as map_overlap requires."""
        return 2 * max(self.pad) + self.extent + self.stride

    def merge(self, chunks: tuple[int, ...]) -> tuple[int, ...]:
        return _merged(chunks, self.min_chunk)

    def depth(self, single: bool, periodic: bool) -> tuple[int, int]:
        """map_overlap's halo: outputs anchored in [a, b) read [a - pad_lo, b - 1 - pad_lo + extent); circular
        wraps symmetrically, far enough for the last block's right padding too."""
        if single:
            return 0, 0
        lo, hi = self.pad[0], max(self.extent - 1 - self.pad[0], 0)
        if periodic:
            d = max(lo, hi, self.pad[1])
            return d, d
        return lo, hi

    def owned(self, chunks: tuple[int, ...]) -> list[tuple[int, int]]:
        """Outputs [o0, o1) of each block: those whose anchor o * stride lies in it (the last block also owns
        anchors past the input, from right padding or ceil_mode)."""
        starts = np.cumsum((0, *chunks))
        firsts = [min(-(-int(a) // self.stride), self.out) for a in starts[:-1]] + [self.out]
        return list(itertools.pairwise(firsts))


class _Tiling:
    """The windowed axes of one call over a rechunked input: each block's slice of its overlapped block and the
    padding it applies itself."""

    def __init__(self, x, spatial_axes: tuple[int, ...], axes: Sequence[Any], circular: bool):
        self.spatial_axes = spatial_axes
        self.axes = tuple(axes)
        self.chunks = [x.chunks[ax] for ax in spatial_axes]
        self.single = [len(c) == 1 for c in self.chunks]
        # dask takes asymmetric halos with boundary "none" only: circular pads every axis symmetrically
        self.periodic = circular
        self.depths = [a.depth(s, circular) for a, s in zip(self.axes, self.single, strict=True)]
        self.owned = [a.owned(c) for a, c in zip(self.axes, self.chunks, strict=True)]
        self.starts = [np.cumsum((0, *c)).tolist() for c in self.chunks]

    def out_chunks(self) -> list[tuple[int, ...]]:
        return [tuple(o1 - o0 for o0, o1 in owned) for owned in self.owned]

    def map_kwargs(self, ndim: int) -> dict:
        depth: dict[int, int | tuple[int, int]] = dict.fromkeys(range(ndim), 0)
        boundary = dict.fromkeys(range(ndim), "none")
        for ax, d, single in zip(self.spatial_axes, self.depths, self.single, strict=True):
            depth[ax] = d if d[0] != d[1] else d[0]
            if self.periodic and not single:
                boundary[ax] = "periodic"
        return dict(depth=depth, boundary=boundary, trim=False, allow_rechunk=False)

    def window(self, i: int, block: int) -> tuple[slice, tuple[int, int], int]:
        """(slice of the overlapped block, padding the block applies, global input position of the slice's
        start) of block `block` along windowed axis `i`."""
        ax, (o0, o1) = self.axes[i], self.owned[i][block]
        if self.single[i]:  # the whole axis: the global call's own padding (circular wraps at the axis' end)
            return slice(None), ax.pad, 0
        a = self.starts[i][block]
        start = o0 * ax.stride - ax.pad[0]
        stop = (o1 - 1) * ax.stride - ax.pad[0] + ax.extent
        d_lo = self.depths[i][0]
        if self.periodic and not self.single[i]:  # the halo holds the wrapped data: no padding to apply
            origin = a - d_lo
            return slice(start - origin, stop - origin), (0, 0), start
        origin = max(a - d_lo, 0)
        lo, hi = max(start, 0), min(stop, ax.size)
        # (ceil_mode's last window may hang past the right padding: the kernel clips it, as in the global call)
        pads = (lo - start, min(stop - hi, ax.pad[1]))
        return slice(lo - origin, hi - origin), pads, lo


def _windowed(
    x,
    spatial_axes: tuple[int, ...],
    axes: Sequence[_Axis | _Spread],
    *,
    circular: bool,
    channel_axis: int,
    channel_chunks: tuple[int, ...],
    out_channel_chunks: tuple[int, ...],
    metas: Sequence[Any],
    block_fn: Callable[..., Any],
    tiling_type: type[_Tiling] = _Tiling,
    others: Sequence[Any] = (),
    aligned: Sequence[Any] = (),
) -> list:
    """Lazy arrays (one per entry of `metas`) from
    `block_fn(block, pads, origins, channel_block, *other_blocks, *aligned_blocks)`,
    which returns one array, or a tuple of them, for each block's owned window.

    The input is rechunked here: the windowed axes merged to their minimum, the channel axis to
    `channel_chunks`; the outputs have x's batch chunks, `out_channel_chunks` and the owned output counts.
    `others` (arrays of x's shape, max_unpool's indices) are chunked and windowed as x; `tiling_type` is
    `_Tiling` (the default) or `_SpreadTiling`, whose blocks get their owned outputs in place of pads.
    `aligned` are dask arrays of the output's shape (a residual), rechunked to its chunks: block_fn gets each
    one's block of its own outputs.
    """
    chunks = list(x.chunks)
    for ax, axis in zip(spatial_axes, axes, strict=True):
        chunks[ax] = axis.merge(x.chunks[ax])
    chunks[channel_axis] = channel_chunks
    x = x.rechunk(tuple(chunks))
    others = [a.rechunk(x.chunks) for a in others]
    tiling = tiling_type(x, spatial_axes, axes, circular)
    out_chunks = list(x.chunks)
    out_chunks[channel_axis] = out_channel_chunks
    for ax, c in zip(spatial_axes, tiling.out_chunks(), strict=True):
        out_chunks[ax] = c

    def run(block, *rest, block_id=None):
        _worker_threads()
        shape = tuple(c[i] for c, i in zip(out_chunks, block_id, strict=True))
        if not math.prod(shape):  # a block that owns no outputs (or an empty batch)
            empties = tuple(np.empty_like(meta, shape=shape) for meta in metas)
            return empties if len(metas) > 1 else empties[0]
        index: list[Any] = [slice(None)] * block.ndim
        pads, origins = [], []
        for i, ax in enumerate(spatial_axes):
            index[ax], pad, origin = tiling.window(i, block_id[ax])
            pads.append(pad)
            origins.append(origin)
        other_blocks, aligned_blocks = rest[: len(others)], rest[len(others) :]
        views = [b[tuple(index)] for b in (block, *other_blocks)]
        return block_fn(views[0], tuple(pads), tuple(origins), block_id[channel_axis], *views[1:], *aligned_blocks)

    kwargs = tiling.map_kwargs(x.ndim)
    args = [a.rechunk(tuple(out_chunks)) for a in aligned]
    if args:  # no halo on them; their blocks pair with x's by position (their chunks are the output's)
        windowed = 1 + len(others)
        depth = [kwargs["depth"]] * windowed + [0] * len(args)
        boundary = [kwargs["boundary"]] * windowed + ["none"] * len(args)
        kwargs.update(depth=depth, boundary=boundary, align_arrays=False)
    if len(metas) == 1:
        return [da.map_overlap(run, x, *others, *args, chunks=tuple(out_chunks), meta=metas[0], **kwargs)]
    pairs = da.map_overlap(
        run, x, *others, *args, chunks=tuple(out_chunks), meta=np.empty((0,) * x.ndim, object), **kwargs
    )
    return [pairs.map_blocks(operator.itemgetter(i), meta=meta) for i, meta in enumerate(metas)]


def _axes(params: ConvParams | PoolParams) -> list[_Axis]:
    """The windowed axes of a conv or pooling call."""
    dims = zip(
        params.in_spatial,
        params.out_spatial,
        params.stride,
        params.kernel,
        params.dilation,
        params.padding,
        strict=True,
    )
    return [_Axis(n, o, s, d * (k - 1) + 1, p) for n, o, s, k, d, p in dims]


def _host_meta(a) -> np.ndarray | None:
    """An empty NumPy array of a's dimensions and dtype, so that the in-memory ops' `Call` checks its dtype."""
    return None if a is None else np.empty((0,) * a.ndim, a.dtype)


def _group_chunks(chunks: tuple[int, ...], size: int) -> tuple[int, ...]:
    """Channel chunks of whole groups of `size` channels: each chunk boundary moved up to its group's end."""
    bounds = sorted({-(-int(b) // size) * size for b in np.cumsum(chunks)})
    return tuple(int(c) for c in np.diff([0, *bounds]))


def _pinned(params: ConvParams, algorithm: str, backend: str) -> str:
    """The algorithm every block runs: `algorithm` checked, or what "auto" / "fast" pick for the global call."""
    if algorithm == "tune":
        raise ValueError(
            f"{params.op}: algorithm='tune' is not taken by numbaconv.dask (every block must run the same "
            f"algorithm); pass 'auto', 'fast' or a named algorithm"
        )
    return resolve_algorithm(params, algorithm, backend)


# ---- convolution ----


def _residual(op: str, residual, x, shape: tuple[int, ...], added: bool) -> list:
    """`residual=` as `_windowed`'s aligned input (none when None): a dask array of exactly the result's shape
    (unbatched when x is) and a float dtype, with chunks of x's kind; it is rechunked to the result's chunks."""
    if residual is None:
        return []
    if not isinstance(residual, da.Array):
        raise TypeError(
            f"{op}: residual must be a dask array of the result's shape, got {type(residual).__module__}."
            f"{type(residual).__qualname__}; wrap an in-memory one with dask.array.from_array"
        )
    if residual.dtype not in STORAGE_DTYPES:
        raise TypeError(
            f"{op}: residual dtype {residual.dtype} is not supported; use a float dtype "
            f"({', '.join(map(str, STORAGE_DTYPES))})"
        )
    want = tuple(shape)[1:] if added else tuple(shape)
    if tuple(residual.shape) != want:
        raise ValueError(f"{op}: residual.shape={tuple(residual.shape)} must equal the result shape {want}")
    if _backend(residual) != _backend(x):
        raise TypeError(f"{op}: residual's chunks must be of x's kind ({type(x._meta).__module__} arrays)")
    return [residual[None] if added else residual]


def _conv_options(params: ConvParams, layout, **extra) -> dict[str, Any]:
    """The global call's options that every block passes on as they are (the padding is each block's own)."""
    return dict(
        stride=params.stride,
        dilation=params.dilation,
        padding_mode=params.padding_mode,
        flip=params.flip,
        activation=params.activation,
        negative_slope=params.negative_slope,
        layout=layout,
        **extra,
    )


def _rows(a, groups: slice, per_group: int):
    """The rows of weight or bias `a` (None stays None) that belong to the global groups `groups`."""
    return None if a is None else a[groups.start * per_group : groups.stop * per_group]


def _grouped_conv(
    op: str,
    x,
    added: bool,
    axes: Sequence[_Axis],
    params: ConvParams,
    *,
    in_group: int,
    out_group: int,
    storage,
    residual,
    out_shape: tuple[int, ...],
    block_fn: Callable[..., Any],
) -> DaskArray:
    """The windowed tail of every convolution: x's channel axis rechunked to whole groups of `in_group` channels
    (each giving `out_group` output channels), `block_fn(block, pads, held, residual_block)` on each block,
    `held` the slice of the global groups the block holds; `params` gives the layout and padding mode."""
    channel_axis, spatial = _layout_axes(len(axes), x.ndim, params.channels_last)
    in_chunks = _group_chunks(x.chunks[channel_axis], in_group)
    first_group = np.cumsum([0, *in_chunks]) // in_group

    def run(block, pads, origins, c, residual_block=None):
        return block_fn(block, pads, slice(int(first_group[c]), int(first_group[c + 1])), residual_block)

    (result,) = _windowed(
        x,
        spatial,
        axes,
        circular=params.padding_mode == "circular",
        channel_axis=channel_axis,
        channel_chunks=in_chunks,
        out_channel_chunks=tuple(c // in_group * out_group for c in in_chunks),
        metas=[_meta(x, x.ndim, storage)],
        block_fn=run,
        aligned=_residual(op, residual, x, out_shape, added),
    )
    return result[0] if added else result


def _conv(
    op: str,
    nd: int,
    /,
    x: DaskArray,
    weight: Any,
    bias: Any = None,
    *,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
    padding_mode: PaddingMode = "zeros",
    flip: bool = False,
    residual: DaskArray | None = None,
    activation: Activation = None,
    negative_slope: float = 0.01,
    layout: Layout | None = None,
    out: None = None,
    algorithm: ConvAlgorithm = "auto",
    dtype: DTypeLike | None = None,
    stream: None = None,
) -> DaskArray:
    _check_dask(op, x, out, stream, weight=weight, bias=bias)
    x, added = _batched(x, nd)
    storage = Call.weighted(op, _host_meta(x), _host_meta(weight), _host_meta(bias), None, dtype, None).storage
    params = conv_params(
        op,
        nd,
        x.shape,
        tuple(weight.shape),
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
    _check_bias(op, bias, params.out_channels)
    pinned = _pinned(params, algorithm, _backend(x))

    options = _conv_options(params, layout, algorithm=pinned, dtype=dtype)

    def block_fn(block, pads, held, residual_block):
        return CONVS[nd](
            block,
            _rows(weight, held, params.out_per_group),
            _rows(bias, held, params.out_per_group),
            padding=pads,
            groups=held.stop - held.start,
            residual=residual_block,
            **options,
        )

    return _grouped_conv(
        op,
        x,
        added,
        _axes(params),
        params,
        in_group=params.in_per_group,
        out_group=params.out_per_group,
        storage=storage,
        residual=residual,
        out_shape=params.out_shape,
        block_fn=block_fn,
    )


conv1d = for_dims(_conv, "conv1d", 1)
conv2d = for_dims(_conv, "conv2d", 2)
conv3d = for_dims(_conv, "conv3d", 3)

_CONV_DOC = """ :func:`numbaconv.{op}` over a dask array: a lazy result, equal to the in-memory call.

    Parameters
    ----------
    x : dask.array.Array
        ``(N, C_in, *spatial)`` (or channels-last with ``layout``, or unbatched ``(C_in, *spatial)``), of NumPy
        or CuPy chunks, chunked any way along N and the spatial dims; the channel axis is rechunked to whole
        groups (one chunk for ``groups=1``), the spatial dims merged where a chunk is shorter than the halo.
    weight, bias : ndarray
        In memory (NumPy, or CuPy for CuPy chunks), as for :func:`numbaconv.{op}`.
    residual : dask.array.Array, optional
        Exactly the result's shape (unbatched when x is), a float dtype: added before the activation as
        :func:`numbaconv.{op}`'s, each block in its own block's store; rechunked to the result's chunks (free when
        they match).

    Every other argument as :func:`numbaconv.{op}`; ``algorithm="tune"``, ``out=`` and ``stream=`` are not taken.

    Returns
    -------
    dask.array.Array
        The result, lazy: chunks along N as x's, along the channels one per channel chunk of x, along each
        spatial dim the outputs whose window starts (``o * stride``) in that chunk of x.

    Examples
    --------
    >>> import dask.array as da, numpy as np, numbaconv, numbaconv.dask
    {example}
"""
conv1d.__doc__ = _CONV_DOC.format(
    op="conv1d",
    example="""\
>>> x = da.arange(10, dtype=np.float32, chunks=4).reshape(1, 1, 10)
    >>> y = numbaconv.dask.conv1d(x, np.ones((1, 1, 3), np.float32), padding=1, padding_mode="reflect")
    >>> y.chunks
    ((1,), (1,), (10,))
    >>> y.compute()[0, 0]
    array([ 2.,  3.,  6.,  9., 12., 15., 18., 21., 24., 25.], dtype=float32)""",
)
conv2d.__doc__ = _CONV_DOC.format(
    op="conv2d",
    example="""\
>>> x = da.random.default_rng(0).random((1, 3, 64, 64), chunks=(1, 3, 32, 32)).astype(np.float32)
    >>> w = np.ones((8, 3, 3, 3), np.float32)
    >>> y = numbaconv.dask.conv2d(x, w, stride=2, padding="same")
    >>> y.shape, y.chunks[2:]
    ((1, 8, 32, 32), ((16, 16), (16, 16)))
    >>> np.array_equal(y.compute(), numbaconv.conv2d(x.compute(), w, stride=2, padding="same"))
    True""",
)
conv3d.__doc__ = _CONV_DOC.format(
    op="conv3d",
    example="""\
>>> x = da.ones((1, 1, 12, 12, 12), chunks=6)
    >>> numbaconv.dask.conv3d(x, np.ones((2, 1, 3, 3, 3)), padding=1).chunks[2:]
    ((6, 6), (6, 6), (6, 6))""",
)


def depthwise_conv2d(
    x: DaskArray,
    weight: Any,
    bias: Any = None,
    *,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
    padding_mode: PaddingMode = "zeros",
    flip: bool = False,
    residual: DaskArray | None = None,
    activation: Activation = None,
    negative_slope: float = 0.01,
    layout: Layout2d = "NCHW",
    out: None = None,
    algorithm: ConvAlgorithm = "auto",
    dtype: DTypeLike | None = None,
    stream: None = None,
) -> DaskArray:
    """:func:`numbaconv.depthwise_conv2d` over a dask array (channels may be chunked too), as :func:`conv2d`.

    Examples
    --------
    >>> import dask.array as da, numpy as np, numbaconv.dask
    >>> x = da.ones((2, 4, 16, 16), dtype=np.float32, chunks=(1, 2, 8, 8))
    >>> y = numbaconv.dask.depthwise_conv2d(x, np.ones((4, 1, 3, 3), np.float32), padding=1)
    >>> y.chunks
    ((1, 1), (2, 2), (8, 8), (8, 8))
    >>> float(y[0, 0, 0, 0].compute()), float(y[0, 0, 5, 5].compute())
    (4.0, 9.0)
    """
    op = "depthwise_conv2d"
    _check_dask(op, x, out, stream, weight=weight, bias=bias)
    channels = _conv_ops.depthwise_groups(op, x.shape, weight.shape, layout)
    return _conv(
        op,
        2,
        x,
        weight,
        bias,
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=channels,
        padding_mode=padding_mode,
        flip=flip,
        residual=residual,
        activation=activation,
        negative_slope=negative_slope,
        layout=layout,
        algorithm=algorithm,
        dtype=dtype,
    )


def pointwise_conv2d(
    x: DaskArray,
    weight: Any,
    bias: Any = None,
    *,
    groups: int = 1,
    residual: DaskArray | None = None,
    activation: Activation = None,
    negative_slope: float = 0.01,
    layout: Layout2d = "NCHW",
    out: None = None,
    algorithm: ConvAlgorithm = "auto",
    dtype: DTypeLike | None = None,
    stream: None = None,
) -> DaskArray:
    """:func:`numbaconv.pointwise_conv2d` over a dask array, as :func:`conv2d` (no halo: every chunk on its own).

    Examples
    --------
    >>> import dask.array as da, numpy as np, numbaconv.dask
    >>> x = da.ones((1, 3, 10, 10), dtype=np.float32, chunks=(1, 3, 5, 5))
    >>> y = numbaconv.dask.pointwise_conv2d(x, np.ones((4, 3), np.float32))
    >>> y.chunks, float(y.sum().compute())
    (((1,), (4,), (5, 5), (5, 5)), 1200.0)
    """
    op = "pointwise_conv2d"
    _check_dask(op, x, out, stream, weight=weight, bias=bias)
    return _conv(
        op,
        2,
        x,
        _conv_ops.as_pointwise_weight(op, weight),
        bias,
        groups=groups,
        residual=residual,
        activation=activation,
        negative_slope=negative_slope,
        layout=layout,
        algorithm=algorithm,
        dtype=dtype,
    )


# ---- separable, shuffled and filter convolutions: the in-memory op on each block, checked globally first ----


def _shaped(a) -> np.ndarray | None:
    """A host array of a's shape and dtype that holds no memory (zero strides): what the in-memory ops' own
    checks read, for a dask x or an in-memory weight of either kind."""
    if a is None:
        return None
    return np.broadcast_to(np.empty((), np.dtype(a.dtype).newbyteorder("=")), tuple(a.shape))


def separable_conv2d(
    x: DaskArray,
    depthwise_weight: Any,
    pointwise_weight: Any,
    bias: Any = None,
    *,
    depthwise_bias: Any = None,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
    padding_mode: PaddingMode = "zeros",
    depthwise_activation: Activation = None,
    residual: DaskArray | None = None,
    activation: Activation = None,
    negative_slope: float = 0.01,
    layout: Layout2d = "NCHW",
    out: None = None,
    dtype: DTypeLike | None = None,
    stream: None = None,
) -> DaskArray:
    """:func:`numbaconv.separable_conv2d` over a dask array: the channel axis in one chunk (the pointwise step
    mixes every channel), the spatial dims windowed as :func:`conv2d`'s; each block runs both steps.

    Weights and biases in memory; ``residual`` a dask array of the result's shape (as :func:`conv2d`'s). Equal to
    the in-memory call: the depthwise step bit for bit, the pointwise step's BLAS product at rounding level
    (a few units in the last place: ``rtol=1e-6`` covers float32). ``out=`` and ``stream=`` are not taken.

    Examples
    --------
    >>> import dask.array as da, numpy as np, numbaconv, numbaconv.dask
    >>> x = da.random.default_rng(0).random((1, 3, 32, 32), chunks=(1, 1, 16, 16)).astype(np.float32)
    >>> dw, pw = np.ones((6, 1, 3, 3), np.float32), np.ones((4, 6), np.float32)
    >>> y = numbaconv.dask.separable_conv2d(x, dw, pw, padding=1, padding_mode="reflect")
    >>> y.chunks
    ((1,), (4,), (16, 16), (16, 16))
    >>> want = numbaconv.separable_conv2d(x.compute(), dw, pw, padding=1, padding_mode="reflect")
    >>> np.allclose(y.compute(), want, rtol=1e-6)
    True
    """
    op = "separable_conv2d"
    _check_dask(
        op, x, out, stream,
        depthwise_weight=depthwise_weight, pointwise_weight=pointwise_weight, bias=bias, depthwise_bias=depthwise_bias,
    )  # fmt: skip
    call = _conv_ops.separable_call(
        _shaped(x),
        _shaped(depthwise_weight),
        _shaped(pointwise_weight),
        _shaped(bias),
        _shaped(depthwise_bias),
        None,
        None,
        dtype,
        None,
    )
    dw_params, pw_params = _conv_ops.separable_params(
        call,
        stride=stride,
        padding=padding,
        dilation=dilation,
        padding_mode=padding_mode,
        depthwise_activation=depthwise_activation,
        activation=activation,
        negative_slope=negative_slope,
        layout=layout,
    )
    call.bias("depthwise_bias", dw_params.out_channels)
    call.bias("bias", pw_params.out_channels)
    x, added = _batched(x, 2)

    def block_fn(block, pads, _held, residual_block):
        return _conv_ops.separable_conv2d(
            block,
            depthwise_weight,
            pointwise_weight,
            bias,
            depthwise_bias=depthwise_bias,
            stride=dw_params.stride,
            padding=pads,
            dilation=dw_params.dilation,
            padding_mode=padding_mode,
            depthwise_activation=depthwise_activation,
            residual=residual_block,
            activation=activation,
            negative_slope=negative_slope,
            layout=layout,
            dtype=dtype,
        )

    return _grouped_conv(
        op,
        x,
        added,
        _axes(dw_params),
        dw_params,
        in_group=dw_params.in_channels,
        out_group=pw_params.out_channels,
        storage=call.storage,
        residual=residual,
        out_shape=pw_params.out_shape,
        block_fn=block_fn,
    )


def spatially_separable_conv2d(
    x: DaskArray,
    column_weight: Any,
    row_weight: Any,
    bias: Any = None,
    *,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
    padding_mode: PaddingMode = "zeros",
    flip: bool = False,
    residual: DaskArray | None = None,
    activation: Activation = None,
    negative_slope: float = 0.01,
    layout: Layout2d = "NCHW",
    out: None = None,
    dtype: DTypeLike | None = None,
    stream: None = None,
) -> DaskArray:
    """:func:`numbaconv.spatially_separable_conv2d` over a dask array: the channel axis rechunked to whole groups,
    H windowed by the column pass and W by the row pass; each block runs both passes.

    Weights and bias in memory; ``residual`` a dask array of the result's shape (as :func:`conv2d`'s). Equal to the
    in-memory call bit for bit (each pass runs the kernel ``"auto"`` picks for it globally: no choice depends on
    the spatial size), at rounding level where a pass runs BLAS (a one-tap pass is a pointwise product; many
    channels run GEMM). ``out=`` and ``stream=`` are not taken.

    Examples
    --------
    >>> import dask.array as da, numpy as np, numbaconv, numbaconv.dask
    >>> x = da.random.default_rng(0).random((1, 2, 30, 30), chunks=(1, 1, 8, 8))
    >>> col, row = np.array([[[1.0, 2.0, 1.0]]] * 2), np.array([[[1.0, 0.0, -1.0]]] * 2)  # Sobel, per channel
    >>> y = numbaconv.dask.spatially_separable_conv2d(x, col, row, groups=2, stride=2, padding="same")
    >>> y.chunks
    ((1,), (1, 1), (4, 4, 7), (4, 4, 7))
    >>> np.array_equal(y.compute(), numbaconv.spatially_separable_conv2d(x.compute(), col, row, groups=2, stride=2,
    ...     padding="same"))
    True
    """
    op = "spatially_separable_conv2d"
    _check_dask(op, x, out, stream, column_weight=column_weight, row_weight=row_weight, bias=bias)
    call = _shuffle_ops.spatially_separable_call(
        _shaped(x), _shaped(column_weight), _shaped(row_weight), _shaped(bias), None, None, dtype, None
    )
    col, row = _shuffle_ops.spatially_separable_params(
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
    call.bias("bias", row.out_channels, row.op)
    x, added = _batched(x, 2)

    def block_fn(block, pads, held, residual_block):
        return _shuffle_ops.spatially_separable_conv2d(
            block,
            _rows(column_weight, held, col.out_per_group),
            _rows(row_weight, held, row.out_per_group),
            _rows(bias, held, row.out_per_group),
            stride=(col.stride[0], row.stride[1]),
            padding=pads,
            dilation=(col.dilation[0], row.dilation[1]),
            groups=held.stop - held.start,
            padding_mode=padding_mode,
            flip=flip,
            residual=residual_block,
            activation=activation,
            negative_slope=negative_slope,
            layout=layout,
            dtype=dtype,
        )

    return _grouped_conv(
        op,
        x,
        added,
        [_axes(col)[0], _axes(row)[1]],
        col,
        in_group=col.in_per_group,
        out_group=row.out_per_group,
        storage=call.storage,
        residual=residual,
        out_shape=row.out_shape,
        block_fn=block_fn,
    )


def shuffle_conv2d(
    x: DaskArray,
    weight: Any,
    bias: Any = None,
    *,
    groups: int,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
    padding_mode: PaddingMode = "zeros",
    flip: bool = False,
    residual: DaskArray | None = None,
    activation: Activation = None,
    negative_slope: float = 0.01,
    layout: Layout2d = "NCHW",
    out: None = None,
    algorithm: ConvAlgorithm = "auto",
    dtype: DTypeLike | None = None,
    stream: None = None,
) -> DaskArray:
    """:func:`numbaconv.shuffle_conv2d` over a dask array: the channel axis in one chunk (the shuffle interleaves
    every group's outputs), the spatial dims windowed as :func:`conv2d`'s.

    The algorithm is pinned from one group's global convolution (``"tune"`` is not taken); weight and bias in
    memory, ``residual`` a dask array of the shuffled result's shape. Equal to the in-memory call bit for bit on
    the direct and depthwise kernels. ``out=`` and ``stream=`` are not taken.

    Examples
    --------
    >>> import dask.array as da, numpy as np, numbaconv, numbaconv.dask
    >>> x = da.random.default_rng(0).random((2, 4, 20, 20), chunks=(1, 2, 10, 10))
    >>> w = np.random.default_rng(1).random((6, 2, 3, 3))
    >>> y = numbaconv.dask.shuffle_conv2d(x, w, groups=2, padding=1, padding_mode="replicate")
    >>> y.chunks
    ((1, 1), (6,), (10, 10), (10, 10))
    >>> want = numbaconv.shuffle_conv2d(x.compute(), w, groups=2, padding=1, padding_mode="replicate")
    >>> np.array_equal(y.compute(), want)
    True
    """
    op = "shuffle_conv2d"
    _check_dask(op, x, out, stream, weight=weight, bias=bias)
    call = Call.weighted(op, _shaped(x), _shaped(weight), _shaped(bias), None, dtype, None).unbatched(2)
    params, one_group = _shuffle_ops.shuffle_conv_params(
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
    call.bias("bias", params.out_channels, op)
    pinned = _pinned(one_group, algorithm, _backend(x))
    x, added = _batched(x, 2)

    options = _conv_options(params, layout, algorithm=pinned, dtype=dtype)

    def block_fn(block, pads, _held, residual_block):
        return _shuffle_ops.shuffle_conv2d(
            block, weight, bias, groups=params.groups, padding=pads, residual=residual_block, **options
        )

    return _grouped_conv(
        op,
        x,
        added,
        _axes(params),
        params,
        in_group=params.in_channels,
        out_group=params.out_channels,
        storage=call.storage,
        residual=residual,
        out_shape=params.out_shape,
        block_fn=block_fn,
    )


def filter2d(
    image: DaskArray,
    kernels: Any,
    *,
    mode: str = "same",
    padding_mode: PaddingMode = "zeros",
    flip: bool = False,
    dtype: DTypeLike | None = None,
    stream: None = None,
) -> DaskArray:
    """:func:`numbaconv.filter2d` over a dask image ``(H, W)`` or ``(H, W, C)``, chunked any way (each channel is
    filtered on its own, so channel chunks stay); ``kernels`` in memory, ``(kH, kW)`` or a bank ``(K, kH, kW)``.

    Every mode (``"same"``, ``"valid"``, ``"full"``) and ``padding_mode``; bit for bit equal to the in-memory call.
    The result's chunks: the image's along C (times K for a bank), along H and W the outputs whose window starts
    in that chunk. ``stream=`` is not taken.

    Examples
    --------
    >>> import dask.array as da, numpy as np, numbaconv, numbaconv.dask
    >>> image = da.random.default_rng(0).random((100, 80, 3), chunks=(32, 32, 1)).astype(np.float32)
    >>> sobel = np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]], np.float32)
    >>> edges = numbaconv.dask.filter2d(image, np.stack([sobel, sobel.T]), padding_mode="reflect")
    >>> edges.shape, edges.chunks[2:]
    ((100, 80, 3, 2), ((1, 1, 1), (2,)))
    >>> want = numbaconv.filter2d(image.compute(), np.stack([sobel, sobel.T]), padding_mode="reflect")
    >>> np.array_equal(edges.compute(), want)
    True
    """
    op = "filter2d"
    if not isinstance(image, da.Array):
        raise TypeError(
            f"{op}: image must be a dask array, got {type(image).__module__}.{type(image).__qualname__}; in-memory "
            f"images go to numbaconv.{op}"
        )
    _check_dask(op, image, None, stream, kernels=kernels)
    weight, padding, channels, count = _conv_ops.filter_weight(op, tuple(image.shape), kernels, mode, flip)
    if _backend(image) == "cuda":  # the in-memory op copies the kernels to the image's device too
        weight = __import__("cupy").asarray(weight)
    result = _conv(
        op,
        2,
        image if image.ndim == 3 else image[..., None],
        weight,
        padding=padding,
        padding_mode=padding_mode,
        flip=flip,
        groups=channels,
        layout="NHWC",
        dtype=dtype,
    )
    h_out, w_out = result.shape[:2]
    return result.reshape(
        (h_out, w_out, *((channels,) if image.ndim == 3 else ()), *((count,) if kernels.ndim == 3 else ()))
    )


# ---- pooling ----


def _pool_call(op: str, nd: int, x, kernel_size, stride, padding, dilation, ceil_mode, layout):
    """(x batched, whether a batch axis was added, the global params, channel axis, spatial axes)."""
    x, added = _batched(x, nd)
    params = pool_params(op, nd, x.shape, kernel_size, stride, padding, dilation, ceil_mode, layout)
    channel_axis, spatial = _layout_axes(nd, x.ndim, params.channels_last)
    return x, added, params, channel_axis, spatial


def _global_indices(indices, block_spatial, origins, in_spatial, spatial_axes):
    """A block's max-pool indices (flat positions in its own slice) as flat positions in the whole plane."""
    xp = np if isinstance(indices, np.ndarray) else __import__("cupy")
    coords = xp.unravel_index(indices, block_spatial)
    return xp.ravel_multi_index(tuple(c + o for c, o in zip(coords, origins, strict=True)), in_spatial)


def _max_pool(
    op: str,
    nd: int,
    /,
    x: DaskArray,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None = None,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
    *,
    layout: Layout | None = None,
    out: None = None,
    stream: None = None,
) -> DaskArray | tuple[DaskArray, DaskArray]:
    _check_dask(op, x, out, stream)
    return_indices = check_bool(op, "return_indices", return_indices)
    storage = Call(op, {"x": _host_meta(x)}).max_result().storage
    x, added, params, channel_axis, spatial = _pool_call(
        op, nd, x, kernel_size, stride, padding, dilation, ceil_mode, layout
    )

    def block_fn(block, pads, origins, c):
        result = getattr(_pool_ops, f"max_pool{nd}d")(
            block, params.kernel, params.stride, pads, params.dilation, params.ceil_mode, return_indices,
            layout=layout,
        )  # fmt: skip
        if not return_indices:
            return result
        values, indices = result
        local = tuple(block.shape[ax] for ax in spatial)
        return values, _global_indices(indices, local, origins, params.in_spatial, spatial)

    metas = [_meta(x, x.ndim, storage)] + ([_meta(x, x.ndim, np.int64)] if return_indices else [])
    results = _windowed(
        x,
        spatial,
        _axes(params),
        circular=False,
        channel_axis=channel_axis,
        channel_chunks=x.chunks[channel_axis],
        out_channel_chunks=x.chunks[channel_axis],
        metas=metas,
        block_fn=block_fn,
    )
    results = [r[0] if added else r for r in results]
    return (results[0], results[1]) if return_indices else results[0]


def _avg_pool(
    op: str,
    nd: int,
    /,
    x: DaskArray,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None = None,
    padding: Padding = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
    dilation: IntOrTuple = 1,
    *,
    layout: Layout | None = None,
    out: None = None,
    dtype: DTypeLike | None = None,
    stream: None = None,
) -> DaskArray:
    _check_dask(op, x, out, stream)
    storage = Call(op, {"x": _host_meta(x)}).float_result(dtype).storage
    x, added, params, channel_axis, spatial = _pool_call(
        op, nd, x, kernel_size, stride, padding, dilation, ceil_mode, layout
    )
    count_include_pad, divisor_override = avg_options(op, count_include_pad, divisor_override)

    def block_fn(block, pads, origins, c):
        return getattr(_pool_ops, f"avg_pool{nd}d")(
            block, params.kernel, params.stride, pads, params.ceil_mode, count_include_pad, divisor_override,
            params.dilation, layout=layout, dtype=dtype,
        )  # fmt: skip

    (result,) = _windowed(
        x,
        spatial,
        _axes(params),
        circular=False,
        channel_axis=channel_axis,
        channel_chunks=x.chunks[channel_axis],
        out_channel_chunks=x.chunks[channel_axis],
        metas=[_meta(x, x.ndim, storage)],
        block_fn=block_fn,
    )
    return result[0] if added else result


max_pool1d, max_pool2d, max_pool3d = (for_dims(_max_pool, f"max_pool{nd}d", nd) for nd in (1, 2, 3))
avg_pool1d, avg_pool2d, avg_pool3d = (for_dims(_avg_pool, f"avg_pool{nd}d", nd) for nd in (1, 2, 3))

_POOL_DOC = """:func:`numbaconv.{op}` over a dask array: a lazy result, equal to the in-memory call.

    ``x`` is a dask array of NumPy or CuPy chunks, chunked any way (spatial chunks shorter than the window's
    halo are merged); every other argument as :func:`numbaconv.{op}`{extra}. ``out=`` and ``stream=`` are not
    taken. The result's chunks: x's along N and C, along each spatial dim the outputs whose window starts
    (``o * stride``) in that chunk of x.

    Examples
    --------
    >>> import dask.array as da, numpy as np, numbaconv.dask
    {example}
"""
for _nd in (1, 2, 3):
    _shape = ", ".join(["8"] * _nd)
    _chunks = ", ".join(["(2, 2)"] * _nd) + ("," if _nd == 1 else "")
    globals()[f"max_pool{_nd}d"].__doc__ = _POOL_DOC.format(
        op=f"max_pool{_nd}d",
        extra="; with ``return_indices=True`` the indices are flat positions in each whole ``(n, c)`` plane",
        example=f""">>> x = da.from_array(np.arange({8**_nd}.0).reshape(1, 1, {_shape}), chunks=4)
    >>> values, indices = numbaconv.dask.max_pool{_nd}d(x, 2, return_indices=True)
    >>> values.chunks[2:]
    ({_chunks})
    >>> int(indices.max().compute())
    {8**_nd - 1}""",
    )
    globals()[f"avg_pool{_nd}d"].__doc__ = _POOL_DOC.format(
        op=f"avg_pool{_nd}d",
        extra="",
        example=f""">>> x = da.ones((1, 1, {_shape}), dtype=np.float32, chunks=4)
    >>> y = numbaconv.dask.avg_pool{_nd}d(x, 3, stride=1, padding=1, count_include_pad=False)
    >>> float(y.min().compute())
    1.0""",
    )


# ---- upsampling: transpose convolutions, max unpooling, interpolation, resize-conv ----


@dataclass(frozen=True, eq=False)
class _Spread:
    """One spatial axis of an upsampling, from the global call's tap tables: per output, the first and the last
    input it reads and its anchor input (each non-decreasing along the outputs, first <= anchor <= last, all in
    [0, size)). Output o belongs to the block holding its anchor, so any chunking partitions the outputs, and a
    block owning outputs [o0, o1) reads inputs [first[o0], last[o1 - 1]]: a halo of at most `reach`."""

    size: int
    first: np.ndarray
    last: np.ndarray
    anchor: np.ndarray

    @property
    def reach(self) -> tuple[int, int]:
        """(inputs before, inputs after) its anchor that an output reads, at most."""
        return int(np.max(self.anchor - self.first)), int(np.max(self.last - self.anchor))

    @property
    def min_chunk(self) -> int:
        """map_overlap takes a halo no longer than the shortest chunk."""
        return max(1, *self.reach)

    def merge(self, chunks: tuple[int, ...]) -> tuple[int, ...]:
        return _merged(chunks, self.min_chunk)

    def depth(self, single: bool, periodic: bool) -> tuple[int, int]:
        return (0, 0) if single else self.reach

    def owned(self, chunks: tuple[int, ...]) -> list[tuple[int, int]]:
        """Outputs [o0, o1) of each block: those whose anchor lies in it."""
        inner = np.searchsorted(self.anchor, np.cumsum(chunks)[:-1], side="left")
        return list(itertools.pairwise([0, *(int(o) for o in inner), len(self.anchor)]))


def _transposed(size: int, out: int, stride: int, extent: int, pad_lo: int) -> _Spread:
    """The axis of a transpose conv or a max unpooling: input i spreads over outputs ``i * stride - pad_lo + [0,
    extent)``. Output o is anchored at the last input whose spread starts at or before it, ``(o + pad_lo) //
    stride`` (so block [a, b) owns outputs [a * stride - pad_lo, b * stride - pad_lo)), and reads from ``(o +
    pad_lo - extent + 1) // stride``, perhaps one input early (whose outputs the block's call crops): the block's
    spread then starts at or before its first output, never after."""
    o = np.arange(out) + pad_lo
    anchor = np.clip(o // stride, 0, size - 1)
    return _Spread(size, np.clip((o - extent + 1) // stride, 0, size - 1), anchor, anchor)


def _sourced(size: int, index) -> _Spread:
    """The axis of an interpolation from its global (out,) or (out, taps) source index table: each output
    anchored at its source pixel floor(src) (the nearest modes' only tap, the linear modes' first, the cubic
    mode's second), so a block's halo is the other taps (none, 1 input after, or 1 before and 2 after)."""
    index = np.asarray(index).reshape(len(index), -1)
    return _Spread(size, index.min(axis=1), index.max(axis=1), index[:, (index.shape[1] - 1) // 2])


class _SpreadTiling(_Tiling):
    """`_Tiling` of `_Spread` axes: each block gets the slice its owned outputs read and, in place of the pads, the
    owned outputs ``(o0, o1)``; an axis in one chunk is read whole."""

    def window(self, i: int, block: int) -> tuple[slice, tuple[int, int], int]:
        ax, owned = self.axes[i], self.owned[i][block]
        if self.single[i]:
            return slice(None), owned, 0
        origin = max(self.starts[i][block] - self.depths[i][0], 0)
        lo, hi = int(ax.first[owned[0]]), int(ax.last[owned[1] - 1]) + 1
        return slice(lo - origin, hi - origin), owned, lo


def _xp(a):
    """NumPy or CuPy, whichever `a` belongs to."""
    return np if isinstance(a, np.ndarray) else __import__("cupy")


def _no_residual(op: str, residual) -> None:
    if residual is not None:
        raise TypeError(
            f"{op}: residual= is not taken by numbaconv.dask; add the skip connection to the lazy result "
            f"(computed with activation=None, then apply the activation)"
        )


def _check_bias(op: str, bias, channels: int) -> None:
    if bias is not None and tuple(bias.shape) != (channels,):
        raise ValueError(f"{op}: bias.shape={tuple(bias.shape)} must be (out_channels,) = ({channels},)")


def _conv_transpose(
    op: str,
    nd: int,
    /,
    x: DaskArray,
    weight: Any,
    bias: Any = None,
    *,
    stride: IntOrTuple = 1,
    padding: TransposePadding = 0,
    output_padding: IntOrTuple = 0,
    groups: int = 1,
    dilation: IntOrTuple = 1,
    output_size: Sequence[int] | None = None,
    residual: None = None,
    activation: Activation = None,
    negative_slope: float = 0.01,
    layout: Layout | None = None,
    out: None = None,
    algorithm: TransposeAlgorithm = "auto",
    dtype: DTypeLike | None = None,
    stream: None = None,
) -> DaskArray:
    _check_dask(op, x, out, stream, weight=weight, bias=bias)
    _no_residual(op, residual)
    x, added = _batched(x, nd)
    storage = Call.weighted(op, _host_meta(x), _host_meta(weight), _host_meta(bias), None, dtype, None).storage
    params = conv_transpose_params(
        op,
        nd,
        x.shape,
        tuple(weight.shape),
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
    _check_bias(op, bias, params.out_channels)
    pinned = select_transpose(params, algorithm, _backend(x))
    channel_axis, spatial = _layout_axes(nd, x.ndim, params.channels_last)
    in_group, out_group = params.in_per_group, params.out_per_group
    in_chunks = _group_chunks(x.chunks[channel_axis], in_group)
    first_group = np.cumsum([0, *in_chunks]) // in_group
    dims = list(zip(params.stride, params.dilation, params.kernel, params.padding, strict=True))

    def block_fn(block, owned, origins, c):
        # the block's full output starts at global output i0 * s - pad_lo: crop it to [o0, o1), or extend its end
        # by output_padding where its last inputs' taps fall short of o1 (less than stride, see _transposed)
        pads, extra = [], []
        sizes = [block.shape[ax] for ax in spatial]
        for (s, d, k, (pad_lo, _)), (o0, o1), i0, n in zip(dims, owned, origins, sizes, strict=True):
            hi = (i0 + n - 1) * s - pad_lo + d * (k - 1) + 1 - o1
            pads.append((o0 - i0 * s + pad_lo, max(hi, 0)))
            extra.append(max(-hi, 0))
        g0, g1 = int(first_group[c]), int(first_group[c + 1])
        return getattr(_transpose_ops, op)(
            block,
            weight[g0 * in_group : g1 * in_group],
            None if bias is None else bias[g0 * out_group : g1 * out_group],
            stride=params.stride,
            padding=tuple(pads),
            output_padding=tuple(extra),
            groups=g1 - g0,
            dilation=params.dilation,
            activation=activation,
            negative_slope=negative_slope,
            layout=layout,
            algorithm=pinned,
            dtype=dtype,
        )

    axes = [
        _transposed(n, o, s, d * (k - 1) + 1, p[0])
        for n, o, (s, d, k, p) in zip(params.in_spatial, params.out_spatial, dims, strict=True)
    ]
    (result,) = _windowed(
        x,
        spatial,
        axes,
        circular=False,
        channel_axis=channel_axis,
        channel_chunks=in_chunks,
        out_channel_chunks=tuple(c // in_group * out_group for c in in_chunks),
        metas=[_meta(x, x.ndim, storage)],
        block_fn=block_fn,
        tiling_type=_SpreadTiling,
    )
    return result[0] if added else result


conv_transpose1d, conv_transpose2d, conv_transpose3d = (
    for_dims(_conv_transpose, f"conv_transpose{nd}d", nd) for nd in (1, 2, 3)
)

_TRANSPOSE_DOC = """:func:`numbaconv.{op}` over a dask array: a lazy result, equal to the in-memory call.

    ``x`` is a dask array of NumPy or CuPy chunks, chunked any way along N and the spatial dims; the channel
    axis is rechunked to whole groups (one chunk for ``groups=1``), spatial chunks shorter than the halo
    (``ceil((dilation * (kernel - 1)) / stride)`` inputs before each chunk) are merged. ``weight`` and ``bias``
    are in memory. Every other argument as :func:`numbaconv.{op}` (``output_size``, ``"same"`` and per-side
    padding included; the algorithm is pinned from the global call); ``residual=``, ``out=`` and ``stream=`` are
    not taken. Each block runs the in-memory op with the padding (a crop) and ``output_padding`` that give
    exactly its outputs, so the result is the in-memory call's bit for bit with ``algorithm="direct"`` (BLAS
    rounding differs between block sizes with ``"gemm"``).

    The result's chunks: along each spatial dim, chunk ``[a, b)`` of x gives outputs ``[a * stride - pad_lo,
    b * stride - pad_lo)`` (clipped to the output; the last chunk also the rest).

    Examples
    --------
    >>> import dask.array as da, numpy as np, numbaconv, numbaconv.dask
    {example}
"""
for _nd in (1, 2, 3):
    globals()[f"conv_transpose{_nd}d"].__doc__ = _TRANSPOSE_DOC.format(
        op=f"conv_transpose{_nd}d",
        example=f""">>> x = da.random.default_rng(0).random((1, 2, {", ".join(["6"] * _nd)}), chunks=3)
    >>> w = np.ones((2, 3, {", ".join(["3"] * _nd)}))
    >>> kw = dict(stride=2, padding=1, output_padding=1)
    >>> y = numbaconv.dask.conv_transpose{_nd}d(x, w, **kw)
    >>> y.chunks[2:]
    ({", ".join(["(5, 7)"] * _nd)}{"," if _nd == 1 else ""})
    >>> np.array_equal(y.compute(), numbaconv.conv_transpose{_nd}d(x.compute(), w, **kw))
    True""",
    )


def _max_unpool(
    op: str,
    nd: int,
    /,
    x: DaskArray,
    indices: DaskArray,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None = None,
    padding: PaddingNumbers = 0,
    output_size: IntOrTuple | None = None,
    *,
    layout: Layout | None = None,
    out: None = None,
    stream: None = None,
) -> DaskArray:
    _check_dask(op, x, out, stream)
    if not isinstance(indices, da.Array):
        raise TypeError(
            f"{op}: indices must be a dask array like x (numbaconv.dask.max_pool{nd}d(..., return_indices=True) "
            f"gives one), got {type(indices).__module__}.{type(indices).__qualname__}"
        )
    storage = Call(op, {"x": _host_meta(x)}).max_result().storage
    x, added = _batched(x, nd)
    indices = indices[None] if added else indices
    params = max_unpool_params(
        op, nd, x.shape, indices.dtype, indices.shape, kernel_size, stride, padding, output_size, layout
    )
    channel_axis, spatial = _layout_axes(nd, x.ndim, params.channels_last)
    dims = list(zip(params.kernel, params.stride, (p[0] for p in params.padding), strict=True))
    sizes = list(zip(params.in_spatial, params.out_spatial, dims, strict=True))
    axes = [_transposed(n, o, s, k, lo) for n, o, (k, s, lo) in sizes]
    # An input whose window misses the output (padding of a kernel or more, a short output_size) is read by no
    # block's halo, so no block could check where its index points: such a dim is read whole.
    x = x.rechunk(
        {ax: -1 for ax, (n, o, (k, s, lo)) in zip(spatial, sizes, strict=True) if lo >= k or (n - 1) * s - lo >= o}
    )

    def block_fn(block, owned, origins, c, idx):
        xp = _xp(idx)
        bad = (idx < 0) | (idx >= params.plane)
        if bad.any():
            raise ValueError(
                f"{op}: an index {int(idx[bad][0])} is outside [0, {params.plane}): indices are flat positions "
                f"within each (n, c) plane of the {params.out_spatial} output"
            )
        coords = xp.unravel_index(idx, params.out_spatial)
        local, box = [], []
        dims_of_block = zip(dims, owned, origins, spatial, params.in_spatial, params.out_spatial, strict=True)
        for dim, ((k, s, pad_lo), (o0, o1), i0, ax, size, out_size) in enumerate(dims_of_block):
            start = i0 * s - pad_lo  # where the window of the block's first input starts
            n = block.shape[ax]
            # A block with all the dim's inputs and outputs takes any index; elsewhere each must lie in its input's
            # window, so that every input sent to the block's outputs is in its halo.
            if (n, o0, o1) != (size, 0, out_size):
                starts = (start + s * xp.arange(n)).reshape([-1 if a == ax else 1 for a in range(block.ndim)])
                outside = (coords[dim] < starts) | (coords[dim] >= starts + k)
                if outside.any():
                    raise ValueError(
                        f"{op}: an index {int(idx[outside][0])} points outside its input's pooling window (kernel "
                        f"{k}, stride {s}, pad {pad_lo}) along spatial dim {dim}; numbaconv.dask.{op} takes any "
                        f"position in the plane only along dims in one chunk: rechunk x and indices to one chunk "
                        f"along each spatial dim, or pass the indices max_pool{nd}d gives"
                    )
            local.append(coords[dim] - start)
            box.append(max((n - 1) * s + k, o1 - start))
        # the block unpools onto the box its inputs' windows cover (a few outputs more than its own), then slices
        result = getattr(_unpool_ops, op)(
            block, xp.ravel_multi_index(tuple(local), tuple(box)), params.kernel, params.stride, 0, tuple(box),
            layout=layout,
        )  # fmt: skip
        index: list[Any] = [slice(None)] * block.ndim
        for (_, s, pad_lo), (o0, o1), i0, ax in zip(dims, owned, origins, spatial, strict=True):
            index[ax] = slice(o0 - i0 * s + pad_lo, o1 - i0 * s + pad_lo)
        return result[tuple(index)]

    (result,) = _windowed(
        x,
        spatial,
        axes,
        circular=False,
        channel_axis=channel_axis,
        channel_chunks=x.chunks[channel_axis],
        out_channel_chunks=x.chunks[channel_axis],
        metas=[_meta(x, x.ndim, storage)],
        block_fn=block_fn,
        tiling_type=_SpreadTiling,
        others=[indices],
    )
    return result[0] if added else result


max_unpool1d, max_unpool2d, max_unpool3d = (for_dims(_max_unpool, f"max_unpool{nd}d", nd) for nd in (1, 2, 3))

_MAX_UNPOOL_DOC = """:func:`numbaconv.{op}` over dask arrays: a lazy result, equal to the in-memory call.

    ``x`` and ``indices`` are dask arrays of one shape (NumPy or CuPy chunks; indices are rechunked as x),
    ``indices`` flat positions in each whole ``(n, c)`` output plane, as :func:`max_pool{nd}d` with
    ``return_indices=True`` gives them. Every other argument as :func:`numbaconv.{op}`; ``out=`` and
    ``stream=`` are not taken. Output ``o`` belongs to the chunk of x holding input ``(o + pad_lo) // stride``
    (chunk ``[a, b)`` gives outputs ``[a * stride - pad_lo, b * stride - pad_lo)``, the last one the rest); each
    block unpools its inputs and a halo of ``ceil((kernel - 1) / stride)`` inputs before it onto the outputs
    their windows cover, then keeps its own, so a duplicate index keeps the largest value exactly as the
    in-memory op resolves it (the inputs are scanned in the same order). Along a spatial dim of more than one
    chunk each index must lie in its input's pooling window (``kernel_size``, ``stride``, ``padding``), as
    max pooling's do: an index elsewhere raises a ValueError when its block runs (rechunk that dim to one chunk
    to take any position in the plane). Indices outside the plane raise a ValueError when their block runs.

    Examples
    --------
    >>> import dask.array as da, numpy as np, numbaconv, numbaconv.dask
    {example}
"""
for _nd in (1, 2, 3):
    globals()[f"max_unpool{_nd}d"].__doc__ = _MAX_UNPOOL_DOC.format(
        op=f"max_unpool{_nd}d",
        nd=_nd,
        example=f""">>> x = da.random.default_rng(0).random((1, 2, {", ".join(["8"] * _nd)}), chunks=4)
    >>> values, indices = numbaconv.dask.max_pool{_nd}d(x, 2, return_indices=True)
    >>> y = numbaconv.dask.max_unpool{_nd}d(values, indices, 2)
    >>> y.chunks[2:]
    ({", ".join(["(4, 4)"] * _nd)}{"," if _nd == 1 else ""})
    >>> bool((y.compute() == numbaconv.max_unpool{_nd}d(values.compute(), indices.compute(), 2)).all())
    True""",
    )


def interpolate(
    x: DaskArray,
    size: IntOrTuple | None = None,
    scale_factor: FloatOrTuple | None = None,
    mode: InterpolateMode = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
    *,
    layout: Layout | None = None,
    out: None = None,
    stream: None = None,
) -> DaskArray:
    """:func:`numbaconv.interpolate` over a dask array: a lazy result, equal to the in-memory call bit for bit.

    ``x`` is a dask array of NumPy or CuPy chunks, chunked any way (spatial chunks shorter than the halo are
    merged); every other argument as :func:`numbaconv.interpolate` (every mode, ``size`` or ``scale_factor``,
    ``align_corners``, ``recompute_scale_factor``); ``out=`` and ``stream=`` are not taken.

    The source positions and weights are those of the whole array's call (torch's arithmetic on the global
    sizes and scale), never recomputed from a block's size: output ``o`` belongs to the chunk of x holding its
    source pixel ``floor(src)``, and each block computes its outputs from the global tables, sliced, reading a
    halo of the other taps (none for the nearest modes, 1 input after for the linear ones, 1 before and 2 after
    for bicubic). The result's chunks: x's along N and C, along each spatial dim the outputs whose source pixel
    lies in that chunk of x.

    Examples
    --------
    >>> import dask.array as da, numpy as np, numbaconv, numbaconv.dask
    >>> x = da.random.default_rng(0).random((1, 1, 9, 9), chunks=(1, 1, 3, 4)).astype(np.float32)
    >>> y = numbaconv.dask.interpolate(x, scale_factor=2.5, mode="bicubic", align_corners=True)
    >>> y.chunks[2:]
    ((8, 8, 6), (11, 11))
    >>> want = numbaconv.interpolate(x.compute(), scale_factor=2.5, mode="bicubic", align_corners=True)
    >>> np.array_equal(y.compute(), want)
    True
    """
    op = "interpolate"
    _check_dask(op, x, out, stream)
    params = interpolate_params(
        x.shape,
        size,
        scale_factor,
        mode,
        layout,
        align_corners=align_corners,
        recompute_scale_factor=recompute_scale_factor,
    )
    if isinstance(params, GatherParams):
        check_copy_dtype(op, x.dtype)
        sources = [np.array(t) for t in params.tables]
    else:
        check_float_dtype(op, mode, x.dtype)
        compute = Call(op, {"x": _host_meta(x)}).float_result().compute
        sources = [index for index, _ in params.dim_tables(compute)]
    channel_axis, spatial = _layout_axes(params.nd, x.ndim, params.channels_last)

    def block_fn(block, owned, origins, c):
        first_out = [o0 for o0, _ in owned]
        sizes = [o1 - o0 for o0, o1 in owned]
        return _unpool_ops.resized(block, resize_part(params, block.shape, origins, first_out, sizes))

    (result,) = _windowed(
        x,
        spatial,
        [_sourced(n, t) for n, t in zip(params.in_spatial, sources, strict=True)],
        circular=False,
        channel_axis=channel_axis,
        channel_chunks=x.chunks[channel_axis],
        out_channel_chunks=x.chunks[channel_axis],
        metas=[_meta(x, x.ndim, x.dtype)],
        block_fn=block_fn,
        tiling_type=_SpreadTiling,
    )
    return result


def resize_conv2d(
    x: DaskArray,
    weight: Any,
    bias: Any = None,
    *,
    scale_factor: IntOrTuple = 2,
    mode: ResizeMode = "nearest",
    align_corners: bool | None = None,
    padding: Padding = "same",
    padding_mode: PaddingMode = "zeros",
    stride: IntOrTuple = 1,
    dilation: IntOrTuple = 1,
    groups: int = 1,
    residual: None = None,
    activation: Activation = None,
    negative_slope: float = 0.01,
    layout: Layout2d = "NCHW",
    out: None = None,
    algorithm: ResizeAlgorithm = "auto",
    dtype: DTypeLike | None = None,
    stream: None = None,
) -> DaskArray:
    """:func:`numbaconv.resize_conv2d` over a dask array: a lazy result, equal to the in-memory call.

    Built as the in-memory op computes it: the upsampling (:func:`unpool2d` for ``"nearest"``, each block on
    its own; :func:`interpolate` in the compute dtype for ``"bilinear"`` and ``"bicubic"``, as the in-memory
    op's intermediate), then :func:`conv2d` over the upsampled image with the algorithm pinned from the global
    call. Every rule is checked first, on the global shape, with resize_conv2d's messages. The upsampled chunks
    exist one at a time per task (``scale_factor**2`` times an input chunk), where the in-memory nearest path
    reads the input through its index tables. The result's chunks are conv2d's over the upsampled chunks
    (each ``scale_factor`` times x's). Bit for bit with ``algorithm="direct"``; ``residual=``, ``out=`` and
    ``stream=`` are not taken.

    Examples
    --------
    >>> import dask.array as da, numpy as np, numbaconv, numbaconv.dask
    >>> x = da.random.default_rng(0).random((1, 2, 8, 8), chunks=(1, 2, 4, 4)).astype(np.float32)
    >>> w = np.ones((4, 2, 3, 3), np.float32)
    >>> y = numbaconv.dask.resize_conv2d(x, w, mode="bilinear", algorithm="direct")
    >>> y.chunks
    ((1,), (4,), (9, 7), (9, 7))
    >>> np.array_equal(y.compute(), numbaconv.resize_conv2d(x.compute(), w, mode="bilinear", algorithm="direct"))
    True
    """
    op = "resize_conv2d"
    _check_dask(op, x, out, stream, weight=weight, bias=bias)
    _no_residual(op, residual)
    x, added = _batched(x, 2)
    call = Call.weighted(op, _host_meta(x), _host_meta(weight), _host_meta(bias), None, dtype, None)
    params = resize_conv_params(
        op,
        x.shape,
        tuple(weight.shape),
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
    smooth = resize_interpolation(op, x.shape, params.scale, mode, align_corners, layout) is not None
    _check_bias(op, bias, params.out_channels)
    pinned = resize_algorithm(params, algorithm, _backend(x))
    if smooth:
        up = interpolate(
            x.astype(call.compute), scale_factor=params.scale, mode=mode, align_corners=align_corners, layout=layout
        )
    else:
        up = unpool2d(x, params.scale, layout=layout)
    result = conv2d(
        up,
        weight,
        bias,
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
        padding_mode=padding_mode,
        activation=activation,
        negative_slope=negative_slope,
        layout=layout,
        algorithm=cast(ConvAlgorithm, pinned),
        dtype=call.storage,
    )
    return result[0] if added else result


# ---- blockwise ops: unpooling and shuffles (no halo; the axes an op mixes rechunked to what it needs) ----


def _blockwise(x, fn: Callable[..., Any], chunks: dict[int, Any], out_chunks: dict[int, Any], **kw):
    """x rechunked along the axes of `chunks`, `fn(block, **kw)` on each block; the result's chunks are x's with
    `out_chunks[axis](chunk)` along those axes (a block's output size from its input size)."""
    x = x.rechunk({**dict(enumerate(x.chunks)), **chunks})
    result_chunks = tuple(
        tuple(out_chunks[ax](c) for c in cs) if ax in out_chunks else cs for ax, cs in enumerate(x.chunks)
    )
    return x.map_blocks(_on_worker(fn), chunks=result_chunks, meta=_meta(x, x.ndim, x.dtype), **kw)


def _unpool(
    op: str,
    nd: int,
    /,
    x: DaskArray,
    scale_factor: IntOrTuple = 2,
    mode: UnpoolMode = "nearest",
    *,
    layout: Layout | None = None,
    out: None = None,
    stream: None = None,
) -> DaskArray:
    _check_dask(op, x, out, stream)
    check_copy_dtype(op, x.dtype)
    x, added = _batched(x, nd)
    params = unpool_params(op, nd, x.shape, scale_factor, mode, layout)
    scale = int_tuple(op, "scale_factor", scale_factor, nd, 1)
    _, spatial = _layout_axes(nd, x.ndim, params.channels_last)
    grow = {ax: (lambda c, s=s: c * s) for ax, s in zip(spatial, scale, strict=True)}
    fn = getattr(_unpool_ops, f"unpool{nd}d")
    result = _blockwise(x, fn, {}, grow, scale_factor=scale, mode=mode, layout=layout)
    return result[0] if added else result


unpool1d, unpool2d, unpool3d = (for_dims(_unpool, f"unpool{nd}d", nd) for nd in (1, 2, 3))

_UNPOOL_DOC = """:func:`numbaconv.{op}` over a dask array: a lazy result, equal to the in-memory call.

    ``x`` is a dask array of NumPy or CuPy chunks, chunked any way; each block is upsampled on its own (no halo),
    so the result's chunks are x's times the scale along each spatial dim. Every other argument as
    :func:`numbaconv.{op}`; ``out=`` and ``stream=`` are not taken.

    Examples
    --------
    >>> import dask.array as da, numpy as np, numbaconv.dask
    >>> y = numbaconv.dask.{op}(da.ones((1, 1, {shape}), dtype=np.float32, chunks=2), (2, {scales}), "bed_of_nails")
    >>> y.chunks[2:]
    ({chunks})
    >>> float(y.sum().compute())
    {total}
"""
for _nd in (1, 2, 3):
    globals()[f"unpool{_nd}d"].__doc__ = _UNPOOL_DOC.format(
        op=f"unpool{_nd}d",
        shape=", ".join(["4"] * _nd),
        scales=", ".join(["3"] * (_nd - 1)) if _nd > 1 else "",
        chunks=", ".join(["(4, 4)"] + ["(6, 6)"] * (_nd - 1)) + ("," if _nd == 1 else ""),
        total=f"{4.0**_nd}",
    )


def _movable(op: str, x) -> None:
    """The shuffles move bytes: any fixed-size dtype, as the in-memory ops (checked before any graph exists)."""
    if x.dtype.hasobject or x.dtype.itemsize == 0:
        raise TypeError(
            f"{op}: input dtype {x.dtype} is not supported; any fixed-size dtype (numbers, bool, datetime, "
            f"structured) works, object arrays do not"
        )


def channel_shuffle(
    x: DaskArray, groups: int, *, layout: Layout | Literal["NC"] | None = None, out: None = None, stream: None = None
) -> DaskArray:
    """:func:`numbaconv.channel_shuffle` over a dask array: the channel axis in one chunk, any other chunking.

    Examples
    --------
    >>> import dask.array as da, numpy as np, numbaconv.dask
    >>> y = numbaconv.dask.channel_shuffle(da.arange(6, chunks=2).reshape(1, 6, 1), 2)
    >>> y.chunks, y.compute()[0, :, 0]
    (((1,), (6,), (1,)), array([0, 3, 1, 4, 2, 5]))
    """
    op = "channel_shuffle"
    _check_dask(op, x, out, stream)
    _movable(op, x)
    channel_shuffle_params(op, x.shape, groups, layout)
    channel_axis = x.ndim - 1 if channels_last_any(op, layout, x.ndim) else 1
    return _blockwise(x, _shuffle_ops.channel_shuffle, {channel_axis: -1}, {}, groups=groups, layout=layout)


def _pixel_axes(x, layout: str) -> tuple[int, int, int]:
    """(channel, height, width) axes of a ``(*, C, H, W)`` or ``(*, H, W, C)`` array."""
    return (x.ndim - 1, x.ndim - 3, x.ndim - 2) if layout == "NHWC" else (x.ndim - 3, x.ndim - 2, x.ndim - 1)


def pixel_shuffle(
    x: DaskArray,
    upscale_factor: int | tuple[int, int],
    *,
    layout: Layout2d = "NCHW",
    out: None = None,
    stream: None = None,
) -> DaskArray:
    """:func:`numbaconv.pixel_shuffle` over a dask array: channels rechunked to whole groups of ``rH * rW``
    (each becomes one output channel), any other chunking; the spatial chunks grow by the factor.

    Examples
    --------
    >>> import dask.array as da, numpy as np, numbaconv.dask
    >>> y = numbaconv.dask.pixel_shuffle(da.ones((1, 12, 4, 4), chunks=(1, 5, 2, 4)), 2)
    >>> y.chunks
    ((1,), (2, 1), (4, 4), (8,))
    """
    op = "pixel_shuffle"
    _check_dask(op, x, out, stream)
    _movable(op, x)
    pixel_shuffle_params(op, x.shape, upscale_factor, layout)
    rh, rw = int_tuple(op, "upscale_factor", upscale_factor, 2, 1)
    c, h, w = _pixel_axes(x, layout)
    sizes = {c: lambda n: n // (rh * rw), h: lambda n: n * rh, w: lambda n: n * rw}
    rechunk = {c: _group_chunks(x.chunks[c], rh * rw)}
    return _blockwise(x, _shuffle_ops.pixel_shuffle, rechunk, sizes, upscale_factor=(rh, rw), layout=layout)


def pixel_unshuffle(
    x: DaskArray,
    downscale_factor: int | tuple[int, int],
    *,
    layout: Layout2d = "NCHW",
    out: None = None,
    stream: None = None,
) -> DaskArray:
    """:func:`numbaconv.pixel_unshuffle` over a dask array: spatial chunks rechunked to multiples of the factor,
    any other chunking; each channel chunk grows by ``rH * rW``.

    Examples
    --------
    >>> import dask.array as da, numpy as np, numbaconv.dask
    >>> y = numbaconv.dask.pixel_unshuffle(da.ones((1, 2, 6, 4), chunks=(1, 1, 3, 4)), 2)
    >>> y.chunks
    ((1,), (4, 4), (2, 1), (2,))
    """
    op = "pixel_unshuffle"
    _check_dask(op, x, out, stream)
    _movable(op, x)
    pixel_unshuffle_params(op, x.shape, downscale_factor, layout)
    rh, rw = int_tuple(op, "downscale_factor", downscale_factor, 2, 1)
    c, h, w = _pixel_axes(x, layout)
    sizes = {c: lambda n: n * rh * rw, h: lambda n: n // rh, w: lambda n: n // rw}
    rechunk = {h: _group_chunks(x.chunks[h], rh), w: _group_chunks(x.chunks[w], rw)}
    return _blockwise(x, _shuffle_ops.pixel_unshuffle, rechunk, sizes, downscale_factor=(rh, rw), layout=layout)


# ---- workers: Numba's threads and compiled kernels on every dask.distributed worker ----

# What setup_workers set in this process: "numba_threads" (each block applies it), "warmup_steps".
WORKER_SETUP: dict[str, int] = {}


def _worker_threads() -> None:
    """Numba keeps its thread count per calling thread (thread-local storage, inherited by no other thread), so
    each block sets the count setup_workers chose for this worker on whichever executor thread runs it."""
    threads = WORKER_SETUP.get("numba_threads")
    if threads is not None:
        import numba

        if numba.get_num_threads() != threads:
            numba.set_num_threads(threads)


def _on_worker(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn` as a block function: the worker's Numba thread count applied first."""

    @functools.wraps(fn)
    def block(*args, **kwargs):
        _worker_threads()
        return fn(*args, **kwargs)

    return block


def setup_workers(
    client: Any,
    *,
    threads: int | None = None,
    warmup: bool = True,
    ops: Sequence[str] = FAMILIES,
    dtypes: Sequence[str] = DTYPES,
    layouts: Sequence[str] = LAYOUTS,
) -> dict[str, dict[str, int]]:
    """Give every ``dask.distributed`` worker of `client` its Numba thread count and compiled kernels, now and on
    every worker that joins later (a ``distributed.WorkerPlugin``, registered as ``"numbaconv"``; registering
    again replaces it).

    Parameters
    ----------
    client : distributed.Client
    threads : int, optional
        Numba threads per worker thread. Default: the cores of the worker's host (``dask.system.CPU_COUNT``,
        affinity and cgroup quota counted) over the threads of every worker on that host when it sets up (itself
        included), at least 1, so that worker threads x Numba threads is about the cores. At most the worker's
        ``NUMBA_NUM_THREADS``, which caps the pool Numba starts. Numba's count is per thread: each numbaconv.dask
        block applies it on the executor thread that runs it.
    warmup : bool
        Compile (or load from the on-disk cache) the kernels of `ops` x `dtypes` x `layouts` on each worker
        before returning (:func:`numbaconv.warmup.warmup`), so that no task pays a compile; it runs off the
        worker's event loop.
    ops, dtypes, layouts
        As :func:`numbaconv.warmup.warmup`: families of ``"conv"``, ``"transpose"``, ``"pool"``, ``"unpool"``,
        ``"shuffle"``; ``"float32"``, ``"float64"``; ``"first"``, ``"last"``.

    Returns
    -------
    dict
        Per worker address: ``{"numba_threads": n, "warmup_steps": k}``.

    Examples
    --------
    >>> from distributed import Client, LocalCluster  # doctest: +SKIP
    >>> client = Client(LocalCluster(n_workers=2, threads_per_worker=1))  # doctest: +SKIP
    >>> numbaconv.dask.setup_workers(client, ops=["conv", "pool"], dtypes=["float32"])  # doctest: +SKIP
    {'tcp://127.0.0.1:40331': {'numba_threads': 2, 'warmup_steps': 30}, ...}
    """
    plan(ops, dtypes, layouts)  # the names checked here, before any worker runs them
    if threads is not None and (not isinstance(threads, int) or isinstance(threads, bool) or threads < 1):
        raise ValueError(f"setup_workers: threads={threads!r} must be a positive int (or None: the cores' share)")
    from ._dask_workers import NumbaconvWorkers  # imports distributed, an optional dependency

    plugin = NumbaconvWorkers(threads, warmup, tuple(ops), tuple(dtypes), tuple(layouts))
    client.register_plugin(plugin, name="numbaconv")
    return client.run(_worker_report)


def _worker_report() -> dict[str, int]:
    return dict(WORKER_SETUP)
