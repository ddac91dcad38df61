"""Pure-Python analysis helpers: receptive_field, conv_cost, transpose_overlap, dead_channels.

No kernels and no Numba: shape arithmetic and NumPy reductions that help design and debug a network.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import numpy as np

from ._params import int_tuple, is_int, padding_pairs, show
from ._types import IntOrTuple, Layout

__all__ = [
    "ConvCost",
    "LayerField",
    "ReceptiveFields",
    "TransposeOverlap",
    "conv_cost",
    "dead_channels",
    "receptive_field",
    "transpose_overlap",
]

_LAYER_KEYS = ("kernel_size", "stride", "padding", "dilation", "kind", "name")
_KINDS = ("conv", "pool")


class LayerField(NamedTuple):
    """One row of :func:`receptive_field`: a layer's geometry and its output's receptive field.

    ``size``, ``jump`` and ``start`` are per spatial dim tuples (plain numbers for 1-d stacks).
    """

    name: str
    kernel_size: int | tuple[int, ...]
    stride: int | tuple[int, ...]
    dilation: int | tuple[int, ...]
    padding: tuple[int, int] | tuple[tuple[int, int], ...]
    size: int | tuple[int, ...]
    """Receptive field size of one output, in input pixels."""
    jump: int | tuple[int, ...]
    """Distance in input pixels between adjacent outputs (the product of the strides so far)."""
    start: float | tuple[float, ...]
    """Centre of the first output's receptive field, in input pixel indices (negative: inside padding)."""


def _fmt(value) -> str:
    """3, 3x3, 0.5x-1 for per-dim values."""
    if isinstance(value, tuple):
        return "x".join(_fmt(v) for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def _fmt_padding(pads) -> str:
    """(1,1) for one dim, (1,1)x(0,2) for several."""
    pairs = (pads,) if is_int(pads[0]) else pads
    return "x".join(f"({lo},{hi})" for lo, hi in pairs)


class ReceptiveFields(tuple[LayerField, ...]):
    """The rows of :func:`receptive_field`, one :class:`LayerField` per layer; prints as a table.

    ``size``, ``jump`` and ``start`` are those of the last layer.
    """

    @property
    def size(self) -> int | tuple[int, ...]:
        return self[-1].size

    @property
    def jump(self) -> int | tuple[int, ...]:
        return self[-1].jump

    @property
    def start(self) -> float | tuple[float, ...]:
        return self[-1].start

    def __str__(self) -> str:
        head = ("layer", "kernel", "stride", "dilation", "padding", "size", "jump", "start")
        rows = [head] + [
            (
                r.name,
                _fmt(r.kernel_size),
                _fmt(r.stride),
                _fmt(r.dilation),
                _fmt_padding(r.padding),
                _fmt(r.size),
                _fmt(r.jump),
                _fmt(r.start),
            )
            for r in self
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
        lines = [
            "  ".join(
                cell.rjust(w) if i else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=False))
            )
            for row in rows
        ]
        return "\n".join(lines[:1] + ["-" * len(lines[0])] + lines[1:])

    __repr__ = __str__


def _layer_args(op: str, index: int, layer) -> dict:
    if isinstance(layer, dict):
        unknown = sorted(set(layer) - set(_LAYER_KEYS))
        if unknown:
            raise ValueError(f"{op}: layers[{index}] has unknown keys {unknown}; allowed: {', '.join(_LAYER_KEYS)}")
        if "kernel_size" not in layer:
            raise ValueError(f"{op}: layers[{index}] must give kernel_size")
        args = dict(layer)
    elif isinstance(layer, (tuple, list)) and 1 <= len(layer) <= 4:
        args = dict(zip(("kernel_size", "stride", "padding", "dilation"), layer, strict=False))
    else:
        raise TypeError(
            f"{op}: layers[{index}]={layer!r} must be a dict with kernel_size, stride, padding, "
            f"dilation, kind, name, or a tuple (kernel_size, stride=1, padding=0, dilation=1)"
        )
    kind = args.get("kind", "conv")
    if kind not in _KINDS:
        raise ValueError(
            f"{op}: layers[{index}] kind={kind!r} must be 'conv' or 'pool' (a pool's stride "
            f"defaults to its kernel_size)"
        )
    args["kind"] = kind
    args.setdefault("name", f"{kind}{index}")
    return args


