"""Shape logic of the three shuffles: pure Python, no Numba.

Each shuffle is one permuted copy: x seen as a 5-d `src_shape` (C-order), transposed by `axes`, is the result.
The builders check every rule and lay the work out for the kernels (parallel over the first two axes on the
CPU, sequential writes inside; one thread per element on CUDA).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ._params import channels_last_any, int_tuple, is_int, show, spatial_layout


@dataclass(frozen=True)
class PermuteParams:
    """One shuffle call: result shape, x's 5-d view and the axis order that turns it into the result."""

    op: str
    out_shape: tuple[int, ...]
    src_shape: tuple[int, int, int, int, int]
    axes: tuple[int, int, int, int, int]


def channel_shuffle_params(op: str, shape: tuple[int, ...], groups, layout) -> PermuteParams:
    """Channel ``gi * (C / groups) + k`` moves to ``k * groups + gi``."""
    if len(shape) < 2:
        raise ValueError(f"{op}: input must be at least 2-d (N, C, *spatial), got {len(shape)}-d shape {shape}")
    channels_last = channels_last_any(op, layout, len(shape))
    if not is_int(groups) or groups < 1:
        raise ValueError(f"{op}: groups={show(groups)!r} must be a positive integer")
    channels = shape[-1] if channels_last else shape[1]
    if channels % groups:
        raise ValueError(f"{op}: groups={int(groups)} must divide the number of channels {channels}")
    g, per_group = int(groups), channels // int(groups)
    # Channels-first (N, C/g, 1, g, spatial) parallel over images x channels; channels-last
    # (1, pixels, 1, C/g, g) parallel over pixels.
    if channels_last:
        return PermuteParams(op, shape, (1, math.prod(shape[:-1]), 1, g, per_group), (0, 1, 2, 4, 3))
    return PermuteParams(op, shape, (shape[0], g, 1, per_group, math.prod(shape[2:])), (0, 3, 2, 1, 4))


def _pixel_dims(
    op: str, shape: tuple[int, ...], factor, name: str, layout
) -> tuple[bool, int, int, int, int, int, int]:
    """(channels_last, rH, rW, leading size, C, H, W) of a pixel shuffle's input."""
    channels_last = spatial_layout(op, layout, 2)
    if len(shape) < 3:
        want = "(*, H, W, C)" if channels_last else "(*, C, H, W)"
        raise ValueError(f"{op}: input must be at least 3-d {want}, got {len(shape)}-d shape {shape}")
    rh, rw = int_tuple(op, name, factor, 2, 1)
    if channels_last:
        height, width, channels = shape[-3:]
    else:
        channels, height, width = shape[-3:]
    return channels_last, rh, rw, math.prod(shape[:-3]), channels, height, width


def pixel_shuffle_params(op: str, shape: tuple[int, ...], upscale_factor, layout) -> PermuteParams:
    """``(*, C * rH * rW, H, W)`` -> ``(*, C, H * rH, W * rW)``."""
    cl, rh, rw, lead, channels, height, width = _pixel_dims(op, shape, upscale_factor, "upscale_factor", layout)
    if channels % (rh * rw):
        raise ValueError(
            f"{op}: input channels {channels} must be divisible by upscale_factor**2 = {rh} * {rw} = {rh * rw}"
        )
    c = channels // (rh * rw)
    out = shape[:-3] + ((height * rh, width * rw, c) if cl else (c, height * rh, width * rw))
    # Channels-first: (B*C, rH, rW, H, W) -> (B*C, H, rH, W, rW); channels-last: (B*H, W, C, rH, rW) ->
    # (B*H, rH, W, rW, C). The same axis order does both.
    src = (lead * height, width, c, rh, rw) if cl else (lead * c, rh, rw, height, width)
    return PermuteParams(op, out, src, (0, 3, 1, 4, 2))


def pixel_unshuffle_params(op: str, shape: tuple[int, ...], downscale_factor, layout) -> PermuteParams:
    """``(*, C, H * rH, W * rW)`` -> ``(*, C * rH * rW, H, W)``: pixel_shuffle's inverse."""
    cl, rh, rw, lead, channels, height, width = _pixel_dims(op, shape, downscale_factor, "downscale_factor", layout)
    for name, size, r in (("height", height, rh), ("width", width, rw)):
        if size % r:
            raise ValueError(f"{op}: input {name} {size} must be divisible by downscale_factor {r}")
    h, w, c = height // rh, width // rw, channels * rh * rw
    out = shape[:-3] + ((h, w, c) if cl else (c, h, w))
    # The inverse permutation of pixel_shuffle's, on the same 5-d views.
    src = (lead * h, rh, w, rw, channels) if cl else (lead * channels, h, rh, w, rw)
    return PermuteParams(op, out, src, (0, 2, 4, 1, 3))
