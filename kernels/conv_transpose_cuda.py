"""CUDA transpose-convolution kernel on 5-D views: x (N, C_in, D, H, W), weight (C_in, C_out/groups, KD, KH, KW).

A gather, one thread per output: output ``o`` reads the inputs ``(o + pad_lo - k * dilation) / stride`` that are
whole and in range, so each output is written once, with no atomics and a fixed sum order. Those (tap, input)
pairs come packed per output and dim (``taps_d[od, j] = (kd, iz)``, a tap of -1 after the last), so a thread
visits only the taps that land on it (about ``1 / stride`` of them per dim) and stops at the first -1.

The factory is cached per accumulate dtype: inputs of any storage dtype (float16 included) are read and
converted, so float16 accumulates in float32 with no converted copy. The residual is the kernel's last parameter,
`residual=None`, left out of a launch without one (kernels/conv_cuda.py says why).
"""

import functools

import numpy as np

from ._cuda_target import cuda
from ._device import device
from ._rules import unravel_body
from .conv_cuda import add_residual, device_activate

unravel = device(unravel_body)


@functools.cache
def conv_transpose_direct_cuda(acc_name: str):
    """One thread per output (grid-stride), any groups/stride/dilation/crop/output_padding; coalesced along W."""
    acc_t, activate = np.dtype(acc_name).type, device_activate()

    @cuda.jit
    def kernel(x, w, bias, taps_d, taps_h, taps_w, groups, act, consts, out, residual=None):
        n_batch, c_out, o_d, o_h, o_w = out.shape
        c_group = x.shape[1] // groups
        out_per_group = w.shape[1]
        width_d, width_h, width_w = taps_d.shape[1], taps_h.shape[1], taps_w.shape[1]
        total = n_batch * c_out * o_d * o_h * o_w
        for t in range(cuda.grid(1), total, cuda.gridsize(1)):
            n, o, od, oh, ow = unravel(t, c_out, o_d, o_h, o_w, False)
            g = o // out_per_group
            oo = o - g * out_per_group
            c0 = g * c_group
            acc = acc_t(0)
            # One level per dim over packed (tap, input) rows that end at a -1: not the (out, kernel) walk_taps.
            for jd in range(width_d):
                kd = taps_d[od, jd, 0]
                if kd < 0:
                    break
                iz = taps_d[od, jd, 1]
                for jh in range(width_h):
                    kh = taps_h[oh, jh, 0]
                    if kh < 0:
                        break
                    iy = taps_h[oh, jh, 1]
                    for jw in range(width_w):
                        kw = taps_w[ow, jw, 0]
                        if kw < 0:
                            break
                        ix = taps_w[ow, jw, 1]
                        for c in range(c_group):
                            acc += acc_t(x[n, c0 + c, iz, iy, ix]) * acc_t(w[c0 + c, oo, kd, kh, kw])
            v = add_residual(acc + acc_t(bias[o]), residual, (n, o, od, oh, ow), acc_t)
            out[n, o, od, oh, ow] = activate(v, act, consts)

    return kernel