def _ndim(args: list[dict]) -> int:
    """Spatial dims of a stack: the longest per-dim tuple given (a mismatch fails in int_tuple later)."""
    return max(
        (
            len(a[key])
            for a in args
            for key in ("kernel_size", "stride", "padding", "dilation")
            if isinstance(a.get(key), (tuple, list))
        ),
        default=1,
    )


def receptive_field(layers: Iterable[dict[str, Any] | Sequence[Any]]) -> ReceptiveFields:
    """Receptive field size, jump and start of every layer of a stack of convolutions and poolings.

    The standard recurrences, per spatial dim, from ``size = jump = 1`` and ``start = 0`` on the input::

        jump_l  = jump_{l-1} * stride
        size_l  = size_{l-1} + dilation * (kernel - 1) * jump_{l-1}
        start_l = start_{l-1} + (dilation * (kernel - 1) / 2 - pad_lo) * jump_{l-1}

    ``start`` is in input pixel indices (pixel ``i`` has centre ``i``). Residual branches and upsampling
    are out of scope: describe the longest path.

    Parameters
    ----------
    layers : sequence of dict or tuple
        Each a dict with ``kernel_size`` and optionally ``stride`` (default 1, or ``kernel_size`` for
        ``kind="pool"``, as torch), ``padding`` (default 0: an int, per-dim ints, per-dim ``(lo, hi)`` pairs,
        ``"valid"``, ``"full"``, or ``"same"`` / ``"same_lower"`` when the stride is 1), ``dilation``
        (default 1), ``kind`` (``"conv"`` or ``"pool"``) and ``name``; or a tuple ``(kernel_size, stride=1,
        padding=0, dilation=1)`` in torch's argument order. Sizes are ints or per-dim tuples, the same number
        of dims in every layer.

    Returns
    -------
    ReceptiveFields
        A tuple of :class:`LayerField` rows that prints as a table; ``.size``, ``.jump`` and ``.start`` give
        the last layer's.

    Examples
    --------
    >>> import numbaconv
    >>> rf = numbaconv.receptive_field([dict(kernel_size=7, stride=2, padding=3, name="conv1"),
    ...                                 dict(kernel_size=3, stride=2, padding=1, kind="pool", name="maxpool")])
    >>> rf.size, rf.jump, rf.start
    (11, 4, 0.0)
    >>> rf
    layer    kernel  stride  dilation  padding  size  jump  start
    -------------------------------------------------------------
    conv1         7       2         1    (3,3)     7     2      0
    maxpool       3       2         1    (1,1)    11     4      0
    """
    op = "receptive_field"
    if isinstance(layers, (str, bytes, dict)) or not hasattr(layers, "__iter__"):
        raise TypeError(f"{op}: layers must be a sequence of dicts or tuples, got {type(layers).__name__}")
    args = [_layer_args(op, i, layer) for i, layer in enumerate(layers)]
    if not args:
        raise ValueError(f"{op}: layers is empty; give at least one layer")
    nd = _ndim(args)
    size, jump, start = [1] * nd, [1] * nd, [0.0] * nd
    rows = []
    for i, a in enumerate(args):
        where = f"{op}: layers[{i}]"
        kernel = int_tuple(where, "kernel_size", a["kernel_size"], nd, 1)
        stride = int_tuple(where, "stride", a.get("stride", kernel if a["kind"] == "pool" else 1), nd, 1)
        dilation = int_tuple(where, "dilation", a.get("dilation", 1), nd, 1)
        padding = a.get("padding", 0)
        if padding in ("same", "same_lower") and any(s != 1 for s in stride):
            raise ValueError(
                f"{where}: padding={padding!r} with stride={stride} depends on the input size; "
                f"give the padding explicitly"
            )
        pads = padding_pairs(where, padding, nd, kernel, stride, dilation, (1,) * nd)
        for d in range(nd):
            extent = dilation[d] * (kernel[d] - 1)
            start[d] += (extent / 2 - pads[d][0]) * jump[d]
            size[d] += extent * jump[d]
            jump[d] *= stride[d]
        one = (lambda v: v[0]) if nd == 1 else tuple
        rows.append(
            LayerField(
                str(a["name"]), one(kernel), one(stride), one(dilation), one(pads), one(size), one(jump), one(start)
            )
        )
    return ReceptiveFields(rows)


