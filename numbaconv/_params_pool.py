"""Shape logic of pooling, unpooling and interpolation: one frozen params object per call.

Pure Python and NumPy, no Numba (as numbaconv/_params.py): every rule of max/avg pooling, max unpooling,
unpooling and interpolation is checked here, with the message the user sees, before any kernel is chosen.
The params are hashable, so the launchers cache their index tables, divisors and gather tables per geometry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._params import (
    CHANNELS_FIRST,
    check_extent,
    index_map,
    int_tuple,
    is_int,
    join_shape,
    pad3,
    padding_pairs,
    show,
    spatial_layout,
    split_shape,
)

UNPOOL_MODES = ("nearest", "bed_of_nails")
# The interpolating modes and the number of spatial dims each takes (torch's rule: linear reads (N, C, W), ...).
SMOOTH_MODES = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}
INTERPOLATE_MODES = ("nearest", "nearest_exact", *SMOOTH_MODES)
RESIZE_MODES = ("nearest", "bilinear", "bicubic")
CUBIC_A = -0.75  # the bicubic kernel's constant: torch's (and OpenCV's) choice

POOL_SIZE_FORMULA = (
    "out = floor((in + pad_lo + pad_hi - dilation * (kernel - 1) - 1) / stride) + 1 (ceil "
    "instead of floor with ceil_mode=True)"
)
UNPOOL_SIZE_FORMULA = "(in - 1) * stride - pad_lo - pad_hi + kernel"


# ---- pooling ----


class PlaneShape:
    """`nd` and `out_shape` of the geometry dataclasses below, from their batch, channels, in_spatial, out_spatial
    and channels_last fields."""

    batch: int
    channels: int
    in_spatial: tuple[int, ...]
    out_spatial: tuple[int, ...]
    channels_last: bool

    @property
    def nd(self) -> int:
        return len(self.in_spatial)

    @property
    def out_shape(self) -> tuple[int, ...]:
        return join_shape(self.batch, self.channels, self.out_spatial, self.channels_last)


@dataclass(frozen=True)
class PoolParams(PlaneShape):
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

    def _dims(self):
        return zip(
            self.in_spatial, self.out_spatial, self.kernel, self.stride, self.dilation, self.padding, strict=False
        )

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


def check_bool(op: str, name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{op}: {name}={value!r} must be a bool")
    return bool(value)


def _pool_size(
    op: str, dim: int, size: int, kernel: int, stride: int, dilation: int, pad: tuple[int, int], ceil_mode: bool
) -> int:
    span = size + pad[0] + pad[1] - dilation * (kernel - 1) - 1
    # With ceil_mode a window longer than the (padded) input still gives one output, as torch: span may be < 0.
    out = (-(-span // stride) if ceil_mode else span // stride) + 1
    # torch's rule: a last ceil_mode window that would start inside the right padding is dropped.
    if ceil_mode and (out - 1) * stride >= size + pad[0]:
        out -= 1
    if out < 1:
        raise ValueError(
            f"{op}: output size < 1 along spatial dim {dim}: {POOL_SIZE_FORMULA} with in={size}, "
            f"pad=({pad[0]}, {pad[1]}), dilation={dilation}, kernel={kernel}, stride={stride}"
        )
    return check_extent(op, f"output size along spatial dim {dim}", out)


def _check_windows(
    op: str, dim: int, size: int, out: int, kernel: int, stride: int, dilation: int, pad_lo: int
) -> None:
    """Every window must read an input element; with dilation > input size a window's taps can straddle it."""
    taps = index_map(size, out, kernel, stride, dilation, pad_lo, "zeros")
    empty = np.flatnonzero((taps < 0).all(axis=1))
    if empty.size:
        o = int(empty[0])
        positions = [o * stride - pad_lo + j * dilation for j in range(kernel)]
        raise ValueError(
            f"{op}: window {o} along spatial dim {dim} reads no input element: its taps at "
            f"{positions} all miss the input [0, {size}) (dilation={dilation} exceeds the input "
            f"size); use less padding or a smaller dilation"
        )


