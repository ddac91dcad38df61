"""A SegNet-style encoder/decoder with numbaconv: the encoder's max pools return their indices, the decoder's
max-unpools put each value back where its maximum came from, then convs fill in the zeros.

    python examples/segnet.py [--size 128] [--classes 5]

Weights are random (BN folded into each conv), the input a random image; the script prints the per-pixel class
map's shape and how many pixels each class got.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

import numbaconv as nc

ENCODER = (16, 32, 64)  # channels per stage; each stage: conv 3×3 + BN + ReLU twice, then 2×2 max pool


def random_weights(seed: int = 0, classes: int = 5, channels: int = 3) -> dict[str, np.ndarray]:
    """Conv weights "enc{i}.{j}" / "dec{i}.{j}" with their BN statistics ("...bn.*"), random."""
    rng = np.random.default_rng(seed)
    weights: dict[str, np.ndarray] = {}

    def conv_bn(name, c_out, c_in):
        weights[f"{name}.weight"] = rng.standard_normal((c_out, c_in, 3, 3), np.float32) * math.sqrt(2 / (9 * c_in))
        weights[f"{name}.bn.weight"] = rng.uniform(0.5, 1.5, c_out).astype(np.float32)
        weights[f"{name}.bn.bias"] = rng.uniform(-0.1, 0.1, c_out).astype(np.float32)
        weights[f"{name}.bn.running_mean"] = rng.uniform(-0.1, 0.1, c_out).astype(np.float32)
        weights[f"{name}.bn.running_var"] = rng.uniform(0.5, 1.5, c_out).astype(np.float32)

    c_in = channels
    for i, c in enumerate(ENCODER):
        conv_bn(f"enc{i}.0", c, c_in)
        conv_bn(f"enc{i}.1", c, c)
        c_in = c
    for i in reversed(range(len(ENCODER))):  # decoder stage i mirrors encoder stage i
        c_out = ENCODER[i - 1] if i else ENCODER[0]
        conv_bn(f"dec{i}.0", ENCODER[i], ENCODER[i])
        conv_bn(f"dec{i}.1", c_out, ENCODER[i])
    weights["classifier.weight"] = rng.standard_normal((classes, ENCODER[0], 3, 3), np.float32) * 0.1
    weights["classifier.bias"] = np.zeros(classes, np.float32)
    return weights


def fold(weights: dict[str, np.ndarray]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{conv name: (weight, bias)} with each BN folded in; the classifier as it is."""
    folded = {"classifier": (weights["classifier.weight"], weights["classifier.bias"])}
    for key in weights:
        if key.endswith(".bn.weight"):
            name = key[: -len(".bn.weight")]
            bn = {p: weights[f"{name}.bn.{p}"] for p in ("running_mean", "running_var", "weight", "bias")}
            folded[name] = nc.fold_batch_norm(
                weights[f"{name}.weight"], None, bn["running_mean"], bn["running_var"], bn["weight"], bn["bias"]
            )
    return folded


def forward(x: np.ndarray, folded: dict) -> np.ndarray:
    """Class scores (N, classes, H, W) of images x (N, C, H, W); H and W divisible by 2 ** len(ENCODER)."""
    h, pools = x, []
    for i in range(len(ENCODER)):
        for j in range(2):
            h = nc.conv2d(h, *folded[f"enc{i}.{j}"], padding=1, activation="relu")
        size = h.shape[2:]
        h, indices = nc.max_pool2d(h, 2, return_indices=True)
        pools.append((indices, size))
    for i in reversed(range(len(ENCODER))):
        indices, size = pools[i]
        h = nc.max_unpool2d(h, indices, 2, output_size=size)
        for j in range(2):
            h = nc.conv2d(h, *folded[f"dec{i}.{j}"], padding=1, activation="relu")
    return nc.conv2d(h, *folded["classifier"], padding=1)


def main(argv: list[str] | None = None) -> np.ndarray:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128, help="image height and width (a multiple of 8)")
    parser.add_argument("--classes", type=int, default=5)
    args = parser.parse_args(argv)
    folded = fold(random_weights(classes=args.classes))
    x = np.random.default_rng(1).random((1, 3, args.size, args.size), np.float32)
    start = time.perf_counter()
    labels = forward(x, folded).argmax(axis=1)
    print(
        f"class map {labels.shape} in {time.perf_counter() - start:.1f} s (first call: compiles or loads kernels); "
        f"pixels per class {np.bincount(labels.ravel(), minlength=args.classes).tolist()}"
    )
    return labels


if __name__ == "__main__":
    main()
