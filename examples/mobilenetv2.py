"""MobileNetV2 inference with numbaconv: inverted residual blocks (pointwise expand + ReLU6, depthwise 3×3 +
ReLU6, pointwise projection with the block's input added in the same store), batch norms folded, global average
pooling.

Weights use torchvision's state-dict names (``features.{i}...``, ``classifier.1``), so a trained model exported
with ``np.savez("mobilenet_v2.npz", **{k: v.numpy() for k, v in model.state_dict().items()})`` runs as it is:
``python examples/mobilenetv2.py --weights mobilenet_v2.npz``; any ``width_mult`` works, as the channel counts
are read from the weights. Without ``--weights`` the weights are random.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

import numbaconv as nc

# (expansion t, channels c, repeats n, stride s) of torchvision's MobileNetV2.
SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))
STRIDES = [s if i == 0 else 1 for _, _, n, s in SETTINGS for i in range(n)]  # of features.1 ... features.17


def random_weights(seed: int = 0, classes: int = 1000, width: float = 1.0) -> dict[str, np.ndarray]:
    """torchvision's mobilenet_v2 state dict (channel counts scaled by `width`, rounded to multiples of 8), with
    random values."""
    rng = np.random.default_rng(seed)
    weights: dict[str, np.ndarray] = {}

    def round8(c):
        return max(8, int(c * width + 4) // 8 * 8)

    def conv_bn(name, c_out, c_in_per_group, k):
        fan_in = c_in_per_group * k * k
        weights[f"{name}.weight"] = rng.standard_normal((c_out, c_in_per_group, k, k), np.float32) * math.sqrt(
            2 / fan_in
        )
        norm = name[:-1] + str(int(name[-1]) + 1)  # torchvision puts each BN right after its conv
        weights[f"{norm}.weight"] = rng.uniform(0.5, 1.5, c_out).astype(np.float32)
        weights[f"{norm}.bias"] = rng.uniform(-0.1, 0.1, c_out).astype(np.float32)
        weights[f"{norm}.running_mean"] = rng.uniform(-0.1, 0.1, c_out).astype(np.float32)
        weights[f"{norm}.running_var"] = rng.uniform(0.5, 1.5, c_out).astype(np.float32)

    c_in = round8(32)
    conv_bn("features.0.0", c_in, 3, 3)
    i = 1
    for t, c, n, _ in SETTINGS:
        c_out = round8(c)
        for _ in range(n):
            hidden = c_in * t
            parts = [] if t == 1 else [("pw", hidden, c_in, 1)]
            parts += [("dw", hidden, 1, 3), ("linear", c_out, hidden, 1)]
            for j, (_, a, b, k) in enumerate(parts):
                conv_bn(f"features.{i}.conv.{j}" + ("" if j == len(parts) - 1 else ".0"), a, b, k)
            c_in, i = c_out, i + 1
    last = round8(1280) if width > 1.0 else 1280
    conv_bn("features.18.0", last, c_in, 1)
    weights["classifier.1.weight"] = rng.standard_normal((classes, last), np.float32) / math.sqrt(last)
    weights["classifier.1.bias"] = np.zeros(classes, np.float32)
    return weights


def folded_conv(weights: dict, name: str, groups: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Conv `name` (``...weight``) with the batch norm that follows it folded in."""
    norm = name[:-1] + str(int(name[-1]) + 1)
    return nc.fold_batch_norm(
        weights[f"{name}.weight"],
        None,
        weights[f"{norm}.running_mean"],
        weights[f"{norm}.running_var"],
        weights[f"{norm}.weight"],
        weights[f"{norm}.bias"],
        groups=groups,
    )


def fold(weights: dict[str, np.ndarray]) -> list:
    """The network as a list of layers: ("conv", weight, bias, stride) and ("block", [convs], stride, residual)."""
    layers = [("stem", *folded_conv(weights, "features.0.0"))]
    for i, stride in enumerate(STRIDES, 1):
        convs = []
        j = 0
        while f"features.{i}.conv.{j}.0.weight" in weights:
            convs.append(folded_conv(weights, f"features.{i}.conv.{j}.0"))
            j += 1
        convs.append(folded_conv(weights, f"features.{i}.conv.{j}"))  # the projection, BN at conv.{j + 1}
        c_in = convs[0][0].shape[1] if convs[0][0].shape[1] != 1 else convs[0][0].shape[0]
        layers.append(("block", convs, stride, stride == 1 and c_in == convs[-1][0].shape[0]))
    layers.append(("head", *folded_conv(weights, "features.18.0")))
    return layers


def forward(x: np.ndarray, layers: list, fc_weight: np.ndarray, fc_bias: np.ndarray) -> np.ndarray:
    """Logits (N, classes) of images x (N, 3, H, W)."""
    h = nc.conv2d(x, *layers[0][1:], stride=2, padding=1, activation="relu6")
    for _, convs, stride, residual in layers[1:-1]:
        y = h
        for w, b in convs[:-2]:  # the expansion (absent when t = 1)
            y = nc.pointwise_conv2d(y, w, b, activation="relu6")
        w, b = convs[-2]
        y = nc.depthwise_conv2d(y, w, b, stride=stride, padding=1, activation="relu6")
        w, b = convs[-1]
        h = nc.pointwise_conv2d(y, w, b, residual=h if residual else None)
    h = nc.pointwise_conv2d(h, *layers[-1][1:], activation="relu6")
    return nc.adaptive_avg_pool2d(h, 1).reshape(h.shape[0], -1) @ fc_weight.T + fc_bias


def main(argv: list[str] | None = None) -> np.ndarray:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", help="an .npz of torchvision's mobilenet_v2 state dict (default: random)")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--size", type=int, default=224, help="image height and width")
    parser.add_argument("--width", type=float, default=1.0, help="width multiplier of the random weights")
    args = parser.parse_args(argv)
    weights = dict(np.load(args.weights)) if args.weights else random_weights(width=args.width)
    layers = fold(weights)
    x = np.random.default_rng(1).standard_normal((args.batch, 3, args.size, args.size), np.float32)
    start = time.perf_counter()
    logits = forward(x, layers, weights["classifier.1.weight"], weights["classifier.1.bias"])
    first = time.perf_counter() - start
    start = time.perf_counter()
    forward(x, layers, weights["classifier.1.weight"], weights["classifier.1.bias"])
    print(
        f"logits {logits.shape}, top class {logits[0].argmax()}; first call {first:.1f} s (compiles or loads "
        f"kernels), second {1e3 * (time.perf_counter() - start):.1f} ms"
    )
    return logits


if __name__ == "__main__":
    main()