def pool_params(
    op: str,
    nd: int,
    x_shape: tuple[int, ...],
    kernel_size,
    stride=None,
    padding=0,
    dilation=1,
    ceil_mode=False,
    layout=None,
) -> PoolParams:
    """Check every rule of an `nd`-d pooling on this input shape and return its params."""
    layout = CHANNELS_FIRST[nd] if layout is None else layout
    channels_last = spatial_layout(op, layout, nd)
    if len(x_shape) != nd + 2:
        raise ValueError(
            f"{op}: input must be {nd + 2}-d ({layout}) or {nd + 1}-d unbatched, "
            f"got {len(x_shape)}-d shape {tuple(x_shape)}"
        )
    batch, channels, in_spatial = split_shape(tuple(x_shape), channels_last)
    if any(n < 1 for n in in_spatial):
        raise ValueError(f"{op}: input shape {tuple(x_shape)} ({layout}) must have non-empty spatial dims")
    kernel = int_tuple(op, "kernel_size", kernel_size, nd, 1)
    stride = kernel if stride is None else int_tuple(op, "stride", stride, nd, 1)
    dilation = int_tuple(op, "dilation", dilation, nd, 1)
    ceil_mode = check_bool(op, "ceil_mode", ceil_mode)
    pads = padding_pairs(op, padding, nd, kernel, stride, dilation, in_spatial)
    for dim, (k, d, pad) in enumerate(zip(kernel, dilation, pads, strict=False)):
        extent = d * (k - 1) + 1
        if max(pad) >= extent:
            raise ValueError(
                f"{op}: padding {pad} along spatial dim {dim} must be smaller than the dilated "
                f"kernel extent dilation * (kernel - 1) + 1 = {extent} on each side, so that no "
                f"window lies wholly in padding"
            )
    out_spatial = tuple(
        _pool_size(op, i, *args, ceil_mode)
        for i, args in enumerate(zip(in_spatial, kernel, stride, dilation, pads, strict=False))
    )
    dims = zip(in_spatial, out_spatial, kernel, stride, dilation, pads, strict=False)
    for dim, (n, o, k, s, d, pad) in enumerate(dims):
        _check_windows(op, dim, n, o, k, s, d, pad[0])
    return PoolParams(
        op=op,
        batch=batch,
        channels=channels,
        in_spatial=in_spatial,
        kernel=kernel,
        stride=stride,
        dilation=dilation,
        padding=pads,
        ceil_mode=ceil_mode,
        out_spatial=out_spatial,
        channels_last=channels_last,
    )


def avg_options(op: str, count_include_pad, divisor_override) -> tuple[bool, int | None]:
    """(count_include_pad, divisor_override) of average pooling, checked."""
    count_include_pad = check_bool(op, "count_include_pad", count_include_pad)
    if divisor_override is not None and not (is_int(divisor_override) and divisor_override > 0):
        raise ValueError(f"{op}: divisor_override={show(divisor_override)!r} must be None or a positive int")
    return count_include_pad, None if divisor_override is None else int(divisor_override)


# ---- adaptive pooling ----

ADAPTIVE_DTYPES = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))


def adaptive_windows(size: int, out: int) -> tuple[np.ndarray, np.ndarray]:
    """torch's adaptive windows along one axis: output o pools input [start[o], end[o]) = [floor(o * size / out),
    ceil((o + 1) * size / out)). Neighbours overlap when out does not divide size; with out > size some input
    elements feed several outputs. Every window holds at least one element."""
    o = np.arange(out, dtype=np.int64)
    return o * size // out, -(-(o + 1) * size // out)


