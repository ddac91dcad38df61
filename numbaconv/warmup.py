"""Compile the CPU kernels ahead of time: `python -m numbaconv warmup [--ops ...] [--dtypes ...] [--layouts ...]`.

Each step runs one op on a tiny array with an algorithm named, so that every concrete kernel of the family
compiles for the dtype and layout (Numba compiles per argument type: a float64 call compiles its own copy). With
the on-disk cache on (the default) the compiled code is saved, and later processes load it instead of compiling
(see the README's "Reliability": the cache is keyed by numbaconv's version and kernel sources). Run it once per
deployment or CI image, and in each `dask.distributed` or multiprocessing worker that has no shared cache.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

import numbaconv as nc

from ._types import Layout2d

FAMILIES = ("conv", "transpose", "pool", "unpool", "shuffle", "grad")
DTYPES = ("float32", "float64")
LAYOUTS = ("first", "last")


def _conv_steps(dt, last: bool) -> list[tuple[str, Callable[[], object]]]:
    layout: Layout2d = "NHWC" if last else "NCHW"

    def x(c, h=9, w=10):
        return np.ones((1, h, w, c) if last else (1, c, h, w), dt)

    def w(o, c, k=3):
        return np.ones((o, c, k, k), dt)

    steps = [
        ("conv2d direct", lambda: nc.conv2d(x(4), w(4, 4), padding=1, algorithm="direct", layout=layout)),
        ("conv2d direct, strided", lambda: nc.conv2d(x(4), w(4, 4), stride=2, algorithm="direct", layout=layout)),
        ("conv2d gemm", lambda: nc.conv2d(x(8), w(8, 8), padding=1, algorithm="gemm", layout=layout)),
        ("conv2d pointwise", lambda: nc.conv2d(x(8), w(8, 8, 1), algorithm="pointwise", layout=layout)),
        ("depthwise", lambda: nc.depthwise_conv2d(x(4), w(4, 1), padding=1, algorithm="depthwise", layout=layout)),
        ("depthwise, strided", lambda: nc.depthwise_conv2d(x(4), w(4, 1), stride=2, layout=layout)),
        ("conv3d depthwise", lambda: nc.conv3d(np.ones((1, 2, 4, 4, 4), dt), np.ones((2, 1, 3, 3, 3), dt), groups=2)),
    ]
    if not last:  # the transform algorithms take channels-first data (channels-last runs them on a view)
        steps += [
            ("conv2d winograd", lambda: nc.conv2d(x(8), w(8, 8), padding=1, algorithm="winograd")),
            ("conv2d winograd_f2", lambda: nc.conv2d(x(8), w(8, 8), padding=1, algorithm="winograd_f2")),
            ("conv2d fft", lambda: nc.conv2d(x(1, 16, 16), w(1, 1, 5), padding=2, algorithm="fft")),
        ]
    return steps


def _grad_steps(dt, last: bool) -> list[tuple[str, Callable[[], object]]]:
    """numbaconv.grad's kernels: each convolution gradient with a fused activation (its derivative, the bias's
    channel sums, the weight's im2col), the input gradient on the transpose-conv kernels (direct and gemm) and on
    the conv kernels, the padding fold, every pooling gradient kernel, and the two-step gradients' own forwards."""
    from . import grad

    layout: Layout2d = "NHWC" if last else "NCHW"

    def x(c, h=9, w=10):
        return np.ones((1, h, w, c) if last else (1, c, h, w), dt)

    def conv(c, transpose=False, **kw):
        xs, ws = x(c), np.ones((c, c // kw.get("groups", 1), 3, 3), dt)
        forward, backward = (
            (nc.conv_transpose2d, grad.conv_transpose2d_backward) if transpose else (nc.conv2d, grad.conv2d_backward)
        )
        y = forward(xs, ws, layout=layout, activation="relu", **kw)
        return backward(xs, ws, np.ones_like(y), layout=layout, activation="relu", output=y, **kw)

    def pooled(kind):
        y, indices = nc.max_pool2d(x(4, 8), 2, return_indices=True, layout=layout)
        if kind == "max":
            return grad.max_pool2d_input(x(4, 8).shape, y, indices, 2, layout=layout)
        return grad.max_unpool2d_input(x(4, 8), indices, 2, layout=layout)

    def separable():
        weights = np.ones((4, 1, 3, 3), dt), np.ones((4, 4), dt)
        return grad.separable_conv2d_backward(
            x(4), *weights, x(4), padding=1, depthwise_activation="relu6", layout=layout
        )

    return [
        ("conv2d_backward (input: transpose direct)", lambda: conv(4, padding=1)),
        ("conv2d_backward (input: transpose gemm)", lambda: conv(8, padding=1)),
        ("conv2d_backward reflect (fold)", lambda: conv(4, padding=1, padding_mode="reflect")),
        ("conv_transpose2d_backward", lambda: conv(4, transpose=True, stride=2)),
        ("conv_transpose2d_backward (input: conv gemm)", lambda: conv(8, transpose=True, stride=2)),
        ("max_pool2d_input", lambda: pooled("max")),
        ("max_unpool2d_input", lambda: pooled("max_unpool")),
        ("avg_pool2d_input", lambda: grad.avg_pool2d_input(x(4, 8).shape, x(4, 4, 5), 2, layout=layout)),
        (
            "interpolate_input",
            lambda: grad.interpolate_input(x(4, 4, 5).shape, x(4, 8), None, 2, "bilinear", layout=layout),
        ),
        ("pixel_shuffle_input", lambda: grad.pixel_shuffle_input(x(4), 1, layout=layout)),
        ("separable_conv2d_backward", separable),
        (
            "resize_conv2d_backward",
            lambda: grad.resize_conv2d_backward(
                x(4, 3, 4), np.ones((4, 4, 3, 3), dt), x(4, 6, 8), mode="bilinear", layout=layout
            ),
        ),
    ]


def _steps(family: str, dtype: str, layout: str) -> list[tuple[str, Callable[[], object]]]:
    dt, last = np.dtype(dtype), layout == "last"
    lay: Layout2d = "NHWC" if last else "NCHW"
    x = np.ones((1, 9, 10, 4) if last else (1, 4, 9, 10), dt)
    if family == "conv":
        return _conv_steps(dt, last)
    if family == "grad":
        return _grad_steps(dt, last)
    if family == "transpose":
        wt = np.ones((4, 4, 3, 3), dt)
        return [
            ("conv_transpose2d direct", lambda: nc.conv_transpose2d(x, wt, stride=2, algorithm="direct", layout=lay)),
            ("conv_transpose2d gemm", lambda: nc.conv_transpose2d(x, wt, stride=2, algorithm="gemm", layout=lay)),
        ]
    if family == "pool":
        return [
            ("max_pool2d", lambda: nc.max_pool2d(x, 2, layout=lay)),
            ("max_pool2d indices", lambda: nc.max_pool2d(x, 2, return_indices=True, layout=lay)),
            ("avg_pool2d", lambda: nc.avg_pool2d(x, 2, layout=lay)),
            ("adaptive_max_pool2d", lambda: nc.adaptive_max_pool2d(x, 4, layout=lay)),
            ("adaptive_max_pool2d indices", lambda: nc.adaptive_max_pool2d(x, 4, return_indices=True, layout=lay)),
            ("adaptive_avg_pool2d", lambda: nc.adaptive_avg_pool2d(x, 4, layout=lay)),
        ]
    if family == "unpool":

        def max_unpool():
            values, indices = nc.max_pool2d(x, 2, return_indices=True, layout=lay)
            return nc.max_unpool2d(values, indices, 2, layout=lay)

        return [
            ("max_unpool2d", max_unpool),
            ("unpool2d nearest", lambda: nc.unpool2d(x, 2, layout=lay)),
            ("unpool2d bed_of_nails", lambda: nc.unpool2d(x, 2, mode="bed_of_nails", layout=lay)),
            ("interpolate", lambda: nc.interpolate(x, scale_factor=2, layout=lay)),
            # one kernel serves every linear and cubic mode (the tables differ, not the argument types)
            ("interpolate bilinear", lambda: nc.interpolate(x, scale_factor=1.5, mode="bilinear", layout=lay)),
        ]
    return [
        ("pixel_shuffle", lambda: nc.pixel_shuffle(x, 2, layout=lay)),
        ("channel_shuffle", lambda: nc.channel_shuffle(x, 2, layout=lay)),
    ]


def plan(ops: Iterable[str] = FAMILIES, dtypes: Iterable[str] = DTYPES, layouts: Iterable[str] = LAYOUTS):
    """The (description, call) steps that compile the kernels of `ops` for every dtype and layout asked for."""
    ops, dtypes = _checked("ops", ops, FAMILIES), _checked("dtypes", dtypes, DTYPES)
    layouts = _checked("layouts", layouts, LAYOUTS)
    return [
        (f"{name} ({dtype}, {layout})", call)
        for family in ops
        for dtype in dtypes
        for layout in layouts
        for name, call in _steps(family, dtype, layout)
    ]


def _checked(argument: str, values: Iterable[str], allowed: tuple[str, ...]) -> list[str]:
    values = list(values)
    for value in values:
        if value not in allowed:
            raise ValueError(f"warmup: {argument}={value!r} is not one of {', '.join(map(repr, allowed))}")
    return values


def warmup(ops=FAMILIES, dtypes=DTYPES, layouts=LAYOUTS, progress: bool = True) -> int:
    """Run every step of `plan(ops, dtypes, layouts)`; returns how many ran. With `progress`, a progress bar
    (tqdm, from the `demo` extra) or else a line per step."""
    steps = plan(ops, dtypes, layouts)
    bar = None
    if progress:
        try:
            from tqdm import tqdm

            bar = tqdm(total=len(steps), desc="compiling kernels", unit="step")
        except ImportError:
            pass
    for i, (name, call) in enumerate(steps, 1):
        if progress and bar is None:
            print(f"[{i}/{len(steps)}] {name}", flush=True)
        call()
        if bar is not None:
            bar.set_postfix_str(name)
            bar.update()
    if bar is not None:
        bar.close()
    return len(steps)
