"""Fused bias + activation, applied once per output as it is stored.

One plain-Python body compiled twice: inlined into the CPU kernels here, and as a CUDA device function by
kernels/cuda_common.py (the CUDA simulator cannot call an @njit function from a @cuda.jit kernel).
`consts` holds (negative_slope, 0, 1, 6) in the compute dtype, so a float32 kernel never promotes to float64
through a Python float literal. Codes follow numbaconv._params.ACTIVATIONS.
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