@dataclass(frozen=True)
class AdaptivePoolParams(PlaneShape):
    """Normalised geometry of one adaptive pooling call: `adaptive_windows` along each spatial dim.

    Besides its own `bounds` it offers what the pooling launchers read of a PoolParams (`nd`, `channels_last`,
    `index_maps`, `divisors`), so channels-last data and CUDA arrays run the pooling kernels on these windows.
    """

    op: str
    batch: int
    channels: int
    in_spatial: tuple[int, ...]
    out_spatial: tuple[int, ...]
    channels_last: bool = False

    def _windows(self) -> list[tuple[np.ndarray, np.ndarray]]:
        return [adaptive_windows(n, o) for n, o in zip(self.in_spatial, self.out_spatial, strict=False)]

    def bounds(self) -> tuple[np.ndarray, ...]:
        """Three (out, 2) int64 tables of [start, end) per output, padded to 3 spatial dims."""
        tables = [np.stack(w, axis=1) for w in self._windows()]
        return tuple([np.array([[0, 1]], dtype=np.int64)] * (3 - self.nd) + tables)

    def index_maps(self) -> tuple[np.ndarray, ...]:
        """Three (out, longest window) input-index tables, -1 past each window's end, padded to 3 spatial dims:
        the pooling kernels' tables, in which -1 (padding there) never wins and is never counted."""
        maps = []
        for start, end in self._windows():
            taps = start[:, None] + np.arange(int((end - start).max()))[None, :]
            maps.append(np.where(taps < end[:, None], taps, -1))
        return tuple([np.zeros((1, 1), dtype=np.int64)] * (3 - self.nd) + maps)

    def divisors(self, count_include_pad: bool, divisor_override, dtype) -> tuple[np.ndarray, ...]:
        """Per-dim window lengths, padded to 3 dims: their product divides each window's sum.

        The signature is PoolParams.divisors', so that the average-pooling launchers take these params; an
        adaptive window holds no padding and has no override, so the two options change nothing.
        """
        lengths = [(end - start).astype(dtype) for start, end in self._windows()]
        return tuple([np.ones(1, dtype=dtype)] * (3 - self.nd) + lengths)


def check_float_input(op: str, dtype) -> None:
    """Adaptive pooling is defined for floating-point input only, as in torch (integer input is refused there)."""
    if np.dtype(dtype) not in ADAPTIVE_DTYPES:
        raise TypeError(
            f"{op}: input dtype {dtype} is not supported; use float16, float32 or float64 (adaptive pooling "
            f"of integers is not defined, as in torch)"
        )


def _adaptive_output_size(op: str, nd: int, output_size, in_spatial: tuple[int, ...]) -> tuple[int, ...]:
    """`output_size` (an int, or `nd` entries each an int or None: the input's size) as `nd` positive ints."""
    items = [output_size] * nd if is_int(output_size) else output_size
    if not isinstance(items, (tuple, list)) or not all(v is None or is_int(v) for v in items):
        raise TypeError(
            f"{op}: output_size={show(output_size)!r} must be an int or a sequence of {nd} entries, each an int "
            f"or None (None keeps the input's size)"
        )
    if len(items) != nd:
        raise ValueError(
            f"{op}: output_size={show(output_size)!r} must be an int or a sequence of {nd} entries (one per "
            f"spatial dim), got {len(items)}"
        )
    sizes = tuple(n if v is None else int(v) for v, n in zip(items, in_spatial, strict=False))
    for dim, size in enumerate(sizes):
        if size < 1:
            raise ValueError(
                f"{op}: output_size={show(output_size)!r} must be positive (or None: the input's size) along "
                f"every spatial dim, got {size} along spatial dim {dim}"
            )
        check_extent(op, f"output size along spatial dim {dim}", size)
    return sizes


def adaptive_pool_params(op: str, nd: int, x_shape: tuple[int, ...], output_size, layout=None) -> AdaptivePoolParams:
    """Check an `nd`-d adaptive pooling of this input shape to `output_size` and return its params."""
    layout, channels_last = _layout(op, nd, x_shape, layout)
    batch, channels, in_spatial = split_shape(tuple(x_shape), channels_last)
    if any(n < 1 for n in in_spatial):
        raise ValueError(f"{op}: input shape {tuple(x_shape)} ({layout}) must have non-empty spatial dims")
    return AdaptivePoolParams(
        op=op,
        batch=batch,
        channels=channels,
        in_spatial=in_spatial,
        out_spatial=_adaptive_output_size(op, nd, output_size, in_spatial),
        channels_last=channels_last,
    )


# ---- max unpooling ----


