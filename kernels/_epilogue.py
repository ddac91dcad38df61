"""Fused bias + activation, applied once per output as it is stored.

One plain-Python body compiled twice, as the shared rules in kernels/_rules.py: inlined into the CPU kernels
here (`activate`), and as a CUDA device function by kernels/_device.py (`device(activate_body)`; the CUDA
simulator cannot call an @njit function from a @cuda.jit kernel). `consts` holds (negative_slope, 0, 1, 6) in
the compute dtype, so a float32 kernel never promotes to float64 through a Python float literal. Codes: 0 none,
1 relu, 2 relu6, 3 leaky_relu, 4 sigmoid, 5 tanh (the public `activation=` names).
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
