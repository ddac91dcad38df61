"""Train a small CNN in NumPy with numbaconv's forward ops and their gradients: `python -m numbaconv train`.

The network is conv(1 -> 16, 3x3, relu) - max pool 2 - conv(16 -> 32, 3x3, relu) - max pool 2 - linear(128 -> 10),
trained with softmax cross-entropy and SGD with momentum (the learning rate decayed per epoch along a cosine) on
scikit-learn's bundled 8x8 handwritten digits (no download). Every convolution and pool, forward and backward, is a
numbaconv call (the relu fused into the conv, its gradient computed from the saved output); the linear layer, the
softmax and the optimiser are a few lines of NumPy.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

import numbaconv as nc
from numbaconv import grad

SHAPES = {
    "w1": (16, 1, 3, 3),
    "b1": (16,),
    "w2": (32, 16, 3, 3),
    "b2": (32,),
    "w3": (10, 128),
    "b3": (10,),
}


def init_params(seed: int = 0, dtype=np.float32) -> dict[str, np.ndarray]:
    """torch's default initialisation of Conv2d and Linear: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and
    biases alike (fan_in = the weight's size over its first axis)."""
    rng = np.random.default_rng(seed)
    params = {}
    for name in SHAPES:
        fan_in = int(np.prod(SHAPES["w" + name[1]][1:]))
        bound = 1.0 / np.sqrt(fan_in)
        params[name] = rng.uniform(-bound, bound, SHAPES[name]).astype(dtype)
    return params


@dataclass
class Forward:
    """What the backward pass needs from the forward: each layer's input, output and max-pool indices."""

    x: np.ndarray
    a1: np.ndarray
    p1: np.ndarray
    i1: np.ndarray
    a2: np.ndarray
    p2: np.ndarray
    i2: np.ndarray
    logits: np.ndarray


def forward(params: dict[str, np.ndarray], x: np.ndarray) -> Forward:
    """Logits of a batch x (N, 1, 8, 8), and the saved activations."""
    a1 = nc.conv2d(x, params["w1"], params["b1"], padding=1, activation="relu")  # (N, 16, 8, 8)
    p1, i1 = nc.max_pool2d(a1, 2, return_indices=True)  # (N, 16, 4, 4)
    a2 = nc.conv2d(p1, params["w2"], params["b2"], padding=1, activation="relu")  # (N, 32, 4, 4)
    p2, i2 = nc.max_pool2d(a2, 2, return_indices=True)  # (N, 32, 2, 2)
    logits = p2.reshape(len(x), -1) @ params["w3"].T + params["b3"]
    return Forward(x, a1, p1, i1, a2, p2, i2, logits)


def loss_and_grad(logits: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean softmax cross-entropy of the batch and its gradient with respect to the logits."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(len(labels))
    g = np.exp(log_p)
    g[rows, labels] -= 1
    return float(-log_p[rows, labels].mean()), g / len(labels)


def backward(params: dict[str, np.ndarray], f: Forward, g_logits: np.ndarray) -> dict[str, np.ndarray]:
    """Gradients of the loss with respect to every parameter, from the logits' gradient."""
    flat = f.p2.reshape(len(f.x), -1)
    grads = {"w3": g_logits.T @ flat, "b3": g_logits.sum(axis=0)}
    g_p2 = (g_logits @ params["w3"]).reshape(f.p2.shape)
    g_a2 = grad.max_pool2d_input(f.a2.shape, g_p2, f.i2, 2)
    # the relu fused into the forward conv: its gradient comes from the saved output a2
    g_p1, grads["w2"], grads["b2"] = grad.conv2d_backward(
        f.p1, params["w2"], g_a2, padding=1, activation="relu", output=f.a2
    )
    g_a1 = grad.max_pool2d_input(f.a1.shape, g_p1, f.i1, 2)
    # the first layer needs no input gradient: the relu's gradient once, then the weight's and the bias'
    g_z1 = grad.activation_backward(g_a1, f.a1, "relu")
    grads["w1"] = grad.conv2d_weight(f.x, params["w1"].shape, g_z1, padding=1)
    grads["b1"] = grad.conv2d_bias(g_z1)
    return grads


@dataclass
class SGD:
    """SGD with momentum, as torch.optim.SGD(lr, momentum) computes it (the velocity starts at the first
    gradient)."""

    lr: float = 0.05
    momentum: float = 0.9
    velocity: dict[str, np.ndarray] = field(default_factory=dict)

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        for name, g in grads.items():
            v = self.velocity.get(name)
            v = g.copy() if v is None else self.momentum * v + g
            self.velocity[name] = v
            params[name] -= (self.lr * v).astype(params[name].dtype)


def load_digits(seed: int = 0, test_fraction: float = 0.2) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_test, y_test): scikit-learn's 1797 8x8 digits scaled to [0, 1] as (N, 1, 8, 8)
    float32, split at random (fixed seed)."""
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError as exc:
        raise ImportError("numbaconv train needs scikit-learn's digits: pip install 'numbaconv[demo]'") from exc
    data = sklearn_digits()
    x = (data.images / 16.0).astype(np.float32)[:, None]
    y = data.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = int(len(x) * test_fraction)
    test, train = order[:n_test], order[n_test:]
    return x[train], y[train], x[test], y[test]


def batches(n: int, batch_size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Index arrays of one epoch's shuffled mini-batches (the last one may be shorter)."""
    order = rng.permutation(n)
    for start in range(0, n, batch_size):
        yield order[start : start + batch_size]


def accuracy(params: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(forward(params, x).logits.argmax(axis=1) == y))


@dataclass
class History:
    """Per step: the training loss; per epoch: the test accuracy and the seconds spent so far."""

    loss: list[float] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)


