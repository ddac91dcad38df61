"""The scripts in examples/: each runs as written (its main, on a small input), and each network equals the
same network written with torch.nn.functional on the same weights (batch norms unfolded there)."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load(name):
    spec = importlib.util.spec_from_file_location(f"examples_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def close(got, expect):
    """A float32 network against float32 torch: agreement to ~1e-4 of the largest output after many layers."""
    scale = float(np.max(np.abs(expect)))
    np.testing.assert_allclose(got, expect, rtol=1e-3, atol=2e-4 * scale)


def torch_conv_bn(F, t, weights, conv, norm, stride=1, padding=0, groups=1):
    """torch: conv (no bias) then an inference-mode batch norm with the running statistics."""
    h = F.conv2d(t, torch_of(weights[f"{conv}.weight"]), stride=stride, padding=padding, groups=groups)
    stats = [torch_of(weights[f"{norm}.{p}"]) for p in ("running_mean", "running_var", "weight", "bias")]
    return F.batch_norm(h, *stats, training=False, eps=1e-5)


def torch_of(a):
    import torch

    return torch.from_numpy(np.ascontiguousarray(a))


@pytest.mark.parametrize(
    "name, argv",
    [
        ("resnet18", ["--size", "32"]),
        ("mobilenetv2", ["--size", "32", "--width", "0.25"]),
        ("segnet", ["--size", "16"]),
        ("filter_bank", ["--size", "48"]),
        ("train_digits", ["--epochs", "1"]),
    ],
)
def test_example_runs_as_written(name, argv, capsys):
    result = load(name).main(argv)
    assert np.all(np.isfinite(result))
    assert capsys.readouterr().out.strip()


def test_resnet18_equals_torch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    m = load("resnet18")
    weights = m.random_weights(seed=3, classes=10)
    x = np.random.default_rng(4).standard_normal((2, 3, 40, 40), np.float32)
    got = m.forward(x, m.fold(weights), weights["fc.weight"], weights["fc.bias"])

    h = F.relu(torch_conv_bn(F, torch_of(x), weights, "conv1", "bn1", stride=2, padding=3))
    h = F.max_pool2d(h, 3, stride=2, padding=1)
    for layer, (_, stride) in enumerate(m.STAGES, 1):
        for block in range(2):
            name, s = f"layer{layer}.{block}", stride if block == 0 else 1
            shortcut = h
            if f"{name}.downsample.0.weight" in weights:
                shortcut = torch_conv_bn(F, h, weights, f"{name}.downsample.0", f"{name}.downsample.1", stride=s)
            y = F.relu(torch_conv_bn(F, h, weights, f"{name}.conv1", f"{name}.bn1", stride=s, padding=1))
            h = F.relu(torch_conv_bn(F, y, weights, f"{name}.conv2", f"{name}.bn2", padding=1) + shortcut)
    expect = F.linear(
        torch.flatten(F.adaptive_avg_pool2d(h, 1), 1), torch_of(weights["fc.weight"]), torch_of(weights["fc.bias"])
    )
    close(got, expect.numpy())


def test_mobilenetv2_equals_torch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    m = load("mobilenetv2")
    weights = m.random_weights(seed=5, classes=10, width=0.5)
    x = np.random.default_rng(6).standard_normal((2, 3, 32, 32), np.float32)
    got = m.forward(x, m.fold(weights), weights["classifier.1.weight"], weights["classifier.1.bias"])

    def relu6(t):
        return F.hardtanh(t, 0.0, 6.0)

    h = relu6(torch_conv_bn(F, torch_of(x), weights, "features.0.0", "features.0.1", stride=2, padding=1))
    for i, stride in enumerate(m.STRIDES, 1):
        block_in, y, j = h, h, 0
        while f"features.{i}.conv.{j}.0.weight" in weights:
            w = weights[f"features.{i}.conv.{j}.0.weight"]
            depthwise = w.shape[1] == 1 and w.shape[2] == 3
            y = relu6(
                torch_conv_bn(
                    F,
                    y,
                    weights,
                    f"features.{i}.conv.{j}.0",
                    f"features.{i}.conv.{j}.1",
                    stride=stride if depthwise else 1,
                    padding=1 if depthwise else 0,
                    groups=w.shape[0] if depthwise else 1,
                )
            )
            j += 1
        y = torch_conv_bn(F, y, weights, f"features.{i}.conv.{j}", f"features.{i}.conv.{j + 1}")
        h = y + block_in if stride == 1 and block_in.shape == y.shape else y
    h = relu6(torch_conv_bn(F, h, weights, "features.18.0", "features.18.1"))
    pooled = torch.flatten(F.adaptive_avg_pool2d(h, 1), 1)
    expect = F.linear(pooled, torch_of(weights["classifier.1.weight"]), torch_of(weights["classifier.1.bias"]))
    close(got, expect.numpy())


def test_segnet_equals_torch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    m = load("segnet")
    weights = m.random_weights(seed=7, classes=4)
    x = np.random.default_rng(8).random((2, 3, 24, 16), np.float32)
    got = m.forward(x, m.fold(weights))

    h, pools = torch_of(x), []
    for i in range(len(m.ENCODER)):
        for j in range(2):
            h = F.relu(torch_conv_bn(F, h, weights, f"enc{i}.{j}", f"enc{i}.{j}.bn", padding=1))
        size = h.shape[2:]
        h, indices = F.max_pool2d(h, 2, return_indices=True)
        pools.append((indices, size))
    for i in reversed(range(len(m.ENCODER))):
        indices, size = pools[i]
        h = F.max_unpool2d(h, indices, 2, output_size=size)
        for j in range(2):
            h = F.relu(torch_conv_bn(F, h, weights, f"dec{i}.{j}", f"dec{i}.{j}.bn", padding=1))
    expect = F.conv2d(h, torch_of(weights["classifier.weight"]), torch_of(weights["classifier.bias"]), padding=1)
    close(got, expect.numpy())


def test_filter_bank_equals_scipy_and_numpy():
    m = load("filter_bank")
    image = np.random.default_rng(9).random((24, 20), np.float32)
    bank = m.gabor_bank(size=7)
    pooled, dominant = m.features(image, bank, pool=4)
    responses = np.stack(
        [ndimage.correlate(image.astype(np.float64), k.astype(np.float64), mode="mirror") for k in bank], -1
    )
    energy = responses**2
    expect = energy.reshape(6, 4, 5, 4, -1).max(axis=(1, 3))
    np.testing.assert_allclose(pooled, expect, rtol=1e-4, atol=1e-6 * expect.max())
    orientations = expect.reshape(6, 5, 2, 4).sum(axis=2)
    agree = dominant == orientations.argmax(axis=-1)
    assert agree.mean() > 0.95  # ties between near-equal float32 sums may break either way
