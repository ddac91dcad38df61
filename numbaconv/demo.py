"""`python -m numbaconv demo`: every op family on a real image, checked, timed, and drawn.

The image is matplotlib's sample photograph (the `demo` extra ships it; nothing is downloaded). Without
matplotlib a generated image is used, the numeric part still runs, and no gallery is drawn.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

import numbaconv

SOBEL_X = np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]], np.float32)


def load_image() -> tuple[np.ndarray, str]:
    """A grayscale float32 photograph in [0, 1], and where it came from."""
    try:
        from matplotlib import cbook
        from matplotlib.image import imread
    except ImportError:
        return generated_image(), "generated test card (install matplotlib for the photograph)"
    with cbook.get_sample_data("grace_hopper.jpg") as f:
        rgb = imread(f, format="jpg").astype(np.float32) / 255.0
    return rgb @ np.array([0.299, 0.587, 0.114], np.float32), "matplotlib sample grace_hopper.jpg"


def generated_image(size: int = 512) -> np.ndarray:
    """Rings, a square and a gradient: edges in every direction."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    rings = 0.5 + 0.5 * np.sin(40 * np.hypot(yy - 0.5, xx - 0.5))
    square = ((abs(yy - 0.3) < 0.15) & (abs(xx - 0.7) < 0.15)).astype(np.float32)
    return (0.5 * rings + 0.4 * square + 0.1 * xx).astype(np.float32)


def numpy_conv2d(x, w, padding=0, dilation=1, groups=1):
    """The NumPy way (padded copy, sliding windows, einsum), used as the check and as the baseline time."""
    x = np.pad(x, [(0, 0), (0, 0), (padding, padding), (padding, padding)])
    kh, kw = w.shape[2:]
    win = sliding_window_view(x, (dilation * (kh - 1) + 1, dilation * (kw - 1) + 1), axis=(2, 3))
    win = win[..., ::dilation, ::dilation]
    cg, og = x.shape[1] // groups, w.shape[0] // groups
    return np.concatenate(
        [
            np.einsum("nchwij,ocij->nohw", win[:, g * cg : (g + 1) * cg], w[g * og : (g + 1) * og], optimize=True)
            for g in range(groups)
        ],
        axis=1,
    )


def numpy_conv_transpose2d(x, w, stride, padding):
    """The NumPy way: scatter-add every tap's contribution into the full output, then crop."""
    n, _, h, wd = x.shape
    kh, kw = w.shape[2:]
    full = np.zeros((n, w.shape[1], (h - 1) * stride + kh, (wd - 1) * stride + kw), np.float32)
    for i in range(kh):
        for j in range(kw):
            full[:, :, i : i + (h - 1) * stride + 1 : stride, j : j + (wd - 1) * stride + 1 : stride] += np.einsum(
                "nchw,co->nohw", x, w[:, :, i, j], optimize=True
            )
    return full[:, :, padding : full.shape[2] - padding, padding : full.shape[3] - padding]


