"""Fused bias + residual + activation, applied once per output as it is stored.

One plain-Python body compiled twice, as the shared rules in kernels/_rules.py: inlined into the CPU kernels
here (`activate`), and as a CUDA device function by kernels/_device.py (`device(activate_body)`; the CUDA
simulator cannot call an @njit function from a @cuda.jit kernel). `consts` holds (negative_slope, 0, 1, 6) in
the compute dtype, so a float32 kernel never promotes to float64 through a Python float literal. Codes: 0 none,
1 relu, 2 relu6, 3 leaky_relu, 4 sigmoid, 5 tanh (the public `activation=` names). `activation_grad_body` is
its derivative, for numbaconv.grad.

The residual (`residual=`, added after the bias and before the activation) is an array laid out as the output,
or None: `residual_at`, `add_residual` and `add_residual_body` test `residual is None`, which Numba decides when
it compiles (it prunes the branch for a None argument, or for an omitted `residual=None` on CUDA, see
kernels/conv_cuda.py), so a call without a residual runs the code the kernels had before they took one.
"""

import math

from ._jit import inline


def activate_body(v, code, consts):
    zero = consts[1]
    if code == 0:
        return v
    if code == 1:
        return v if not v < zero else zero
    if code == 2:
        six = consts[3]
        return zero if v < zero else (six if v > six else v)
    if code == 3:
        return v if not v < zero else v * consts[0]
    if code == 4:
        one = consts[2]
        return one / (one + math.exp(-v))
    return math.tanh(v)


activate = inline(activate_body)


def activation_grad_body(g, y, code, consts):
    """g times the derivative of activation `code` where it output y (numbaconv.grad), as torch's autograd
    computes it from a saved result: relu passes g where y > 0 (relu'(0) = 0), relu6 where 0 < y < 6,
    leaky_relu scales it by negative_slope where y <= 0 (a slope >= 0, so y's sign is x's); sigmoid
    g * (1 - y) * y, tanh g * (1 - y * y). A NaN y passes g through relu and relu6, as torch's threshold and
    hardtanh backward do."""
    zero = consts[1]
    if code == 0:
        return g
    if code == 1:
        return zero if y <= zero else g
    if code == 2:
        return zero if (y <= zero or y >= consts[3]) else g
    if code == 3:
        return g if y > zero else g * consts[0]
    one = consts[2]
    if code == 4:
        return g * (one - y) * y
    return g * (one - y * y)


def add_residual_body(v, residual, index, acc_t):
    """v + residual[index] converted to acc_t (the CUDA kernels read a residual of any storage dtype), or v
    without a residual."""
    return v if residual is None else v + acc_t(residual[index])


@inline
def residual_at(residual, index):
    """residual[index] (a row, or a pixel's channels), or None without a residual."""
    return None if residual is None else residual[index]


@inline
def add_residual(v, residual, index):
    """v + residual[index] (the CPU kernels' residual is in the compute dtype), or v without a residual."""
    return v if residual is None else v + residual[index]
