"""Gradients of numbaconv's ops w.r.t. their inputs and weights, as ``torch.nn.grad`` names them.

``{op}_input(input_size, grad_output, <saved arrays>, <the forward's arguments>)`` is the gradient of ``op`` w.r.t.
its input: ``input_size`` is the forward input's shape, ``grad_output`` the gradient w.r.t. its output (exactly the
shape the forward gives), the saved arrays what the forward returned besides (max pooling's indices), and the
arguments the forward's own, in its order. Every argument is checked before a kernel runs; the results are of
grad_output's array kind (NumPy in, NumPy out; CUDA in, CUDA out) and each element is written once, so they do
not depend on the thread count. These names are not in ``numbaconv.__all__``: use ``numbaconv.grad.<name>``.

Examples
--------
>>> import numpy as np, numbaconv
>>> from numbaconv import grad
>>> x = np.array([[[1.0, 3.0, 2.0, 0.0]]])
>>> y, i = numbaconv.max_pool1d(x, 2, return_indices=True)
>>> grad.max_pool1d_input(x.shape, np.ones_like(y), i, 2)
array([[[0., 1., 1., 0.]]])
"""

from __future__ import annotations

from . import _grad_pool

# ---- pooling, unpooling, interpolation, shuffles ----
from ._grad_pool import *  # noqa: F403

__all__ = [
    # ---- pooling, unpooling, interpolation, shuffles ----
    *_grad_pool.__all__,
]