@dataclass(frozen=True)
class MaxUnpoolParams(PlaneShape):
    """Normalised geometry of one max_unpool call: x (and indices) of `in_spatial`, a result of `out_spatial`."""

    op: str
    batch: int
    channels: int
    in_spatial: tuple[int, ...]
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    padding: tuple[tuple[int, int], ...]
    out_spatial: tuple[int, ...]
    channels_last: bool = False

    @property
    def plane(self) -> int:
        """Elements of one (n, c) output plane: the indices must lie in [0, plane)."""
        return math.prod(self.out_spatial)


def _unpool_output_size(
    op, nd, output_size, default, stride, in_spatial, pads, kernel, batch, channels, layout, channels_last
):
    """The output's spatial size: the default size, or `output_size` checked against torch's rule."""
    if output_size is None:
        for dim, size in enumerate(default):
            if size < 1:
                raise ValueError(
                    f"{op}: output size {size} < 1 along spatial dim {dim}: {UNPOOL_SIZE_FORMULA} "
                    f"with in={in_spatial[dim]}, stride={stride[dim]}, pad={pads[dim]}, "
                    f"kernel={kernel[dim]}"
                )
        return default
    if isinstance(output_size, (tuple, list)) and len(output_size) == nd + 2:
        n, c, spatial = split_shape(tuple(output_size), channels_last)
        if (n, c) != (batch, channels):
            raise ValueError(
                f"{op}: output_size={show(output_size)!r} ({layout}) has batch and channels "
                f"({show(n)}, {show(c)}) but x has ({batch}, {channels})"
            )
        output_size = spatial
    elif not (is_int(output_size) or (isinstance(output_size, (tuple, list)) and len(output_size) == nd)):
        raise TypeError(
            f"{op}: output_size={show(output_size)!r} must be {nd} ints (the spatial size) or "
            f"{nd + 2} ints (the full shape in {layout})"
        )
    sizes = int_tuple(op, "output_size", output_size, nd, 1)
    for dim, (size, d, s) in enumerate(zip(sizes, default, stride, strict=False)):
        if not d - s < size < d + s:
            raise ValueError(
                f"{op}: output_size={sizes} cannot come from this input: along spatial dim {dim} "
                f"it must lie strictly between default - stride = {d - s} and default + stride = "
                f"{d + s}, where default = {UNPOOL_SIZE_FORMULA} = {d} (in={in_spatial[dim]}, "
                f"stride={s}, pad={pads[dim]}, kernel={kernel[dim]})"
            )
    return sizes


def max_unpool_params(
    op: str,
    nd: int,
    x_shape: tuple[int, ...],
    indices_dtype,
    indices_shape: tuple[int, ...],
    kernel_size,
    stride=None,
    padding=0,
    output_size=None,
    layout=None,
) -> MaxUnpoolParams:
    """Check every rule of an `nd`-d max unpooling but the range of the indices (which needs their values)."""
    layout, channels_last = _layout(op, nd, x_shape, layout)
    batch, channels, in_spatial = split_shape(tuple(x_shape), channels_last)
    if any(n < 1 for n in in_spatial):
        raise ValueError(f"{op}: input shape {tuple(x_shape)} ({layout}) must have non-empty spatial dims")
    kernel = int_tuple(op, "kernel_size", kernel_size, nd, 1)
    stride = kernel if stride is None else int_tuple(op, "stride", stride, nd, 1)
    if isinstance(padding, str):
        raise ValueError(
            f"{op}: padding={padding!r}: a padding string depends on the size of the pooled input, "
            f"which max_unpool does not know; pass the padding as numbers (pool_output_shape's "
            f"pairs) or give output_size"
        )
    pads = padding_pairs(op, padding, nd, kernel, stride, (1,) * nd, in_spatial)
    default = tuple(
        (n - 1) * s - lo - hi + k for n, s, (lo, hi), k in zip(in_spatial, stride, pads, kernel, strict=False)
    )
    out_spatial = _unpool_output_size(
        op, nd, output_size, default, stride, in_spatial, pads, kernel, batch, channels, layout, channels_last
    )
    if np.dtype(indices_dtype).kind not in "iu":
        raise TypeError(
            f"{op}: indices dtype {indices_dtype} must be an integer dtype (max_pool{nd}d with "
            f"return_indices=True gives int64)"
        )
    if tuple(indices_shape) != tuple(x_shape):
        raise ValueError(f"{op}: indices.shape={tuple(indices_shape)} must equal x.shape={tuple(x_shape)}")
    return MaxUnpoolParams(
        op=op,
        batch=batch,
        channels=channels,
        in_spatial=in_spatial,
        kernel=kernel,
        stride=stride,
        padding=pads,
        out_spatial=tuple(out_spatial),
        channels_last=channels_last,
    )