class ConvCost(NamedTuple):
    """Parameters and multiply-adds of a convolution layer and of its depthwise-separable equivalent."""

    params: int
    macs: int
    separable_params: int
    separable_macs: int
    params_ratio: float
    """separable_params / params: below 1 is a saving."""
    macs_ratio: float
    """separable_macs / macs (``1 / C_out + 1 / prod(kernel)`` for a dense layer): below 1 is a saving."""


def conv_cost(
    in_channels: int,
    out_channels: int,
    kernel_size: IntOrTuple,
    out_spatial: IntOrTuple,
    *,
    groups: int = 1,
    bias: bool = True,
    batch: int = 1,
) -> ConvCost:
    """Parameters and multiply-adds of a convolution, and of the depthwise-separable layer that replaces it.

    The convolution has ``C_out * C_in / groups * prod(kernel)`` weights and does that many multiply-adds per
    output pixel. Its depthwise-separable equivalent (MobileNet) is a depthwise ``kernel`` convolution on
    the ``C_in`` channels, at the same stride (so the same output size), then a 1x1 convolution to
    ``C_out``: ``C_in * prod(kernel) + C_in * C_out`` weights, and as many multiply-adds per output pixel.
    ``bias`` adds ``C_out`` parameters to the convolution and ``C_in + C_out`` to the separable pair (no
    multiply-adds).

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size : int or tuple of ints
    out_spatial : int or tuple of ints
        Output spatial size (see :func:`conv_output_shape`). When both this and ``kernel_size`` are ints the
        layer is 2-d and square; pass tuples for 1-d or 3-d.
    groups : int
        Groups of the convolution (the separable equivalent is always depthwise + dense pointwise).
    bias : bool
    batch : int
        Images per call; multiply-adds scale with it.

    Returns
    -------
    ConvCost
        ``(params, macs, separable_params, separable_macs, params_ratio, macs_ratio)``.

    Examples
    --------
    >>> import numbaconv
    >>> c = numbaconv.conv_cost(64, 128, 3, 56, bias=False)
    >>> c.params, c.macs, c.separable_params
    (73728, 231211008, 8768)
    >>> round(c.macs_ratio, 4) == round(1 / 128 + 1 / 9, 4)
    True
    """
    op = "conv_cost"
    for name, value in (
        ("in_channels", in_channels),
        ("out_channels", out_channels),
        ("groups", groups),
        ("batch", batch),
    ):
        if not is_int(value) or value < 1:
            raise ValueError(f"{op}: {name}={show(value)!r} must be a positive integer")
    if not isinstance(bias, (bool, np.bool_)):
        raise TypeError(f"{op}: bias={bias!r} must be True or False")
    if in_channels % groups or out_channels % groups:
        raise ValueError(f"{op}: groups={groups} must divide in_channels={in_channels} and out_channels={out_channels}")
    nd = next((len(v) for v in (kernel_size, out_spatial) if isinstance(v, (tuple, list))), 2)
    kernel = int_tuple(op, "kernel_size", kernel_size, nd, 1)
    pixels = batch * math.prod(int_tuple(op, "out_spatial", out_spatial, nd, 1))
    taps = math.prod(kernel)
    params = out_channels * (in_channels // groups) * taps + (out_channels if bias else 0)
    macs = pixels * out_channels * (in_channels // groups) * taps
    sep_params = in_channels * taps + in_channels * out_channels + ((in_channels + out_channels) if bias else 0)
    sep_macs = pixels * (in_channels * taps + in_channels * out_channels)
    return ConvCost(params, macs, sep_params, sep_macs, sep_params / params, sep_macs / macs)


class TransposeOverlap(NamedTuple):
    """Result of :func:`transpose_overlap`."""

    counts: np.ndarray
    """Kernel taps landing on each output pixel of one period, shape ``stride`` (away from the borders)."""
    uniform: bool
    """Every output pixel receives the same number of taps: no checkerboard pattern from the overlap."""
    divisible: bool
    """Every kernel size is divisible by its stride: the usual rule of thumb (uniform when dilation is 1)."""


def transpose_overlap(kernel_size: IntOrTuple, stride: IntOrTuple, dilation: IntOrTuple = 1) -> TransposeOverlap:
    """How many kernel taps of a transposed convolution land on each output pixel, over one stride period.

    A transposed convolution scatters input ``i`` through tap ``t`` to output ``i * stride + t * dilation``,
    so away from the borders output ``o`` receives the taps with ``t * dilation = o (mod stride)``. Uneven
    counts make the checkerboard artifacts of Odena et al. (2016); a count of 0 is a pixel no input reaches.
    Per dim the counts depend only on ``o mod stride``; in several dims they are the outer product.

    Parameters
    ----------
    kernel_size, stride, dilation : int or tuple of ints
        Per spatial dim; the number of dims is taken from whichever is a tuple (1 if all are ints).

    Returns
    -------
    TransposeOverlap
        ``(counts, uniform, divisible)``; ``counts`` is an int64 array of shape ``stride``.

    Examples
    --------
    >>> import numbaconv
    >>> numbaconv.transpose_overlap(3, 2)
    TransposeOverlap(counts=array([2, 1]), uniform=False, divisible=False)
    >>> numbaconv.transpose_overlap((4, 4), 2).counts
    array([[4, 4],
           [4, 4]])
    """
    op = "transpose_overlap"
    nd = next((len(v) for v in (kernel_size, stride, dilation) if isinstance(v, (tuple, list))), 1)
    kernel = int_tuple(op, "kernel_size", kernel_size, nd, 1)
    stride = int_tuple(op, "stride", stride, nd, 1)
    dilation = int_tuple(op, "dilation", dilation, nd, 1)
    counts = np.ones((), dtype=np.int64)
    for k, s, d in zip(kernel, stride, dilation, strict=False):
        per_dim = np.bincount((np.arange(k) * d) % s, minlength=s).astype(np.int64)
        counts = np.multiply.outer(counts, per_dim)
    uniform = bool(np.all(counts == counts.flat[0]))
    divisible = all(k % s == 0 for k, s in zip(kernel, stride, strict=False))
    return TransposeOverlap(counts, uniform, divisible)


def dead_channels(activations: np.ndarray, tol: float = 0.0, *, layout: Layout | None = None) -> np.ndarray:
    """Indices of the channels whose activation map has ``max |a| <= tol`` over every sample and position.

    A channel that a ReLU keeps at zero for a whole batch is "dead": it passes no gradient and can be pruned.
    A NaN anywhere in a channel keeps it alive (it is not known to be zero).

    Parameters
    ----------
    activations : ndarray
        ``(N, C, *spatial)``, or channels-last ``(N, *spatial, C)`` with ``layout="NWC"``, ``"NHWC"`` or
        ``"NDHWC"``; any real dtype.
    tol : float
        Non-negative threshold on the magnitude.
    layout : str, optional
        None (the default) or a channels-first name means channels at dim 1.

    Returns
    -------
    ndarray
        Sorted int64 channel indices.

    Examples
    --------
    >>> import numpy as np, numbaconv
    >>> a = np.zeros((2, 3, 4))  # 2 samples, 3 channels, 4 positions
    >>> a[:, 1] = 1.0
    >>> a[1, 2, 0] = 0.5
    >>> numbaconv.dead_channels(a)
    array([0])
    >>> numbaconv.dead_channels(a, tol=0.5)
    array([0, 2])
    """
    from ._arrays import host_only, host_view
    from ._params import channels_last_any

    op = "dead_channels"
    host_only(op, activations=activations)
    activations = host_view(op, "activations", activations)
    if activations.dtype.kind not in "biuf":
        raise TypeError(f"{op}: activations dtype {activations.dtype} is not supported; use a real dtype")
    if isinstance(tol, (bool, np.bool_)) or not isinstance(tol, (int, float, np.integer, np.floating)) or not tol >= 0:
        raise ValueError(f"{op}: tol={tol!r} must be a non-negative real number")
    if activations.ndim < 2:
        raise ValueError(
            f"{op}: activations must be at least 2-d (N, C, *spatial), got {activations.ndim}-d "
            f"shape {activations.shape}"
        )
    channel_axis = activations.ndim - 1 if channels_last_any(op, layout, activations.ndim) else 1
    if any(n == 0 for i, n in enumerate(activations.shape) if i != channel_axis):
        raise ValueError(f"{op}: activations shape {activations.shape} has no samples or positions to look at")
    axes = tuple(i for i in range(activations.ndim) if i != channel_axis)
    # max |a| as max(max a, -min a) in float64: no full-size copy, and no overflow of -(-128) for int8.
    peak = np.maximum(activations.max(axis=axes).astype(np.float64), -activations.min(axis=axes).astype(np.float64))
    return np.flatnonzero(peak <= tol).astype(np.int64)
