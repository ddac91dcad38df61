"""Shape logic of transpose convolution and resize-conv: pure Python and NumPy, no Numba.

A transpose convolution places input ``i`` through tap ``k`` at position ``i * stride + k * dilation`` of the
full output; ``output_padding`` lengthens its end, then ``pad_lo`` is cropped from its start and ``pad_hi``
from its end. The kernels run it as a gather: output ``o`` reads the inputs
``(o + pad_lo - k * dilation) / stride`` that are whole numbers in range, so every output is written once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np

from ._params import (
    ACTIVATIONS,
    CHANNELS_FIRST,
    ConvParams,
    LayerShape,
    RowInterior,
    check_extent,
    conv_params,
    int_tuple,
    is_int,
    join_shape,
    pad3,
    padding_pairs,
    same_padding,
    show,
    spatial_layout,
    split_shape,
)
from ._types import Activation, IntOrTuple, Layout, Shape, TransposePadding

TRANSPOSE_SIZE_FORMULA = "out = (in - 1) * stride - pad_lo - pad_hi + dilation * (kernel - 1) + output_padding + 1"


def transpose_base_size(size: int, kernel: int, stride: int, dilation: int, pad: tuple[int, int]) -> int:
    """Output length with output_padding = 0."""
    return (size - 1) * stride - pad[0] - pad[1] + dilation * (kernel - 1) + 1


def transpose_padding(
    op: str, padding, nd: int, kernel, stride, dilation, in_spatial
) -> tuple[tuple[tuple[int, int], ...], tuple[int, ...] | None]:
    """(per-side crops, output_padding implied by the padding or None) for every transpose padding form.

    ``"same"`` is the adjoint of conv's ``"same"`` on an input of ``in * stride``: output = in * stride, the
    odd cropped pixel at the end; where the dilated kernel is shorter than the stride, the missing length is
    an implied output_padding.
    """
    if isinstance(padding, str):
        if padding != "same":
            raise ValueError(f"{op}: padding={padding!r} must be 'same', an int, {nd} ints or {nd} (lo, hi) pairs")
        pads = tuple(
            same_padding(n * s, k, s, d, False)
            for n, k, s, d in zip(in_spatial, kernel, stride, dilation, strict=False)
        )
        implied = tuple(
            n * s - transpose_base_size(n, k, s, d, p)
            for n, k, s, d, p in zip(in_spatial, kernel, stride, dilation, pads, strict=False)
        )
        return pads, implied
    rule = f"{op}: padding={show(padding)!r} must be an int, {nd} ints, {nd} (lo, hi) pairs, or 'same'"
    if isinstance(padding, (tuple, list)) and len(padding) not in (1, nd):
        raise ValueError(rule)
    try:
        return padding_pairs(op, padding, nd, kernel, stride, dilation, in_spatial), None
    except TypeError:
        raise TypeError(rule) from None


def _check_output_padding(op: str, output_padding, stride, dilation) -> None:
    for dim, (p, s, d) in enumerate(zip(output_padding, stride, dilation, strict=False)):
        if p >= max(s, d):
            raise ValueError(
                f"{op}: output_padding={output_padding} must be smaller than stride or dilation along "
                f"spatial dim {dim} (output_padding={p}, stride={s}, dilation={d})"
            )


def _spatial_output_size(op: str, output_size, nd: int, channels_last: bool) -> tuple[int, ...]:
    """Spatial sizes from ``output_size``: ``nd`` ints, or a full shape in the call's layout (as torch)."""
    ok = (
        isinstance(output_size, (tuple, list))
        and len(output_size) in (nd, nd + 2)
        and all(is_int(v) for v in output_size)
    )
    if not ok:
        raise TypeError(
            f"{op}: output_size={show(output_size)!r} must be {nd} ints (the spatial size) or a full "
            f"shape of {nd + 2} ints"
        )
    sizes = tuple(int(v) for v in output_size)
    if len(sizes) == nd + 2:
        sizes = split_shape(sizes, channels_last)[2]
    return int_tuple(op, "output_size", sizes, nd, 1)