# ---- gathers: unpool and interpolate ----


@dataclass(frozen=True)
class ResizeGeometry(PlaneShape):
    """What a gather and an interpolation share: x's batch, channels and spatial size, the result's spatial size
    and the layout of both."""

    op: str
    batch: int
    channels: int
    in_spatial: tuple[int, ...]
    out_spatial: tuple[int, ...]
    channels_last: bool


def _geometry(op: str, x_shape, channels_last: bool, out_spatial) -> dict:
    """The `ResizeGeometry` fields of a resize of `x_shape` to `out_spatial`."""
    batch, channels, in_spatial = split_shape(tuple(x_shape), channels_last)
    return dict(
        op=op,
        batch=batch,
        channels=channels,
        in_spatial=in_spatial,
        out_spatial=tuple(out_spatial),
        channels_last=channels_last,
    )


@dataclass(frozen=True)
class GatherParams(ResizeGeometry):
    """One nearest gather: out[..., o, ...] = x[..., tables[dim][o], ...] per spatial dim (-1 = a zero).

    unpool and interpolate are both this; the tables are tuples of ints, so the params are hashable and the
    launchers keep one copy of the tables per geometry.
    """

    tables: tuple[tuple[int, ...], ...]


def check_copy_dtype(op: str, dtype) -> None:
    """The gather kernels move bits: any bool, integer or float dtype of 1, 2, 4 or 8 bytes."""
    dtype = np.dtype(dtype)
    if dtype.kind not in "biuf" or dtype.itemsize not in (1, 2, 4, 8):
        raise TypeError(
            f"{op}: input dtype {dtype} is not supported; use a bool, integer or float dtype of 1, 2, 4 or 8 bytes"
        )


def check_float_dtype(op: str, mode: str, dtype) -> None:
    """The interpolating modes weigh values: float16, float32 or float64 (the nearest modes copy any dtype)."""
    dtype = np.dtype(dtype)
    if dtype.kind != "f" or dtype.itemsize not in (2, 4, 8):
        raise TypeError(
            f"{op}: mode={mode!r} needs float16, float32 or float64 input, got {dtype}; the nearest modes "
            f"copy any dtype"
        )


def _layout(op: str, nd: int, x_shape: tuple[int, ...], layout) -> tuple[str, bool]:
    layout = CHANNELS_FIRST[nd] if layout is None else layout
    channels_last = spatial_layout(op, layout, nd)
    if len(x_shape) != nd + 2:
        raise ValueError(
            f"{op}: input must be {nd + 2}-d ({layout}) or {nd + 1}-d unbatched, "
            f"got {len(x_shape)}-d shape {tuple(x_shape)}"
        )
    return layout, channels_last


def _gather_params(op, x_shape, channels_last, out_spatial, tables) -> GatherParams:
    tables = tuple(tuple(int(i) for i in t) for t in tables)
    return GatherParams(**_geometry(op, x_shape, channels_last, out_spatial), tables=tables)


