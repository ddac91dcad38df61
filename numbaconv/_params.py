"""Shape logic for every op: normalise arguments, check the rules, compute output shapes and costs.

Pure Python and NumPy, no Numba: the CPU and GPU paths share one frozen params object per call, and the
rules here are testable without compiling anything. Every error names the op, the argument, the value and
the rule.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ._types import Activation, IntOrTuple, Layout, Padding, PaddingMode

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
PADDING_STRINGS = ("valid", "same", "same_lower", "full")
# Activation name -> the integer code the kernels switch on (see kernels/_epilogue.py).
ACTIVATIONS = {None: 0, "relu": 1, "relu6": 2, "leaky_relu": 3, "sigmoid": 4, "tanh": 5}
CHANNELS_FIRST: dict[int, Layout] = {1: "NCW", 2: "NCHW", 3: "NCDHW"}
CHANNELS_LAST: dict[int, Layout] = {1: "NWC", 2: "NHWC", 3: "NDHWC"}

_SIZE_FORMULA = "out = floor((in + pad_lo + pad_hi - dilation * (kernel - 1) - 1) / stride) + 1"


def is_int(value) -> bool:
    return not isinstance(value, (bool, np.bool_)) and isinstance(value, (int, np.integer))


def show(value):
    """Value as the user would recognise it in a message (NumPy ints shown as plain ints)."""
    if isinstance(value, (tuple, list)):
        return type(value)(show(v) for v in value)
    return int(value) if is_int(value) else value


# Every size, stride, dilation and padding, and every output size, stays below 2**31: index math then never
# overflows, and an argument that big is a mistake, not a request for a terabyte result.
MAX_EXTENT = 2**31 - 1


def check_extent(op: str, what: str, value: int, rule: str = "") -> int:
    """`value` if at most MAX_EXTENT, else a ValueError naming `what`."""
    if value > MAX_EXTENT:
        raise ValueError(f"{op}: {what} = {value} must be at most 2**31 - 1 = {MAX_EXTENT}{rule}")
    return value


def int_tuple(op: str, name: str, value, nd: int, minimum: int) -> tuple[int, ...]:
    """An int or a length-`nd` sequence of ints, each at least `minimum`, as a tuple of `nd` ints. A one-element
    sequence applies to every dim (as torch); a sequence of another length is a ValueError, a non-int a TypeError."""
    items = [value] * nd if is_int(value) else value
    if not isinstance(items, (tuple, list)) or not all(is_int(v) for v in items):
        raise TypeError(f"{op}: {name}={show(value)!r} must be an int or a sequence of {nd} ints")
    if len(items) == 1:
        items = list(items) * nd
    if len(items) != nd:
        raise ValueError(f"{op}: {name}={show(value)!r} must be an int or a sequence of {nd} ints")
    items = tuple(operator.index(v) for v in items)
    if any(v < minimum for v in items):
        rule = "positive" if minimum == 1 else f">= {minimum}"
        raise ValueError(f"{op}: {name}={show(value)!r} must be {rule}")
    for v in items:
        check_extent(op, name, v)
    return items


def same_padding(size: int, kernel: int, stride: int, dilation: int, lower: bool) -> tuple[int, int]:
    """TensorFlow/ONNX SAME: output = ceil(size / stride); the odd extra pixel at the end (or start)."""
    extent = dilation * (kernel - 1) + 1
    total = max((-(-size // stride) - 1) * stride + extent - size, 0)
    small, large = total // 2, total - total // 2
    return (large, small) if lower else (small, large)


def padding_pairs(op: str, padding, nd: int, kernel, stride, dilation, in_spatial) -> tuple[tuple[int, int], ...]:
    """Normalise every padding form (int, per-dim, per-side pairs, or a string) to `nd` (lo, hi) pairs."""
    if isinstance(padding, str):
        if padding not in PADDING_STRINGS:
            raise ValueError(f"{op}: padding={padding!r} is not one of {', '.join(map(repr, PADDING_STRINGS))}")
        if padding == "valid":
            return ((0, 0),) * nd
        if padding == "full":
            return tuple((d * (k - 1),) * 2 for k, d in zip(kernel, dilation, strict=False))
        lower = padding == "same_lower"
        return tuple(
            same_padding(n, k, s, d, lower) for n, k, s, d in zip(in_spatial, kernel, stride, dilation, strict=False)
        )
    if is_int(padding) or (isinstance(padding, (tuple, list)) and all(is_int(p) for p in padding)):
        per_dim = int_tuple(op, "padding", padding, nd, 0)
        return tuple((p, p) for p in per_dim)
    pairs = padding
    ok = (
        isinstance(pairs, (tuple, list))
        and len(pairs) == nd
        and all(isinstance(p, (tuple, list)) and len(p) == 2 and all(is_int(v) for v in p) for p in pairs)
    )
    if not ok:
        raise TypeError(
            f"{op}: padding={show(padding)!r} must be an int, {nd} ints, {nd} (lo, hi) pairs, "
            f"or one of {', '.join(map(repr, PADDING_STRINGS))}"
        )
    pairs = tuple((int(lo), int(hi)) for lo, hi in pairs)
    if any(v < 0 for p in pairs for v in p):
        raise ValueError(f"{op}: padding={pairs!r} must be non-negative")
    for p in pairs:
        for v in p:
            check_extent(op, "padding", v)
    return pairs


def output_size(op: str, dim: int, size: int, kernel: int, stride: int, dilation: int, pad: tuple[int, int]) -> int:
    out = (size + pad[0] + pad[1] - dilation * (kernel - 1) - 1) // stride + 1
    if out < 1:
        raise ValueError(
            f"{op}: output size {out} < 1 along spatial dim {dim}: {_SIZE_FORMULA} with in={size}, "
            f"pad=({pad[0]}, {pad[1]}), dilation={dilation}, kernel={kernel}, stride={stride}"
        )
    return check_extent(op, f"output size along spatial dim {dim}", out)


def shape_nd(op: str, input_shape) -> int:
    """Spatial dims of an (N, C, *spatial) shape, for the shape helpers; a ValueError outside 1..3."""
    nd = len(input_shape) - 2
    if nd not in (1, 2, 3):
        raise ValueError(f"{op}: input_shape={tuple(input_shape)} must have 3, 4 or 5 dims (N, C, *spatial)")
    return nd


def spatial_layout(op: str, layout: str, nd: int) -> bool:
    """True when `layout` is channels-last for `nd` spatial dims; a ValueError for anything else."""
    if layout == CHANNELS_FIRST[nd]:
        return False
    if layout == CHANNELS_LAST[nd]:
        return True
    raise ValueError(
        f"{op}: layout={layout!r} must be {CHANNELS_FIRST[nd]!r} or {CHANNELS_LAST[nd]!r} for {nd}-d input"
    )


def channels_last_any(op: str, layout, ndim: int) -> bool:
    """Layout of an (N, C, *spatial) array with any number of spatial dims; None means channels at dim 1."""
    if layout is None or (ndim == 2 and layout == "NC"):
        return False
    if 1 <= ndim - 2 <= 3:
        return spatial_layout(op, layout, ndim - 2)
    raise ValueError(
        f"{op}: layout={layout!r} does not describe a {ndim}-d input; use layout=None (channels at "
        f"dim 1){' or ' + repr('NC') if ndim == 2 else ''}"
    )


def split_shape(shape: tuple[int, ...], channels_last: bool) -> tuple[int, int, tuple[int, ...]]:
    """(batch, channels, spatial) of an input shape in either layout."""
    if channels_last:
        return shape[0], shape[-1], tuple(shape[1:-1])
    return shape[0], shape[1], tuple(shape[2:])


def join_shape(batch: int, channels: int, spatial: tuple[int, ...], channels_last: bool) -> tuple[int, ...]:
    return (batch, *spatial, channels) if channels_last else (batch, channels, *spatial)


def index_map(
    size: int, out: int, kernel: int, stride: int, dilation: int, pad_lo: int, mode: str, flip: bool = False
) -> np.ndarray:
    """Input index read by tap `k` of output `o`, as an (out, kernel) int64 table; -1 means a zero.

    This is how padding modes are done without a padded copy: the kernels look their input indices up
    here. `flip` reverses the taps (true convolution) at no cost.
    """
    taps = np.arange(kernel)[::-1] if flip else np.arange(kernel)
    pos = np.arange(out)[:, None] * stride - pad_lo + taps[None, :] * dilation
    if mode == "zeros":
        return np.where((pos >= 0) & (pos < size), pos, -1).astype(np.int64)
    if mode == "replicate":
        return np.clip(pos, 0, size - 1).astype(np.int64)
    if mode == "circular":
        return np.mod(pos, size).astype(np.int64)
    # reflect (edge not repeated): period 2 * (size - 1); a size-1 axis reflects onto itself.
    if size == 1:
        return np.zeros_like(pos, dtype=np.int64)
    period = 2 * (size - 1)
    pos = np.mod(pos, period)
    return np.where(pos < size, pos, period - pos).astype(np.int64)


def interior_range(size: int, out: int, kernel: int, stride: int, dilation: int, pad_lo: int) -> tuple[int, int]:
    """Outputs [lo, hi) along one dim whose every tap reads an in-bounds input without remapping."""
    lo = min(-(-pad_lo // stride), out)
    last = size - 1 + pad_lo - dilation * (kernel - 1)
    hi = min(last // stride + 1, out) if last >= 0 else 0
    return lo, max(hi, lo)


class RowInterior(NamedTuple):
    """The plain ints the CPU row kernels take (one compiled signature for every geometry): outputs
    [w_lo, w_hi) of a row read input `ow * stride_w + offset` in bounds for every tap."""

    w_lo: int
    w_hi: int
    stride_w: int


def pad3(values: tuple, fill) -> tuple:
    """Pad a per-dim tuple on the left to 3 spatial dims."""
    return (fill,) * (3 - len(values)) + tuple(values)


class LayerShape:
    """Shape properties every layer's params share (fields batch, in/out_channels, groups, spatial sizes,
    channels_last and activation come from the dataclass that mixes this in)."""

    # Declared for type checkers only: annotations without values make no dataclass fields (this class is not a
    # dataclass), so the fields, their order and their defaults stay those of the dataclass that mixes it in.
    batch: int
    in_channels: int
    out_channels: int
    groups: int
    in_spatial: tuple[int, ...]
    out_spatial: tuple[int, ...]
    channels_last: bool
    activation: str | None

    @property
    def nd(self) -> int:
        return len(self.in_spatial)

    @property
    def in_per_group(self) -> int:
        return self.in_channels // self.groups

    @property
    def out_per_group(self) -> int:
        return self.out_channels // self.groups

    @property
    def out_shape(self) -> tuple[int, ...]:
        return join_shape(self.batch, self.out_channels, self.out_spatial, self.channels_last)

    @property
    def activation_code(self) -> int:
        return ACTIVATIONS[self.activation]


@dataclass(frozen=True)
class ConvParams(LayerShape):
    """Normalised geometry of one convolution call; the CPU and GPU paths both build from it."""

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
    padding_mode: str
    out_spatial: tuple[int, ...]
    channels_last: bool = False
    flip: bool = False
    activation: str | None = None
    negative_slope: float = 0.01

    @property
    def is_depthwise(self) -> bool:
        """Each output channel reads one input channel (groups == in_channels, any channel multiplier)."""
        return self.in_per_group == 1

    @property
    def is_pointwise(self) -> bool:
        return (
            all(k == 1 for k in self.kernel)
            and all(s == 1 for s in self.stride)
            and all(p == (0, 0) for p in self.padding)
        )

    @property
    def macs(self) -> int:
        """Multiply-adds of the whole call (padding taps counted, as every library counts them)."""
        return self.batch * self.out_channels * math.prod(self.out_spatial) * self.in_per_group * math.prod(self.kernel)

    @property
    def flops(self) -> int:
        return 2 * self.macs

    def row_interior(self) -> RowInterior:
        """Outputs [w_lo, w_hi) of a row read input `ow * stride_w + offset` for every tap, in bounds, so kernels
        may copy them without the W table (offset = the table's entry at w_lo)."""
        lo, hi = interior_range(
            self.in_spatial[-1],
            self.out_spatial[-1],
            self.kernel[-1],
            self.stride[-1],
            self.dilation[-1],
            self.padding[-1][0],
        )
        return RowInterior(lo, hi, self.stride[-1])

    @property
    def reads_input_itself(self) -> bool:
        """Whether the index tables read x's own pixels, zero-padded or remapped at its edges only: the plane,
        Winograd and FFT kernels, which build their own padded copy of x instead of using the tables, rely on it.
        False for a resize conv, whose tables read x through the upsampling."""
        return True

    def index_maps(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Three (out, kernel) input-index tables, padded to 3 spatial dims (see `index_map`)."""
        dims = zip(
            self.in_spatial, self.out_spatial, self.kernel, self.stride, self.dilation, self.padding, strict=False
        )
        maps = [index_map(n, o, k, s, d, p[0], self.padding_mode, self.flip) for n, o, k, s, d, p in dims]
        ones = np.zeros((1, 1), dtype=np.int64)
        return tuple([ones] * (3 - self.nd) + maps)


def conv_params(
    op: str,
    nd: int,
    x_shape: tuple[int, ...],
    w_shape: tuple[int, ...],
    *,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
    padding_mode: PaddingMode = "zeros",
    flip: bool = False,
    activation: Activation = None,
    negative_slope: float = 0.01,
    layout: Layout | None = None,
) -> ConvParams:
    """Check every rule of an `nd`-d convolution on these shapes and return its params."""
    layout = CHANNELS_FIRST[nd] if layout is None else layout
    channels_last = spatial_layout(op, layout, nd)
    if len(x_shape) != nd + 2:
        raise ValueError(
            f"{op}: input must be {nd + 2}-d ({layout}) or {nd + 1}-d unbatched, got {len(x_shape)}-d shape {x_shape}"
        )
    if len(w_shape) != nd + 2:
        raise ValueError(
            f"{op}: weight must be {nd + 2}-d (C_out, C_in/groups, *kernel), got {len(w_shape)}-d shape {w_shape}"
        )
    batch, in_channels, in_spatial = split_shape(tuple(x_shape), channels_last)
    out_channels, in_per_group, kernel = w_shape[0], w_shape[1], tuple(w_shape[2:])
    if not is_int(groups) or groups < 1:
        raise ValueError(f"{op}: groups={show(groups)!r} must be a positive integer")
    groups = int(groups)
    if in_channels % groups:
        raise ValueError(f"{op}: groups={groups} must divide in_channels={in_channels}")
    if out_channels % groups:
        raise ValueError(f"{op}: groups={groups} must divide out_channels={out_channels} (weight.shape[0])")
    if in_per_group != in_channels // groups:
        raise ValueError(
            f"{op}: weight.shape[1]={in_per_group} must equal in_channels / groups = "
            f"{in_channels} / {groups} = {in_channels // groups} (input shape {tuple(x_shape)}, "
            f"layout {layout})"
        )
    if any(k < 1 for k in kernel):
        raise ValueError(f"{op}: kernel size {kernel} (weight.shape[2:]) must be positive")
    if any(n < 1 for n in in_spatial) or in_channels < 1:  # batch 0 gives an empty result, as torch
        raise ValueError(f"{op}: input shape {tuple(x_shape)} must have no zero-size dimension")
    if not isinstance(flip, (bool, np.bool_)):
        raise TypeError(f"{op}: flip={flip!r} must be a bool (True: true convolution, False: cross-correlation)")
    stride = int_tuple(op, "stride", stride, nd, 1)
    dilation = int_tuple(op, "dilation", dilation, nd, 1)
    pads = padding_pairs(op, padding, nd, kernel, stride, dilation, in_spatial)
    if padding_mode not in PADDING_MODES:
        raise ValueError(f"{op}: padding_mode={padding_mode!r} is not one of {', '.join(map(repr, PADDING_MODES))}")
    if padding_mode == "reflect":
        for dim, (n, (lo, hi)) in enumerate(zip(in_spatial, pads, strict=False)):
            if max(lo, hi) >= n:
                raise ValueError(
                    f"{op}: reflect padding ({lo}, {hi}) along spatial dim {dim} must be smaller "
                    f"than the input size {n}"
                )
    if activation not in ACTIVATIONS:
        raise ValueError(f"{op}: activation={activation!r} is not one of {', '.join(map(repr, ACTIVATIONS))}")
    if not isinstance(negative_slope, (int, float, np.floating, np.integer)) or isinstance(negative_slope, bool):
        raise TypeError(f"{op}: negative_slope={negative_slope!r} must be a real number")
    out_spatial = tuple(
        output_size(op, i, n, k, s, d, p)
        for i, (n, k, s, d, p) in enumerate(zip(in_spatial, kernel, stride, dilation, pads, strict=False))
    )
    return ConvParams(
        op=op,
        batch=batch,
        in_channels=in_channels,
        out_channels=out_channels,
        groups=groups,
        in_spatial=in_spatial,
        kernel=kernel,
        stride=stride,
        dilation=dilation,
        padding=pads,
        padding_mode=padding_mode,
        out_spatial=out_spatial,
        channels_last=channels_last,
        flip=bool(flip),
        activation=activation,
        negative_slope=float(negative_slope),
    )