def solve_output_padding(op: str, sizes, in_spatial, kernel, stride, dilation, pads) -> tuple[int, ...]:
    solved = []
    for dim, (want, n, k, s, d, p) in enumerate(zip(sizes, in_spatial, kernel, stride, dilation, pads, strict=False)):
        low = transpose_base_size(n, k, s, d, p)
        high = low + max(s, d) - 1
        if not low <= want <= high:
            raise ValueError(
                f"{op}: output_size={tuple(sizes)} is unreachable along spatial dim {dim}: {TRANSPOSE_SIZE_FORMULA} "
                f"with in={n}, stride={s}, pad=({p[0]}, {p[1]}), dilation={d}, kernel={k} reaches {low} to {high} "
                f"(output_padding 0 to {high - low})"
            )
        solved.append(want - low)
    return tuple(solved)


def transpose_index_map(size: int, out: int, kernel: int, stride: int, dilation: int, pad_lo: int) -> np.ndarray:
    """Input index that tap ``k`` brings to output ``o``, as an (out, kernel) int64 table; -1 where none does."""
    pos = np.arange(out)[:, None] + pad_lo - np.arange(kernel)[None, :] * dilation
    src = pos // stride
    return np.where((pos % stride == 0) & (src >= 0) & (src < size), src, -1).astype(np.int64)