def unpool_params(
    op: str, nd: int, x_shape: tuple[int, ...], scale_factor=2, mode="nearest", layout=None
) -> GatherParams:
    """Check an `nd`-d unpooling by integer `scale_factor` and return its gather."""
    layout, channels_last = _layout(op, nd, x_shape, layout)
    scale = int_tuple(op, "scale_factor", scale_factor, nd, 1)
    if mode not in UNPOOL_MODES:
        raise ValueError(f"{op}: mode={mode!r} is not one of {', '.join(map(repr, UNPOOL_MODES))}")
    _, _, in_spatial = split_shape(tuple(x_shape), channels_last)
    out_spatial = tuple(
        check_extent(op, f"output size {n} * {s} along spatial dim {dim}", n * s)
        for dim, (n, s) in enumerate(zip(in_spatial, scale, strict=False))
    )
    tables = []
    for o, s in zip(out_spatial, scale, strict=False):
        dst = np.arange(o)
        tables.append(dst // s if mode == "nearest" else np.where(dst % s == 0, dst // s, -1))
    return _gather_params(op, x_shape, channels_last, out_spatial, tables)


def _scale_factors(op: str, scale_factor, nd: int) -> tuple[float, ...]:
    def real(v):
        return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))

    items = [scale_factor] * nd if real(scale_factor) else scale_factor
    if not isinstance(items, (tuple, list)) or len(items) != nd or not all(real(v) for v in items):
        raise TypeError(f"{op}: scale_factor={show(scale_factor)!r} must be a number or a sequence of {nd} numbers")
    items = tuple(float(v) for v in items)
    if not all(math.isfinite(v) and v > 0 for v in items):
        raise ValueError(f"{op}: scale_factor={show(scale_factor)!r} must be positive and finite")
    return items


def _nearest_sources(size: int, out: int, scale: np.float32, exact: bool) -> np.ndarray:
    """Source index of each output, with torch's float32 arithmetic (see `numbaconv.interpolate`)."""
    dst = np.arange(out)
    if exact:
        src = np.floor(((dst + 0.5) * np.float64(scale)).astype(np.float32))
    else:
        src = np.floor(dst.astype(np.float32) * scale)
    return np.minimum(src.astype(np.int64), size - 1)


# ---- interpolation: linear and cubic ----


@dataclass(frozen=True)
class InterpolateParams(ResizeGeometry):
    """One linear or cubic interpolation, separable over the spatial dims (2 taps per dim, 4 for bicubic):

        out[n, c, od, oh, ow] = sum_a wd[od, a] * sum_b wh[oh, b] * sum_k ww[ow, k] * x[n, c, iz, iy, ix]

    with iz = md[od, a], iy = mh[oh, b], ix = mw[ow, k] from per-dim (out, taps) index and weight tables. The
    weights depend on the compute dtype (torch computes the source coordinates in it), so `tables(dtype)` builds
    them and the launchers cache them per (params, dtype).
    """

    cubic: bool
    align_corners: bool
    # The scale_factor per dim where torch's scale is 1 / scale_factor; None where it is in / out.
    factors: tuple[float | None, ...]

    def dim_tables(self, dtype) -> list[tuple[np.ndarray, np.ndarray]]:
        """The (index, weight) tables of each spatial dim (`interpolation_taps`)."""
        return [
            interpolation_taps(n, o, self.align_corners, f, np.dtype(dtype), self.cubic)
            for n, o, f in zip(self.in_spatial, self.out_spatial, self.factors, strict=True)
        ]

    def tables(self, dtype) -> tuple[np.ndarray, ...]:
        """(md, wd, mh, wh, mw, ww), padded to 3 dims by a single tap of weight 1 at index 0."""
        one = (np.zeros((1, 1), np.int64), np.ones((1, 1), np.dtype(dtype)))
        return tuple(a for pair in [one] * (3 - self.nd) + self.dim_tables(dtype) for a in pair)


@dataclass(frozen=True)
class InterpolatePart(InterpolateParams):
    """Outputs ``first_out + [0, out_spatial)`` of the interpolation `whole`, read from an input whose spatial dims
    start at ``first_in`` of whole's input: whole's tables, sliced and shifted, so that every output has the taps
    and weights it has in the whole call (numbaconv.dask's blocks; tables computed for the part's own sizes would
    differ in the last bits)."""

    whole: InterpolateParams
    first_in: tuple[int, ...]
    first_out: tuple[int, ...]

    def dim_tables(self, dtype) -> list[tuple[np.ndarray, np.ndarray]]:
        dims = zip(self.whole.dim_tables(dtype), self.first_in, self.first_out, self.out_spatial, strict=True)
        return [(index[o : o + n] - i, weight[o : o + n]) for (index, weight), i, o, n in dims]


