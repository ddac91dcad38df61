"""numbaconv's Numba kernels (installed as numbaconv.kernels).

Arrays and plain ints in, `out` filled; no validation, no allocation of results, no raising: the public
API in numbaconv/ has checked everything before a kernel runs. Nothing compiles at import.
"""


def cache_enabled() -> bool:
    """Whether the on-disk kernel cache is on (`NUMBACONV_CACHE`, on unless "0"; see kernels/_jit.py)."""
    from ._jit import CACHE

    return CACHE