def train(
    epochs: int = 15,
    batch_size: int = 32,
    lr: float = 0.05,
    momentum: float = 0.9,
    seed: int = 0,
    progress: bool = True,
) -> tuple[dict[str, np.ndarray], History]:
    """Train the network on the digits; the parameters and the history."""
    x_train, y_train, x_test, y_test = load_digits(seed)
    params = init_params(seed)
    opt = SGD(lr, momentum)
    history = History()
    rng = np.random.default_rng(seed + 1)
    start = time.perf_counter()
    for epoch in _epochs(epochs, progress, history):
        opt.lr = lr * 0.5 * (1 + np.cos(np.pi * epoch / epochs))  # cosine decay: calm last epochs
        for idx in batches(len(x_train), batch_size, rng):
            f = forward(params, x_train[idx])
            loss, g_logits = loss_and_grad(f.logits, y_train[idx])
            opt.step(params, backward(params, f, g_logits))
            history.loss.append(loss)
        history.test_accuracy.append(accuracy(params, x_test, y_test))
        history.seconds.append(time.perf_counter() - start)
    return params, history


def _epochs(epochs: int, progress: bool, history: History) -> Iterator[int]:
    """Epoch numbers, with a tqdm bar showing the last loss and test accuracy (a printed line without tqdm)."""
    try:
        from tqdm import tqdm
    except ImportError:
        tqdm = None
    if not progress or tqdm is None:
        for epoch in range(epochs):
            yield epoch
            if progress:
                print(f"epoch {epoch + 1}/{epochs}: loss {history.loss[-1]:.4f}, test {history.test_accuracy[-1]:.2%}")
        return
    with tqdm(range(epochs), desc="training", unit="epoch") as bar:
        for epoch in bar:
            yield epoch
            bar.set_postfix(loss=f"{history.loss[-1]:.4f}", test=f"{history.test_accuracy[-1]:.2%}")


def plot(history: History, path: str) -> str | None:
    """The loss per step and the test accuracy per epoch, saved to `path`; None without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    left.plot(history.loss, lw=0.8)
    left.set(xlabel="step", ylabel="training loss", yscale="log", title="softmax cross-entropy")
    right.plot(range(1, len(history.test_accuracy) + 1), [100 * a for a in history.test_accuracy], marker="o")
    right.set(xlabel="epoch", ylabel="test accuracy (%)", title="held-out digits")
    right.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def run_train(epochs: int = 15, out: str = "numbaconv_train.png", seed: int = 0) -> int:
    """`python -m numbaconv train`: train, report, plot; exit status 0 when the test accuracy reaches 97%."""
    _, history = train(epochs=epochs, seed=seed)
    final = history.test_accuracy[-1]
    print(f"test accuracy {final:.2%} after {epochs} epochs in {history.seconds[-1]:.1f} s (first calls compile)")
    path = plot(history, out)
    print(f"plot: {path}" if path else "plot: skipped (pip install 'numbaconv[demo]' for matplotlib)")
    return 0 if final >= 0.97 else 1