def resize_part(
    params: GatherParams | InterpolateParams, x_shape, first_in, first_out, out_spatial
) -> GatherParams | InterpolateParams:
    """The part of the resize `params` (`interpolate_params` of a whole array) that an input of `x_shape` holding
    whole's input from `first_in` on computes: outputs ``first_out + [0, out_spatial)`` of each spatial dim, with
    the source tables of the whole call (-1, a zero, stays -1). The caller ensures every source lies in x."""
    if isinstance(params, GatherParams):
        dims = zip(params.tables, first_in, first_out, out_spatial, strict=True)
        tables = [[t - i if t >= 0 else -1 for t in table[o : o + n]] for table, i, o, n in dims]
        return _gather_params(params.op, x_shape, params.channels_last, out_spatial, tables)
    return InterpolatePart(
        **_geometry(params.op, x_shape, params.channels_last, out_spatial),
        cubic=params.cubic,
        align_corners=params.align_corners,
        factors=params.factors,
        whole=params,
        first_in=tuple(first_in),
        first_out=tuple(first_out),
    )


def _cubic_near(x, a):
    """Keys' cubic convolution kernel for |x| <= 1 (torch's cubic_convolution1)."""
    return ((a + 2) * x - (a + 3)) * x * x + 1


def _cubic_far(x, a):
    """Keys' cubic convolution kernel for 1 <= |x| <= 2 (torch's cubic_convolution2)."""
    return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a


def interpolation_taps(
    size: int, out: int, align_corners: bool, factor: float | None, dtype, cubic: bool
) -> tuple[np.ndarray, np.ndarray]:
    """(index, weight) tables of one dim, (out, 2) for linear or (out, 4) for cubic, in torch's arithmetic
    (aten/src/ATen/native/UpSample.h, its CPU kernels) carried out in `dtype`:

    - scale = (size - 1) / (out - 1) with align_corners (0 for a single output), else 1 / factor when a scale
      factor is in force, else size / out;
    - src = scale * dst with align_corners, else scale * (dst + 0.5) - 0.5, raised to 0 for linear only;
    - i = min(floor(src), size - 1) (the floor taken in float32, as torch's floorf), t = clip(src - i, 0, 1);
    - linear: inputs i and min(i + 1, size - 1), weights 1 - t and t; where size == out the dim is copied (input
      dst, weight 1), as torch's CPU kernels do even when 1 / factor != 1;
    - cubic: inputs i - 1 .. i + 2 clamped to [0, size - 1], weights Keys' kernel (A = -0.75) at 1 + t, t,
      1 - t, 2 - t.
    """
    ft = np.dtype(dtype).type
    dst = np.arange(out).astype(ft)
    if align_corners:
        scale = ft(size - 1) / ft(out - 1) if out > 1 else ft(0)
        src = scale * dst
    else:
        scale = ft(1.0 / factor) if factor is not None else ft(size) / ft(out)
        src = scale * (dst + ft(0.5)) - ft(0.5)
        if not cubic:
            src = np.maximum(src, ft(0))
    low = np.minimum(np.floor(src.astype(np.float32)).astype(np.int64), size - 1)
    t = np.clip(src - low.astype(ft), ft(0), ft(1))
    one = ft(1)
    if cubic:
        a = ft(CUBIC_A)
        weight = [_cubic_far(t + one, a), _cubic_near(t, a), _cubic_near(one - t, a), _cubic_far(one - t + one, a)]
        return np.clip(low[:, None] + np.arange(-1, 3), 0, size - 1), np.stack(weight, axis=1).astype(ft)
    if size == out:
        low, t = np.arange(out), np.zeros(out, ft)
    return np.stack([low, low + (low < size - 1)], axis=1), np.stack([one - t, t], axis=1).astype(ft)


def _align_corners(op: str, mode: str, align_corners) -> bool:
    """align_corners of an interpolating mode (None means False); with a nearest mode it must be None, as torch."""
    if mode in SMOOTH_MODES:
        return False if align_corners is None else check_bool(op, "align_corners", align_corners)
    if align_corners is not None:
        raise ValueError(
            f"{op}: align_corners={show(align_corners)!r} applies only to the interpolating modes "
            f"{', '.join(map(repr, SMOOTH_MODES))}; leave it None with mode={mode!r}"
        )
    return False


