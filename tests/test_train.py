"""The NumPy-and-numbaconv training loop of `python -m numbaconv train` against the same network trained by
torch autograd from the same initial weights and batches, and the command's own run."""

import numpy as np
import pytest

from numbaconv import train as tr

pytest.importorskip("sklearn", reason="the digits come from scikit-learn (test and demo extras)")


def torch_losses(params, x, y, batches, lr, momentum):
    """The training losses of the same network in torch (nn.functional + autograd + optim.SGD)."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    p = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    opt = torch.optim.SGD(list(p.values()), lr=lr, momentum=momentum)
    losses = []
    for idx in batches:
        h = F.max_pool2d(F.relu(F.conv2d(torch.from_numpy(x[idx]), p["w1"], p["b1"], padding=1)), 2)
        h = F.max_pool2d(F.relu(F.conv2d(h, p["w2"], p["b2"], padding=1)), 2)
        loss = F.cross_entropy(h.flatten(1) @ p["w3"].T + p["b3"], torch.from_numpy(y[idx]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return losses


def test_losses_agree_with_torch_for_20_steps():
    x, y, _, _ = tr.load_digits(seed=0)
    params = tr.init_params(seed=1)
    rng = np.random.default_rng(2)
    batches = [rng.choice(len(x), 32, replace=False) for _ in range(20)]
    expect = torch_losses(params, x, y, batches, lr=0.05, momentum=0.9)
    opt = tr.SGD(lr=0.05, momentum=0.9)
    got = []
    for idx in batches:
        f = tr.forward(params, x[idx])
        loss, g_logits = tr.loss_and_grad(f.logits, y[idx])
        opt.step(params, tr.backward(params, f, g_logits))
        got.append(loss)
    np.testing.assert_allclose(got, expect, rtol=0, atol=1e-4)
    assert expect[-1] < expect[0]  # the steps trained something


def test_backward_equals_torch_autograd_float64():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x, y, _, _ = tr.load_digits(seed=0)
    x, y = x[:16].astype(np.float64), y[:16]
    params = tr.init_params(seed=3, dtype=np.float64)
    f = tr.forward(params, x)
    _, g_logits = tr.loss_and_grad(f.logits, y)
    got = tr.backward(params, f, g_logits)
    p = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    h = F.max_pool2d(F.relu(F.conv2d(torch.from_numpy(x), p["w1"], p["b1"], padding=1)), 2)
    h = F.max_pool2d(F.relu(F.conv2d(h, p["w2"], p["b2"], padding=1)), 2)
    F.cross_entropy(h.flatten(1) @ p["w3"].T + p["b3"], torch.from_numpy(y)).backward()
    for name in tr.SHAPES:
        np.testing.assert_allclose(got[name], p[name].grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)


def test_train_command_reaches_97_percent(tmp_path, capsys):
    from numbaconv.__main__ import main

    plot = tmp_path / "train.png"
    assert main(["train", "--out", str(plot)]) == 0
    out = capsys.readouterr().out
    assert "test accuracy" in out
    pytest.importorskip("matplotlib")
    assert plot.stat().st_size > 0
