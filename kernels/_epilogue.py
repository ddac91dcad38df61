"""Fused bias + activation, applied once per output as it is stored.

`consts` holds (negative_slope, 0, 1, 6) in the output's dtype, so a float32 kernel never promotes to
float64 through a Python float literal. Codes follow numbaconv._params.ACTIVATIONS.
"""

import numpy as np

from ._jit import inline


@inline
def activate(v, code, consts):
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
        return one / (one + np.exp(-v))
    return np.tanh(v)
