"""Folding an inference-mode batch normalisation into the convolution before it.

``batch_norm(conv(x, w, b))`` with fixed statistics is ``conv(x, w', b')``: each output channel ``o`` is scaled by
``s[o] = gamma[o] / sqrt(var[o] + eps)`` and shifted, ``w'[o] = w[o] * s[o]`` and
``b'[o] = (b[o] - mean[o]) * s[o] + beta[o]`` (torch's ``torch.nn.utils.fusion.fuse_conv_bn_weights``). The one
pass a network then saves is the normalisation's, and the activation after it fuses into the conv's epilogue.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["fold_batch_norm"]


def _namespace(op: str, a):
    """NumPy for NumPy arrays, CuPy for CuPy arrays (the arithmetic below is the same in both)."""
    if isinstance(a, np.ndarray):
        return np
    if type(a).__module__.split(".")[0] == "cupy":
        import cupy

        return cupy
    raise TypeError(f"{op}: weight must be a NumPy or CuPy array, got {type(a).__qualname__}")


def fold_batch_norm(
    weight: Any,
    bias: Any,
    mean: Any,
    var: Any,
    gamma: Any = None,
    beta: Any = None,
    eps: float = 1e-5,
    *,
    transpose: bool = False,
    groups: int = 1,
) -> tuple[Any, Any]:
    """The ``(weight, bias)`` of the convolution that equals ``conv`` followed by ``batch_norm`` in inference mode.

    Parameters
    ----------
    weight : ndarray
        ``(C_out, C_in / groups, *kernel)``, or with ``transpose=True`` a transpose convolution's
        ``(C_in, C_out / groups, *kernel)``.
    bias : ndarray or None
        ``(C_out,)``; None for a conv without bias.
    mean, var : ndarray
        The normalisation's running mean and variance, ``(C_out,)``.
    gamma, beta : ndarray, optional
        Its scale and shift, ``(C_out,)`` (None: 1 and 0, ``affine=False``).
    eps : float
        As torch's ``BatchNorm`` (default 1e-5).
    transpose, groups
        Whether ``weight`` is a transpose convolution's, and its groups (output channel ``o`` of group ``g`` is
        column ``o - g * C_out / groups`` of the rows of group ``g``).

    Returns new arrays (the inputs are not changed) in the result type of ``weight`` and the statistics.

    Examples
    --------
    >>> import numpy as np, numbaconv
    >>> w, b = np.ones((2, 1, 3, 3)), np.zeros(2)
    >>> w2, b2 = numbaconv.fold_batch_norm(w, b, mean=np.array([1.0, 0.0]), var=np.array([4.0, 1.0]), eps=0.0)
    >>> w2[:, 0, 0, 0], b2
    (array([0.5, 1. ]), array([-0.5,  0. ]))
    """
    op = "fold_batch_norm"
    xp = _namespace(op, weight)
    if not isinstance(transpose, bool):
        raise TypeError(f"{op}: transpose={transpose!r} must be a bool")
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"{op}: groups={groups!r} must be a positive int")
    if weight.ndim < 3:
        raise ValueError(f"{op}: weight must have at least 3 dims (channels, channels, *kernel), got {weight.shape}")
    out_channels = weight.shape[1] * groups if transpose else weight.shape[0]
    if transpose and weight.shape[0] % groups:
        raise ValueError(f"{op}: groups={groups} must divide weight.shape[0]={weight.shape[0]} (C_in)")
    named = {"bias": bias, "mean": mean, "var": var, "gamma": gamma, "beta": beta}
    for name, a in named.items():
        if a is not None and tuple(a.shape) != (out_channels,):
            raise ValueError(f"{op}: {name}.shape={tuple(a.shape)} must be (C_out,) = ({out_channels},)")
    if float(eps) < 0:
        raise ValueError(f"{op}: eps={eps!r} must be >= 0")
    scale = 1 / xp.sqrt(var + eps)
    if gamma is not None:
        scale = gamma * scale
    shift = -mean * scale if bias is None else (bias - mean) * scale
    if beta is not None:
        shift = shift + beta
    spread = (1,) * (weight.ndim - 2)
    if transpose:
        # rows of group g (input channels g * C_in/groups ...) hold output channels g * C_out/groups ...
        per_group = scale.reshape(groups, 1, weight.shape[1], *spread)
        rows = weight.reshape(groups, weight.shape[0] // groups, *weight.shape[1:])
        folded = (rows * per_group).reshape(weight.shape)
    else:
        folded = weight * scale.reshape(out_channels, 1, *spread)
    return folded, shift
