"""Train a small CNN on 8x8 handwritten digits in NumPy, with numbaconv for every convolution and pool, forward
and backward: the loop of `python -m numbaconv train`, written out.

    python examples/train_digits.py [--epochs 15] [--batch-size 32]

The network and its gradients are in numbaconv/train.py (conv-relu-pool twice, then a linear layer; the relu is
fused into each conv and its gradient computed from the saved output). Needs scikit-learn (the `demo` extra).
"""

from __future__ import annotations

import argparse

import numpy as np

from numbaconv import train as tr


def main(argv: list[str] | None = None) -> np.ndarray:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args(argv)

    x_train, y_train, x_test, y_test = tr.load_digits(seed=0)
    params = tr.init_params(seed=0)
    opt = tr.SGD(lr=0.05, momentum=0.9)
    rng = np.random.default_rng(1)
    for epoch in range(args.epochs):
        opt.lr = 0.05 * 0.5 * (1 + np.cos(np.pi * epoch / args.epochs))  # the learning rate along a cosine
        losses = []
        for idx in tr.batches(len(x_train), args.batch_size, rng):
            f = tr.forward(params, x_train[idx])  # numbaconv conv2d(relu) and max_pool2d, indices saved
            loss, g_logits = tr.loss_and_grad(f.logits, y_train[idx])  # NumPy softmax cross-entropy
            opt.step(params, tr.backward(params, f, g_logits))  # numbaconv.grad for every conv and pool
            losses.append(loss)
        test = tr.accuracy(params, x_test, y_test)
        print(f"epoch {epoch + 1:>2}: mean loss {np.mean(losses):.4f}, test accuracy {test:.2%}")

    predicted = tr.forward(params, x_test).logits.argmax(axis=1)
    confusion = np.zeros((10, 10), np.int64)
    np.add.at(confusion, (y_test, predicted), 1)
    print("confusion matrix (rows: true digit, columns: predicted):")
    print(confusion)
    return confusion


if __name__ == "__main__":
    main()
