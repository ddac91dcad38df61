"""CPU kernels of the convolution family's gradients (numbaconv.grad) on 5-D (N, C, D, H, W) arrays.

The input gradient of a conv is a transpose conv, that of a transpose conv a conv, and a weight gradient is
im2col (kernels/conv.py) + BLAS: those run on the families' own kernels. Here is what is left: the fused
activation's derivative, the fold of a padded input's gradient back onto the pixels the padding copied, and the
bias gradient's channel sums. Each writes every element of `out` once, in a fixed order: no atomics, the same
result on every run. The fold and the channel sum are plain-Python bodies, compiled here and as CUDA device
functions (kernels/grad_conv_cuda.py), as kernels/_rules.py does it; `acc_t` is the accumulator's type.
"""

from numba import prange

from ._epilogue import activation_grad_body
from ._jit import inline, kernel


def fold_at_body(g, n, c, iz, iy, ix, fd, fh, fw, acc_t):
    """The gradient of input pixel (iz, iy, ix) of plane (n, c): the sum of the padded input's gradient `g` over
    every padded position holding a copy of it, from per-dim (size, width) tables of those positions (-1 after
    the last), in table order."""
    acc = acc_t(0)
    for a in range(fd.shape[1]):
        qd = fd[iz, a]
        if qd < 0:
            break
        for b in range(fh.shape[1]):
            qh = fh[iy, b]
            if qh < 0:
                break
            for k in range(fw.shape[1]):
                qw = fw[ix, k]
                if qw < 0:
                    break
                acc += acc_t(g[n, c, qd, qh, qw])
    return acc


def channel_sum_body(a, c, acc_t):
    """The sum of channel c of a 5-D array over the batch and every pixel, in index order."""
    acc = acc_t(0)
    for n in range(a.shape[0]):
        for iz in range(a.shape[2]):
            for iy in range(a.shape[3]):
                for ix in range(a.shape[4]):
                    acc += acc_t(a[n, c, iz, iy, ix])
    return acc


activation_grad = inline(activation_grad_body)
fold_at = inline(fold_at_body)
channel_sum = inline(channel_sum_body)


@kernel
def activation_backward_cpu(g, y, code, consts, out):
    """out = g times the derivative of activation `code` at output y (kernels/_epilogue.py), over 1-D arrays."""
    for i in prange(out.shape[0]):
        out[i] = activation_grad(g[i], y[i], code, consts)


@kernel
def fold_padding_cpu(g, fd, fh, fw, acc_t, out):
    """out = the padded input's gradient `g` folded onto the input (`fold_at_body`); parallel over rows."""
    n_batch, chans, size_d, size_h, size_w = out.shape
    for t in prange(n_batch * chans * size_d * size_h):
        iy = t % size_h
        iz = (t // size_h) % size_d
        c = (t // (size_h * size_d)) % chans
        n = t // (size_h * size_d * chans)
        row = out[n, c, iz, iy]
        for ix in range(size_w):
            row[ix] = fold_at(g, n, c, iz, iy, ix, fd, fh, fw, acc_t)


@kernel
def channel_sum_cpu(a, acc_t, out):
    """out[c] = the sum of channel c of the 5-D array `a` (the bias gradient); parallel over channels."""
    for c in prange(out.shape[0]):
        out[c] = channel_sum(a, c, acc_t)
