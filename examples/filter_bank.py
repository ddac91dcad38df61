"""An image filter-bank pipeline with numbaconv: a bank of Gabor filters (4 orientations × 2 scales) over a
grayscale photograph, the energy of each response, a local max pool, and per pixel the orientation with the most
energy: the classic texture-feature front end, written with `filter2d` on an (H, W) image.

    python examples/filter_bank.py [--image photo.png] [--out orientations.png]

Without --image it uses matplotlib's sample photograph (or a generated test card without matplotlib).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import numbaconv as nc


def gabor_bank(size: int = 15, orientations: int = 4, wavelengths: tuple[float, ...] = (4.0, 8.0)) -> np.ndarray:
    """(orientations * len(wavelengths), size, size) zero-mean Gabor kernels (cosine phase), unit L1 norm."""
    half = size // 2
    yy, xx = np.mgrid[-half : half + 1, -half : half + 1].astype(np.float64)
    bank = []
    for wavelength in wavelengths:
        sigma = 0.5 * wavelength
        for k in range(orientations):
            theta = np.pi * k / orientations
            along = xx * np.cos(theta) + yy * np.sin(theta)
            g = np.exp(-(xx**2 + yy**2) / (2 * sigma**2)) * np.cos(2 * np.pi * along / wavelength)
            g -= g.mean()
            bank.append(g / np.abs(g).sum())
    return np.array(bank, np.float32)


def features(image: np.ndarray, bank: np.ndarray, pool: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """(energy (H / pool, W / pool, K): the max-pooled squared responses, dominant orientation index per cell)."""
    responses = nc.filter2d(image, bank, padding_mode="reflect")  # (H, W, K)
    energy = responses * responses
    # max_pool2d takes (K, H, W) unbatched channels-first, or (H, W, K) with layout="NHWC": the latter as stored
    pooled = nc.max_pool2d(energy, pool, layout="NHWC")
    orientations = bank.shape[0] // 2
    per_orientation = pooled.reshape(*pooled.shape[:2], -1, orientations).sum(axis=2)  # both scales together
    return pooled, per_orientation.argmax(axis=-1)


def load(path: str | None) -> np.ndarray:
    """A grayscale float32 image: the file at `path`, or the demo's photograph."""
    from numbaconv.demo import load_image, luminance

    if path:
        from matplotlib.image import imread

        image = imread(path).astype(np.float32)
        image /= max(float(image.max()), 1e-12)
    else:
        image = load_image()[0]
    return np.ascontiguousarray(luminance(image[..., :3]) if image.ndim == 3 else image)


def main(argv: list[str] | None = None) -> np.ndarray:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", help="an image file (default: matplotlib's sample photograph)")
    parser.add_argument("--size", type=int, default=0, help="crop the image to size × size first (0: whole)")
    parser.add_argument("--out", help="save the orientation map as a PNG (needs matplotlib)")
    args = parser.parse_args(argv)
    image = load(args.image)
    if args.size:
        image = np.ascontiguousarray(image[: args.size, : args.size])
    bank = gabor_bank()
    start = time.perf_counter()
    pooled, dominant = features(image, bank)
    share = np.bincount(dominant.ravel(), minlength=4) / dominant.size
    print(
        f"image {image.shape} -> energy {pooled.shape} in {time.perf_counter() - start:.1f} s; dominant "
        f"orientation shares (0, 45, 90, 135 degrees): {np.round(share, 2).tolist()}"
    )
    if args.out:
        import matplotlib.pyplot as plt

        plt.imsave(args.out, dominant, cmap="twilight")
    return dominant


if __name__ == "__main__":
    main()