def transpose_runs(size: int, out: int, kernel: int, stride: int, dilation: int, pad_lo: int) -> np.ndarray:
    """Per tap ``k``: (slot, first input, count): the outputs ``o0 + j * stride`` (j < count) read input
    ``first input + j``.

    Outputs are numbered phase-major, output ``o`` at slot ``(o % stride) * ceil(out / stride) + o // stride``,
    so a tap's outputs are the consecutive slots from ``slot``: the kernels' inner loop is a unit-stride
    multiply-add over 0-based slices whatever the stride.
    """
    per_phase = -(-out // stride)
    runs = np.zeros((kernel, 3), dtype=np.int64)
    for k in range(kernel):
        first_out = (k * dilation - pad_lo) % stride
        first_in = (first_out + pad_lo - k * dilation) // stride
        lo = max(0, -first_in)
        hi = min(size - first_in, -(-(out - first_out) // stride))
        if hi > lo:
            runs[k] = (first_out * per_phase + lo, first_in + lo, hi - lo)
    return runs


def compact_taps(index_map: np.ndarray) -> np.ndarray:
    """The taps that land on each output, packed: (out, width, 2) of (tap, input index), -1 after the last.

    A gather over every tap would test ``kernel`` entries per output where only about
    ``kernel / (stride / gcd(stride, dilation))`` land; the packed rows skip the misses.
    """
    valid = index_map >= 0
    width = max(1, int(valid.sum(axis=1).max(initial=0)))
    table = np.full((index_map.shape[0], width, 2), -1, dtype=np.int64)
    rows, taps = np.nonzero(valid)
    slots = np.cumsum(valid, axis=1)[rows, taps] - 1
    table[rows, slots, 0] = taps
    table[rows, slots, 1] = index_map[rows, taps]
    return table


@dataclass(frozen=True)
class ConvTransposeParams(LayerShape):
    """Normalised geometry of one transpose-convolution call; weight is (C_in, C_out / groups, *kernel)."""

    op: str
    batch: int
    in_channels: int
    out_channels: int
    groups: int
    in_spatial: tuple[int, ...]
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    padding: tuple[tuple[int, int], ...]
    output_padding: tuple[int, ...]
    out_spatial: tuple[int, ...]
    channels_last: bool = False
    activation: str | None = None
    negative_slope: float = 0.01
    # Taps reversed: the adjoint of a conv with flip=True (numbaconv.grad); the forward op has no flip.
    flip: bool = False

    @property
    def macs(self) -> int:
        """Multiply-adds: every input pixel meets every tap of its group's filters (cropped ones included)."""
        return self.batch * self.in_channels * math.prod(self.in_spatial) * self.out_per_group * math.prod(self.kernel)

    @property
    def flops(self) -> int:
        return 2 * self.macs

    def _dims(self):
        return zip(
            self.in_spatial,
            self.out_spatial,
            self.kernel,
            self.stride,
            self.dilation,
            (p[0] for p in self.padding),
            strict=False,
        )

    def index_maps(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Three (out, kernel) gather tables, padded to 3 spatial dims (see `transpose_index_map`)."""
        maps = [self._flipped(transpose_index_map(*dim), axis=1) for dim in self._dims()]
        return tuple([np.zeros((1, 1), dtype=np.int64)] * (3 - self.nd) + maps)

    def runs_w(self) -> np.ndarray:
        """`transpose_runs` of the last spatial dim, which the kernels walk without table look-ups."""
        return self._flipped(transpose_runs(*list(self._dims())[-1]), axis=0)

    def _flipped(self, table: np.ndarray, axis: int) -> np.ndarray:
        """A per-tap table with its taps reversed when `flip`: weight tap k then reads what tap K - 1 - k would."""
        return np.ascontiguousarray(np.flip(table, axis)) if self.flip else table

    def tap_tables(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`compact_taps` of the three `index_maps`: what the CUDA kernel walks per output."""
        md, mh, mw = (compact_taps(m) for m in self.index_maps())
        return md, mh, mw


def conv_transpose_params(
    op: str,
    nd: int,
    x_shape: Shape,
    w_shape: Shape,
    *,
    stride: IntOrTuple = 1,
    padding: TransposePadding = 0,
    output_padding: IntOrTuple = 0,
    groups: int = 1,
    dilation: IntOrTuple = 1,
    output_size: Sequence[int] | None = None,
    activation: Activation = None,
    negative_slope: float = 0.01,
    layout: Layout | None = None,
) -> ConvTransposeParams:
    """Check every rule of an `nd`-d transpose convolution on these shapes and return its params."""
    layout = CHANNELS_FIRST[nd] if layout is None else layout
    channels_last = spatial_layout(op, layout, nd)
    x_shape, w_shape = tuple(x_shape), tuple(w_shape)
    if len(x_shape) != nd + 2:
        raise ValueError(
            f"{op}: input must be {nd + 2}-d ({layout}) or {nd + 1}-d unbatched, got {len(x_shape)}-d shape {x_shape}"
        )
    if len(w_shape) != nd + 2:
        raise ValueError(
            f"{op}: weight must be {nd + 2}-d (C_in, C_out/groups, *kernel), got {len(w_shape)}-d shape {w_shape}"
        )
    batch, in_channels, in_spatial = split_shape(x_shape, channels_last)
    kernel = w_shape[2:]
    if not is_int(groups) or groups < 1:
        raise ValueError(f"{op}: groups={show(groups)!r} must be a positive integer")
    groups = int(groups)
    if in_channels % groups:
        raise ValueError(f"{op}: groups={groups} must divide in_channels={in_channels}")
    if w_shape[0] != in_channels:
        raise ValueError(
            f"{op}: weight.shape[0]={w_shape[0]} must equal in_channels={in_channels} (weight is "
            f"(C_in, C_out/groups, *kernel); input shape {x_shape}, layout {layout})"
        )
    if w_shape[1] < 1 or any(k < 1 for k in kernel):
        raise ValueError(f"{op}: weight.shape={w_shape} must have no zero-size dimension")
    if any(n < 1 for n in in_spatial) or in_channels < 1:  # batch 0 gives an empty result, as torch
        raise ValueError(f"{op}: input shape {x_shape} must have no zero-size dimension")
    stride = int_tuple(op, "stride", stride, nd, 1)
    dilation = int_tuple(op, "dilation", dilation, nd, 1)
    pads, implied = transpose_padding(op, padding, nd, kernel, stride, dilation, in_spatial)
    output_padding = int_tuple(op, "output_padding", output_padding, nd, 0)
    if implied is not None and any(output_padding):
        raise ValueError(
            f"{op}: output_padding={output_padding} must be 0 with padding='same' (the output size is input * stride)"
        )
    if output_size is not None:
        if any(output_padding):
            raise ValueError(f"{op}: pass output_size or output_padding, not both (output_padding={output_padding})")
        sizes = _spatial_output_size(op, output_size, nd, channels_last)
        if implied is not None:
            want = tuple(n * s for n, s in zip(in_spatial, stride, strict=False))
            if sizes != want:
                raise ValueError(f"{op}: output_size={sizes} must be input * stride = {want} with padding='same'")
        else:
            output_padding = solve_output_padding(op, sizes, in_spatial, kernel, stride, dilation, pads)
    if implied is not None:
        output_padding = implied
    else:
        _check_output_padding(op, output_padding, stride, dilation)
    out_spatial = []
    dims = zip(in_spatial, kernel, stride, dilation, pads, output_padding, strict=False)
    for dim, (n, k, s, d, p, q) in enumerate(dims):
        size = transpose_base_size(n, k, s, d, p) + q
        if size < 1:
            raise ValueError(
                f"{op}: output size {size} < 1 along spatial dim {dim}: {TRANSPOSE_SIZE_FORMULA} with "
                f"in={n}, stride={s}, pad=({p[0]}, {p[1]}), dilation={d}, kernel={k}, "
                f"output_padding={q}"
            )
        out_spatial.append(check_extent(op, f"output size along spatial dim {dim}", size))
    if activation not in ACTIVATIONS:
        raise ValueError(f"{op}: activation={activation!r} is not one of {', '.join(map(repr, ACTIVATIONS))}")
    if not isinstance(negative_slope, (int, float, np.floating, np.integer)) or isinstance(negative_slope, bool):
        raise TypeError(f"{op}: negative_slope={negative_slope!r} must be a real number")
    return ConvTransposeParams(
        op=op,
        batch=batch,
        in_channels=in_channels,
        out_channels=w_shape[1] * groups,
        groups=groups,
        in_spatial=in_spatial,
        kernel=kernel,
        stride=stride,
        dilation=dilation,
        padding=pads,
        output_padding=output_padding,
        out_spatial=tuple(out_spatial),
        channels_last=channels_last,
        activation=activation,
        negative_slope=float(negative_slope),
    )


@dataclass(frozen=True)
class ResizeConvParams(ConvParams):
    """A convolution over the nearest-upsampled input, whose index tables read the original input.

    ``in_spatial`` is the upsampled size (all shape logic is conv's); ``scale`` maps an upsampled index back
    to the input pixel it repeats, so no upsampled image is ever built.
    """

    scale: tuple[int, ...] = ()

    def index_maps(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        maps = super().index_maps()
        md, mh, mw = (np.where(m >= 0, m // s, -1) for m, s in zip(maps, pad3(self.scale, 1), strict=False))
        return md, mh, mw

    @property
    def reads_input_itself(self) -> bool:
        return all(s == 1 for s in self.scale)

    def row_interior(self) -> RowInterior:
        """Upsampled W indices are not `ow * stride + offset`: every output goes through the W table."""
        return super().row_interior() if self.scale[-1] == 1 else RowInterior(0, 0, 1)


def resize_conv_params(op: str, x_shape, w_shape, *, scale_factor=2, layout="NCHW", **conv_options) -> ResizeConvParams:
    """Params of a 2-d convolution over ``x`` upsampled (nearest) by an integer ``scale_factor``."""
    nd = 2
    channels_last = spatial_layout(op, layout, nd)
    x_shape = tuple(x_shape)
    if len(x_shape) != nd + 2:
        raise ValueError(
            f"{op}: input must be {nd + 2}-d ({layout}) or {nd + 1}-d unbatched, got {len(x_shape)}-d shape {x_shape}"
        )
    scale = int_tuple(op, "scale_factor", scale_factor, nd, 1)
    batch, channels, spatial = split_shape(x_shape, channels_last)
    up_shape = join_shape(batch, channels, tuple(n * s for n, s in zip(spatial, scale, strict=False)), channels_last)
    params = conv_params(op, nd, up_shape, tuple(w_shape), layout=layout, **conv_options)
    return ResizeConvParams(**{f.name: getattr(params, f.name) for f in fields(params)}, scale=scale)
