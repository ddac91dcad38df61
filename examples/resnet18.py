"""ResNet-18 inference with numbaconv: batch norms folded into the convs, residual add and ReLU fused into the
second conv of every block, global average pooling, a final matrix product.

Weights use torchvision's state-dict names, so a trained model exported with

    model = torchvision.models.resnet18(weights="DEFAULT")
    np.savez("resnet18.npz", **{k: v.numpy() for k, v in model.state_dict().items()})

runs as it is: ``python examples/resnet18.py --weights resnet18.npz``. Without ``--weights`` the weights are
random (the shapes and the arithmetic are what matter here).
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

import numbaconv as nc

STAGES = ((64, 1), (128, 2), (256, 2), (512, 2))  # (channels, stride of the first block), two blocks each


def random_weights(seed: int = 0, classes: int = 1000) -> dict[str, np.ndarray]:
    """torchvision's resnet18 state dict, filled with random values (He-scaled convs, plausible BN statistics)."""
    rng = np.random.default_rng(seed)
    weights: dict[str, np.ndarray] = {}

    def conv(name, c_out, c_in, k):
        weights[f"{name}.weight"] = rng.standard_normal((c_out, c_in, k, k), np.float32) * math.sqrt(2 / (c_in * k * k))

    def bn(name, c):
        weights[f"{name}.weight"] = rng.uniform(0.5, 1.5, c).astype(np.float32)
        weights[f"{name}.bias"] = rng.uniform(-0.1, 0.1, c).astype(np.float32)
        weights[f"{name}.running_mean"] = rng.uniform(-0.1, 0.1, c).astype(np.float32)
        weights[f"{name}.running_var"] = rng.uniform(0.5, 1.5, c).astype(np.float32)

    conv("conv1", 64, 3, 7)
    bn("bn1", 64)
    c_in = 64
    for layer, (c, stride) in enumerate(STAGES, 1):
        for block in range(2):
            name = f"layer{layer}.{block}"
            conv(f"{name}.conv1", c, c_in, 3)
            bn(f"{name}.bn1", c)
            conv(f"{name}.conv2", c, c, 3)
            bn(f"{name}.bn2", c)
            if block == 0 and (stride != 1 or c_in != c):
                conv(f"{name}.downsample.0", c, c_in, 1)
                bn(f"{name}.downsample.1", c)
            c_in = c
    weights["fc.weight"] = rng.standard_normal((classes, 512), np.float32) / math.sqrt(512)
    weights["fc.bias"] = np.zeros(classes, np.float32)
    return weights


def fold(weights: dict[str, np.ndarray]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Every conv with the batch norm after it folded in: {conv name: (weight, bias)}."""
    folded = {}
    for key in weights:
        if not key.endswith(".weight") or weights[key].ndim != 4:
            continue
        conv = key[: -len(".weight")]
        norm = conv[:-1] + "1" if conv.endswith("downsample.0") else conv.replace("conv", "bn")
        folded[conv] = nc.fold_batch_norm(
            weights[key],
            None,
            weights[f"{norm}.running_mean"],
            weights[f"{norm}.running_var"],
            weights[f"{norm}.weight"],
            weights[f"{norm}.bias"],
        )
    return folded


def forward(x: np.ndarray, folded: dict, fc_weight: np.ndarray, fc_bias: np.ndarray) -> np.ndarray:
    """Logits (N, classes) of images x (N, 3, H, W)."""
    h = nc.conv2d(x, *folded["conv1"], stride=2, padding=3, activation="relu")
    h = nc.max_pool2d(h, 3, stride=2, padding=1)
    for layer, (_, stride) in enumerate(STAGES, 1):
        for block in range(2):
            name = f"layer{layer}.{block}"
            s = stride if block == 0 else 1
            shortcut = h
            if f"{name}.downsample.0" in folded:
                shortcut = nc.conv2d(h, *folded[f"{name}.downsample.0"], stride=s)
            y = nc.conv2d(h, *folded[f"{name}.conv1"], stride=s, padding=1, activation="relu")
            # conv, folded BN, + shortcut, ReLU: one pass over the output
            h = nc.conv2d(y, *folded[f"{name}.conv2"], padding=1, residual=shortcut, activation="relu")
    pooled = nc.adaptive_avg_pool2d(h, 1).reshape(h.shape[0], -1)
    return pooled @ fc_weight.T + fc_bias


def main(argv: list[str] | None = None) -> np.ndarray:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", help="an .npz of torchvision's resnet18 state dict (default: random)")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--size", type=int, default=224, help="image height and width")
    args = parser.parse_args(argv)
    weights = dict(np.load(args.weights)) if args.weights else random_weights()
    folded = fold(weights)
    x = np.random.default_rng(1).standard_normal((args.batch, 3, args.size, args.size), np.float32)
    start = time.perf_counter()
    logits = forward(x, folded, weights["fc.weight"], weights["fc.bias"])
    first = time.perf_counter() - start
    start = time.perf_counter()
    forward(x, folded, weights["fc.weight"], weights["fc.bias"])
    print(
        f"logits {logits.shape}, top class {logits[0].argmax()}; first call {first:.1f} s (compiles or loads "
        f"kernels), second {1e3 * (time.perf_counter() - start):.1f} ms"
    )
    return logits


if __name__ == "__main__":
    main()