def numpy_max_pool2x2(x):
    """The NumPy way for 2x2 stride-2 pooling: reshape, max, and argmax turned into flat plane indices."""
    n, c, h, w = x.shape
    blocks = x[:, :, : h // 2 * 2, : w // 2 * 2].reshape(n, c, h // 2, 2, w // 2, 2).transpose(0, 1, 2, 4, 3, 5)
    blocks = blocks.reshape(n, c, h // 2, w // 2, 4)
    arg = blocks.argmax(axis=-1)
    rows = np.arange(h // 2)[:, None] * 2 + arg // 2
    cols = np.arange(w // 2)[None, :] * 2 + arg % 2
    return blocks.max(axis=-1), (rows * w + cols).astype(np.int64)


def numpy_max_unpool(values, indices, shape):
    out = np.zeros(shape[:2] + (shape[2] * shape[3],), values.dtype)
    np.put_along_axis(out, indices.reshape(shape[:2] + (-1,)), values.reshape(shape[:2] + (-1,)), axis=2)
    return out.reshape(shape)


@dataclass
class Step:
    name: str
    run: Callable[[], np.ndarray]
    baseline: Callable[[], np.ndarray]
    flops: int
    result: np.ndarray | None = None
    times: dict = field(default_factory=dict)


def _best(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _progress(items, desc):
    try:
        from tqdm import tqdm

        return tqdm(items, desc=desc, unit="op")
    except ImportError:
        print(f"{desc} ({len(items)} ops)...")
        return items


def build_steps(img: np.ndarray) -> dict[str, Step]:
    rng = np.random.default_rng(0)
    x1 = img[None, None]
    sobel = SOBEL_X[None, None]
    feats = np.ascontiguousarray(
        np.repeat(x1, 32, axis=1)[:, :, ::2, ::2] * rng.uniform(0.5, 1.5, (1, 32, 1, 1))
    ).astype(np.float32)
    dw = rng.standard_normal((32, 1, 3, 3)).astype(np.float32)
    dense = rng.standard_normal((32, 32, 3, 3)).astype(np.float32) / 10
    pw = rng.standard_normal((64, 32)).astype(np.float32) / 6
    up = rng.standard_normal((32, 16, 4, 4)).astype(np.float32) / 10
    pooled, indices = numpy_max_pool2x2(feats)
    c = numbaconv.conv_params

    def separable_numpy():
        return np.einsum("oc,nchw->nohw", pw, numpy_conv2d(feats, dw, padding=1, groups=32), optimize=True)

    steps = [
        Step(
            "sobel cross-correlation",
            lambda: numbaconv.conv2d(x1, sobel, padding=1),
            lambda: numpy_conv2d(x1, sobel, padding=1),
            c("", 2, x1.shape, sobel.shape, padding=1).flops,
        ),
        Step(
            "sobel true convolution (flip)",
            lambda: numbaconv.conv2d(x1, sobel, padding=1, flip=True),
            lambda: numpy_conv2d(x1, sobel[..., ::-1, ::-1], padding=1),
            c("", 2, x1.shape, sobel.shape, padding=1).flops,
        ),
        Step(
            "dilated 3x3 (d=4)",
            lambda: numbaconv.conv2d(x1, sobel, padding=4, dilation=4),
            lambda: numpy_conv2d(x1, sobel, padding=4, dilation=4),
            c("", 2, x1.shape, sobel.shape, padding=4, dilation=4).flops,
        ),
        Step(
            "depthwise 3x3, 32 ch",
            lambda: numbaconv.depthwise_conv2d(feats, dw, padding=1),
            lambda: numpy_conv2d(feats, dw, padding=1, groups=32),
            c("", 2, feats.shape, dw.shape, padding=1, groups=32).flops,
        ),
        Step(
            "dense 3x3, 32 -> 32 ch",
            lambda: numbaconv.conv2d(feats, dense, padding=1),
            lambda: numpy_conv2d(feats, dense, padding=1),
            c("", 2, feats.shape, dense.shape, padding=1).flops,
        ),
        Step(
            "separable 3x3, 32 -> 64 ch",
            lambda: numbaconv.separable_conv2d(feats, dw, pw, padding=1),
            separable_numpy,
            c("", 2, feats.shape, dw.shape, padding=1, groups=32).flops
            + c("", 2, (1, 32) + feats.shape[2:], (64, 32, 1, 1)).flops,
        ),
        Step(
            "transpose 4x4 s2, 32 -> 16 ch",
            lambda: numbaconv.conv_transpose2d(feats, up, stride=2, padding=1),
            lambda: numpy_conv_transpose2d(feats, up, stride=2, padding=1),
            2 * feats.size * up.shape[1] * 16,
        ),
        Step(
            "max-pool 2x2 + indices, 32 ch",
            lambda: numbaconv.max_pool2d(feats, 2, return_indices=True)[0],
            lambda: numpy_max_pool2x2(feats)[0],
            feats.size,
        ),
        Step(
            "max-unpool 2x2, 32 ch",
            lambda: numbaconv.max_unpool2d(pooled, indices, 2),
            lambda: numpy_max_unpool(pooled, indices, feats.shape),
            0,
        ),
        Step(
            "nearest unpool x2, 32 ch",
            lambda: numbaconv.unpool2d(feats, 2),
            lambda: feats.repeat(2, axis=2).repeat(2, axis=3),
            0,
        ),
    ]
    return {s.name: s for s in steps}


def receptive_field_demo(size: int = 41) -> list[tuple[int, np.ndarray]]:
    """Impulse response of stacks of 3x3 convs with dilation 1, 2, 4: the receptive field made visible."""
    delta = np.zeros((1, 1, size, size), np.float32)
    delta[0, 0, size // 2, size // 2] = 1
    ones = np.ones((1, 1, 3, 3), np.float32)
    maps, y = [], delta
    for d in (1, 2, 4):
        y = numbaconv.conv2d(y, ones, padding=d, dilation=d)
        maps.append((d, y[0, 0].copy()))
    return maps


def upsampling_demo(img: np.ndarray) -> dict:
    """Checkerboards made visible: transpose conv k3 s2 vs k4 s2 vs resize-conv, each with its tap-overlap map;
    and max-pool -> max-unpool, nearest and bed-of-nails unpooling of the same pooled image."""
    from .analysis import transpose_overlap

    x = np.ascontiguousarray(img[None, None, ::3, ::3])
    box3, box4 = np.ones((1, 1, 3, 3), np.float32), np.ones((1, 1, 4, 4), np.float32) / 4
    results = {
        "transpose conv k3 s2": (
            numbaconv.conv_transpose2d(x, box3, stride=2, padding=1, output_padding=1),
            transpose_overlap((3, 3), 2).counts,
        ),
        "transpose conv k4 s2": (
            numbaconv.conv_transpose2d(x, box4, stride=2, padding=1),
            transpose_overlap((4, 4), 2).counts,
        ),
        "resize-conv x2, 3x3": (numbaconv.resize_conv2d(x, box3 / 9 * 4, scale_factor=2), np.full((2, 2), 9)),
    }
    checks = {
        "transpose conv k3 s2": numpy_conv_transpose2d(x, box3, 2, 1),
        "transpose conv k4 s2": numpy_conv_transpose2d(x, box4, 2, 1),
        "resize-conv x2, 3x3": numpy_conv2d(x.repeat(2, axis=2).repeat(2, axis=3), box3 / 9 * 4, padding=1),
    }
    pooled, idx = numbaconv.max_pool2d(x, 2, return_indices=True)
    unpooled = {
        "max-pool 2x2": pooled,
        "max-unpool": numbaconv.max_unpool2d(pooled, idx, 2, output_size=x.shape[2:]),
        "nearest unpool": numbaconv.unpool2d(pooled, 2, mode="nearest"),
        "bed-of-nails unpool": numbaconv.unpool2d(pooled, 2, mode="bed_of_nails"),
    }
    errors = {
        name: float(
            np.max(np.abs(results[name][0][..., : checks[name].shape[2], : checks[name].shape[3]] - checks[name]))
        )
        for name in checks
    }
    ref_pool, ref_idx = numpy_max_pool2x2(x)
    errors["max-pool 2x2 (values, indices)"] = float(np.max(np.abs(pooled - ref_pool))) + float(
        np.count_nonzero(idx != ref_idx)
    )
    errors["max-unpool keeps the maxima"] = float(
        np.max(np.abs(unpooled["max-unpool"] - numpy_max_unpool(ref_pool, ref_idx, x.shape)))
    )
    return {"transpose": results, "unpool": unpooled, "errors": errors}


def receptive_field_table() -> str:
    """A small VGG-style network's receptive fields, as the analysis helper prints them."""
    from .analysis import receptive_field

    layers = [
        dict(name="conv1 3x3", kernel_size=3, padding=1),
        dict(name="conv2 3x3", kernel_size=3, padding=1),
        dict(name="pool1 2x2", kernel_size=2, kind="pool"),
        dict(name="conv3 3x3", kernel_size=3, padding=1),
        dict(name="conv4 3x3 d2", kernel_size=3, padding=2, dilation=2),
        dict(name="pool2 2x2", kernel_size=2, kind="pool"),
        dict(name="conv5 3x3", kernel_size=3, padding=1),
    ]
    return str(receptive_field(layers))


def cost_table(c_in=32, c_out=64, k=3, hw=(256, 256)) -> list[tuple[str, int, int]]:
    """Parameters and multiply-adds of a dense layer and its depthwise-separable equivalent."""
    shape = (1, c_in) + hw
    dense = numbaconv.conv_params("", 2, shape, (c_out, c_in, k, k), padding="same")
    depth = numbaconv.conv_params("", 2, shape, (c_in, 1, k, k), padding="same", groups=c_in)
    point = numbaconv.conv_params("", 2, (1, c_in) + hw, (c_out, c_in, 1, 1))
    return [
        ("dense", c_out * c_in * k * k, dense.macs),
        ("depthwise + pointwise", c_in * k * k + c_out * c_in, depth.macs + point.macs),
    ]


def run_demo(outdir: str = "numbaconv_demo_output", repeat: int = 5) -> int:
    img, source = load_image()
    print(f"image: {source}, {img.shape[0]}x{img.shape[1]}")
    steps = build_steps(img)
    for step in _progress(list(steps.values()), "compiling kernels (first call)"):
        step.result = step.run()
    failures = 0
    print(f"\n{'op':<30} {'max |err|':>10} {'numbaconv':>11} {'NumPy way':>11} {'speed-up':>9} {'GFLOP/s':>8}")
    for step in steps.values():
        want = step.baseline()
        assert step.result is not None  # set by the first (compiling) run above
        err = float(np.max(np.abs(step.result - want)))
        ok = err <= 1e-4 * max(1.0, float(np.max(np.abs(want))))
        failures += not ok
        t_nc, t_np = _best(step.run, repeat), _best(step.baseline, max(1, repeat // 2))
        print(
            f"{step.name:<30} {err:>10.1e} {t_nc * 1e3:>9.2f}ms {t_np * 1e3:>9.2f}ms {t_np / t_nc:>8.1f}x "
            f"{step.flops / t_nc / 1e9:>8.1f}" + ("" if ok else "  MISMATCH")
        )
    print(
        "\n(best of repeated runs in one process after warm-up; the NumPy way = padded copy + sliding windows + einsum)"
    )
    sep = steps["sobel cross-correlation"].result, steps["sobel true convolution (flip)"].result
    assert sep[0] is not None and sep[1] is not None  # set by the first (compiling) run above
    print(
        f"\nSobel: true convolution == -cross-correlation for this antisymmetric kernel: "
        f"{bool(np.allclose(sep[1], -sep[0], atol=1e-5))}"
    )
    maps = receptive_field_demo()
    print(
        "receptive field of stacked 3x3 convs with dilation 1, 2, 4: "
        + ", ".join(f"{int((m > 0).any(axis=0).sum())} px after d={d}" for d, m in maps)
    )
    print("\ncost of a 3x3 layer, 32 -> 64 channels at 256x256:")
    rows = cost_table()
    for name, params, macs in rows:
        print(f"  {name:<22} {params:>7} parameters {macs / 1e6:>8.1f} M multiply-adds")
    print(f"  saving: {rows[0][2] / rows[1][2]:.1f}x fewer multiply-adds")
    ups = upsampling_demo(img)
    print("\nupsampling and unpooling, checked against NumPy (max |err|):")
    for name, err in ups["errors"].items():
        ok = err <= 1e-4
        failures += not ok
        print(f"  {name:<34} {err:.1e}" + ("" if ok else "  MISMATCH"))
    print("  taps landing on each output pixel of a 2x2 period (uneven = checkerboard):")
    for name, (_, counts) in ups["transpose"].items():
        print(f"  {name:<34} {counts.tolist()}")
    print("\nreceptive field of a small network:")
    print(receptive_field_table())
    path = draw_gallery(img, steps, maps, outdir, ups)
    print(f"\ngallery: {path}" if path else "\ngallery: skipped (pip install 'numbaconv[demo]' for matplotlib)")
    if failures:
        print(f"{failures} result(s) did not match the NumPy reference")
    return 1 if failures else 0


def draw_gallery(img, steps, maps, outdir, ups) -> str | None:
    try:
        import matplotlib

        matplotlib.use("Agg")  # headless-safe
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    os.makedirs(outdir, exist_ok=True)
    panels = [
        ("input", img, "gray"),
        ("Sobel x, cross-correlation", steps["sobel cross-correlation"].result[0, 0], "RdBu"),
        ("Sobel x, true convolution (flip=True)", steps["sobel true convolution (flip)"].result[0, 0], "RdBu"),
        ("dilated Sobel (d=4)", steps["dilated 3x3 (d=4)"].result[0, 0], "RdBu"),
        ("depthwise 3x3, channel 0", steps["depthwise 3x3, 32 ch"].result[0, 0], "viridis"),
        ("dense 3x3, channel 0", steps["dense 3x3, 32 -> 32 ch"].result[0, 0], "viridis"),
        ("separable, channel 0", steps["separable 3x3, 32 -> 64 ch"].result[0, 0], "viridis"),
    ]
    panels += [(f"receptive field after d={d}", m, "magma") for d, m in maps]
    for name, (result, counts) in ups["transpose"].items():
        crop = result[0, 0, 60:124, 60:124]
        panels += [(f"{name} (crop)", crop, "gray"), (f"taps per pixel: {counts.tolist()}", counts, "viridis")]
    panels += [
        (f"{name} (crop)", a[0, 0, 30:62, 30:62] if name != "max-pool 2x2" else a[0, 0, 15:31, 15:31], "gray")
        for name, a in ups["unpool"].items()
    ]
    cols = 5
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.4 * rows))
    for ax in axes.ravel():
        ax.axis("off")
    for ax, (title, data, cmap) in zip(axes.ravel(), panels, strict=False):
        lim = float(np.max(np.abs(data))) or 1.0
        kw = (
            dict(vmin=-lim, vmax=lim)
            if cmap == "RdBu"
            else (dict(vmin=0, vmax=lim) if title.startswith("taps") else {})
        )
        ax.imshow(data, cmap=cmap, **kw)
        ax.set_title(title, fontsize=9)
    fig.suptitle("numbaconv demo: convolution, upsampling and unpooling")
    fig.tight_layout()
    path = os.path.abspath(os.path.join(outdir, "gallery.png"))
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
