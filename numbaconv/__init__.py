"""numbaconv: convolutional-network operators as hand-written Numba kernels, for NumPy (and CUDA) arrays.

Nothing compiles at import, and Numba itself is imported only when the first kernel runs.
"""

from . import analysis, conv_transpose, pool, shuffle, unpool
from . import grad as grad  # public as numbaconv.grad; its names are not in numbaconv.__all__
from . import tuning as tuning  # public as numbaconv.tuning after `import numbaconv`
from ._algorithms import select_algorithm
from ._params import ConvParams, conv_params
from .analysis import *  # noqa: F403
from .conv import (
    conv1d,
    conv2d,
    conv3d,
    conv_output_shape,
    depthwise_conv2d,
    filter2d,
    pointwise_conv2d,
    separable_conv2d,
)
from .conv_transpose import *  # noqa: F403
from .fold import fold_batch_norm
from .pool import *  # noqa: F403
from .shuffle import *  # noqa: F403
from .unpool import *  # noqa: F403

__version__ = "0.1.0"

__all__ = [
    "ConvParams",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_output_shape",
    "conv_params",
    "depthwise_conv2d",
    "filter2d",
    "fold_batch_norm",
    "pointwise_conv2d",
    "select_algorithm",
    "separable_conv2d",
    *analysis.__all__,
    *conv_transpose.__all__,
    *pool.__all__,
    *shuffle.__all__,
    *unpool.__all__,
]