def interpolate_params(
    x_shape: tuple[int, ...],
    size=None,
    scale_factor=None,
    mode="nearest",
    layout=None,
    *,
    align_corners=None,
    recompute_scale_factor=None,
    op: str = "interpolate",
) -> GatherParams | InterpolateParams:
    """Check an `interpolate` call and return its nearest gather or its linear / cubic interpolation."""
    nd = len(x_shape) - 2
    if nd not in (1, 2, 3):
        raise ValueError(
            f"{op}: input must be 3-, 4- or 5-d (N, C, *spatial), got {len(x_shape)}-d shape {tuple(x_shape)}"
        )
    if mode not in INTERPOLATE_MODES + ("nearest-exact",):
        raise ValueError(f"{op}: mode={mode!r} is not one of {', '.join(map(repr, INTERPOLATE_MODES))}")
    align_corners = _align_corners(op, mode, align_corners)
    if mode in SMOOTH_MODES and nd != SMOOTH_MODES[mode]:
        want = SMOOTH_MODES[mode]
        raise ValueError(
            f"{op}: mode={mode!r} needs {want + 2}-d input ({want} spatial dims), got {len(x_shape)}-d shape "
            f"{tuple(x_shape)}"
        )
    layout, channels_last = _layout(op, nd, x_shape, layout)
    if (size is None) == (scale_factor is None):
        raise ValueError(
            f"{op}: pass exactly one of size and scale_factor (got size={show(size)!r}, "
            f"scale_factor={show(scale_factor)!r})"
        )
    recompute = recompute_scale_factor is not None and check_bool(op, "recompute_scale_factor", recompute_scale_factor)
    if recompute and size is not None:
        raise ValueError(f"{op}: recompute_scale_factor=True is not meaningful with an explicit size")
    _, _, in_spatial = split_shape(tuple(x_shape), channels_last)
    if any(n < 1 for n in in_spatial):
        raise ValueError(f"{op}: input shape {tuple(x_shape)} ({layout}) must have non-empty spatial dims")
    if size is not None:
        out_spatial = int_tuple(op, "size", size, nd, 1)
        factors: tuple[float | None, ...] = (None,) * nd
    else:
        given = _scale_factors(op, scale_factor, nd)
        out_spatial = tuple(math.floor(n * f) for n, f in zip(in_spatial, given, strict=False))
        for dim, (n, f, o) in enumerate(zip(in_spatial, given, out_spatial, strict=False)):
            if o < 1:
                raise ValueError(
                    f"{op}: scale_factor={show(scale_factor)!r} gives output size floor({n} * {f}) "
                    f"= {o} < 1 along spatial dim {dim}"
                )
            check_extent(op, f"output size floor({n} * {f}) along spatial dim {dim}", o)
        # recompute_scale_factor=True: torch forgets the factors once the size is known, so the scale is in / out
        factors = (None,) * nd if recompute else given
    if mode in SMOOTH_MODES:
        geometry = _geometry(op, x_shape, channels_last, out_spatial)
        return InterpolateParams(**geometry, cubic=mode == "bicubic", align_corners=align_corners, factors=factors)
    scales = [
        np.float32(n) / np.float32(o) if f is None else np.float32(1.0 / f)
        for n, o, f in zip(in_spatial, out_spatial, factors, strict=False)
    ]
    exact = mode != "nearest"
    tables = [_nearest_sources(n, o, s, exact) for n, o, s in zip(in_spatial, out_spatial, scales, strict=False)]
    return _gather_params(op, x_shape, channels_last, out_spatial, tables)


def resize_interpolation(op: str, x_shape, scale: tuple[int, ...], mode, align_corners, layout):
    """resize_conv2d's upsampling by the integer `scale`: None for "nearest" (folded into the conv's index
    tables), else the bilinear or bicubic interpolation of x, as ``interpolate(x, scale_factor=scale, ...)``."""
    if mode not in RESIZE_MODES:
        raise ValueError(f"{op}: mode={mode!r} is not one of {', '.join(map(repr, RESIZE_MODES))}")
    align_corners = _align_corners(op, mode, align_corners)
    if mode == "nearest":
        return None
    return interpolate_params(x_shape, None, scale, mode, layout, align_corners=align_corners, op=op)
