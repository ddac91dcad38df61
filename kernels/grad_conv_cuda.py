"""CUDA kernels of the convolution family's gradients (numbaconv.grad) on 5-D (N, C, D, H, W) device views.

The CUDA twins of kernels/grad_conv.py (the same fold and channel-sum bodies, compiled as device functions) and
the weight gradient: one thread per weight element, summing grad_output times the input its tap reads over every
image and output pixel in a fixed order, through the forward's index tables (padding modes, dilation and flip
included). No atomics: every result is written once, the same on every run. Factories are cached per accumulate
dtype; inputs of any storage dtype (float16 included) are read and converted to it.
"""

import functools

import numpy as np

from ._cuda_target import cuda
from ._device import device
from ._epilogue import activation_grad_body
from ._rules import unravel_body
from .grad_conv import channel_sum_body, fold_at_body

unravel = device(unravel_body)


@functools.cache
def activation_backward_cuda(acc_name: str):
    """One thread per element (grid-stride) of 5-D views: out = g times the activation's derivative at y."""
    acc_t, grad = np.dtype(acc_name).type, device(activation_grad_body)

    @cuda.jit
    def kernel(g, y, code, consts, out):
        _, chans, size_d, size_h, size_w = out.shape
        total = out.shape[0] * chans * size_d * size_h * size_w
        for t in range(cuda.grid(1), total, cuda.gridsize(1)):
            at = unravel(t, chans, size_d, size_h, size_w, False)
            out[at] = grad(acc_t(g[at]), acc_t(y[at]), code, consts)

    return kernel


@functools.cache
def fold_padding_cuda(acc_name: str):
    """One thread per input pixel (grid-stride): the padded input's gradient folded onto it."""
    acc_t, fold_at = np.dtype(acc_name).type, device(fold_at_body)

    @cuda.jit
    def kernel(g, fd, fh, fw, channels_last, out):
        _, chans, size_d, size_h, size_w = out.shape
        total = out.shape[0] * chans * size_d * size_h * size_w
        for t in range(cuda.grid(1), total, cuda.gridsize(1)):
            n, c, iz, iy, ix = unravel(t, chans, size_d, size_h, size_w, channels_last)
            out[n, c, iz, iy, ix] = fold_at(g, n, c, iz, iy, ix, fd, fh, fw, acc_t)

    return kernel


@functools.cache
def channel_sum_cuda(acc_name: str):
    """One thread per channel: the bias gradient."""
    acc_t, channel_sum = np.dtype(acc_name).type, device(channel_sum_body)

    @cuda.jit
    def kernel(a, out):
        for c in range(cuda.grid(1), out.shape[0], cuda.gridsize(1)):
            out[c] = channel_sum(a, c, acc_t)

    return kernel


@functools.cache
def conv_weight_grad_cuda(acc_name: str):
    """gw[o, c, kd, kh, kw] = sum over n and output pixels of gy[n, o, pixel] * x[n, group's c, tap's input];
    a tap on zero padding reads 0 (so a NaN or infinite gy there poisons the sum, as im2col + GEMM does)."""
    acc_t = np.dtype(acc_name).type

    @cuda.jit
    def kernel(x, gy, md, mh, mw, groups, gw):
        c_out, c_group, k_d, k_h, k_w = gw.shape
        n_batch, o_d, o_h, o_w = gy.shape[0], gy.shape[2], gy.shape[3], gy.shape[4]
        out_per_group = c_out // groups
        total = c_out * c_group * k_d * k_h * k_w
        for t in range(cuda.grid(1), total, cuda.gridsize(1)):
            o, c, kd, kh, kw = unravel(t, c_group, k_d, k_h, k_w, False)
            ci = (o // out_per_group) * c_group + c
            acc = acc_t(0)
            for n in range(n_batch):
                for od in range(o_d):
                    iz = md[od, kd]
                    for oh in range(o_h):
                        iy = mh[oh, kh]
                        for ow in range(o_w):
                            ix = mw[ow, kw]
                            v = acc_t(0)
                            if iz >= 0 and iy >= 0 and ix >= 0:
                                v = acc_t(x[n, ci, iz, iy, ix])
                            acc += acc_t(gy[n, o, od, oh, ow]) * v
            gw[o, c, kd, kh, kw] = acc

    return kernel
