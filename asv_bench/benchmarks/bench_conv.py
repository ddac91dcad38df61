"""Dense, pointwise, dilated, strided convolutions; cold import and first-call compile; CUDA (skipped without
a GPU)."""

from ._common import family

Conv2d = family("Conv2d", "Dense, pointwise, strided and dilated convolutions of real networks.", "dense", "pointwise")
Image = family("Image", "Single-channel 1024x1024 images, 3x3 / 7x7 / 31x31 kernels (the SciPy cases).", "image")


class Conv3x3Algorithms:
    """ResNet 3x3 64ch 56^2 N4 with each applicable CPU algorithm, to track the Winograd/GEMM crossover that
    algorithm="auto" is built on."""

    params = [["gemm", "winograd", "winograd_f2", "direct"]]
    param_names = ["algorithm"]

    def setup(self, algorithm):
        import numpy as np

        import numbaconv

        rng = np.random.default_rng(0)
        x = rng.standard_normal((4, 64, 56, 56), dtype=np.float32)
        w = rng.standard_normal((64, 64, 3, 3), dtype=np.float32)
        self.fn = lambda: numbaconv.conv2d(x, w, padding=1, algorithm=algorithm)
        self.fn()

    def time_conv(self, algorithm):
        self.fn()

    def track_gflops(self, algorithm):
        import timeit

        seconds = min(timeit.repeat(self.fn, number=1, repeat=3))
        return 2 * 4 * 64 * 56 * 56 * 64 * 9 / seconds / 1e9

    track_gflops.unit = "GFLOP/s"


def timeraw_import():
    return "import numbaconv"


def timeraw_first_call_conv2d():
    return """
import numpy as np, numbaconv
numbaconv.conv2d(np.ones((1, 8, 16, 16), np.float32), np.ones((16, 8, 3, 3), np.float32), padding=1)
"""


class CudaConv2d:
    """The CUDA kernels on CuPy arrays; setup raises NotImplementedError (asv skips) without a GPU."""

    params = [["dense_3x3_64ch_56", "depthwise_3x3_144ch_56"]]
    param_names = ["case"]

    def setup(self, case):
        try:
            import cupy

            if cupy.cuda.runtime.getDeviceCount() == 0:
                raise NotImplementedError
        except Exception:
            raise NotImplementedError("no CUDA device") from None
        import numbaconv

        rng = cupy.random.default_rng(0)
        if case.startswith("dense"):
            x, w, groups = (
                rng.standard_normal((8, 64, 56, 56), cupy.float32),
                rng.standard_normal((64, 64, 3, 3), cupy.float32),
                1,
            )
        else:
            x, w, groups = (
                rng.standard_normal((8, 144, 56, 56), cupy.float32),
                rng.standard_normal((144, 1, 3, 3), cupy.float32),
                144,
            )
        self.sync = cupy.cuda.get_current_stream().synchronize
        self.fn = lambda: numbaconv.conv2d(x, w, padding=1, groups=groups)
        self.fn()
        self.sync()

    def time_op(self, case):
        self.fn()
        self.sync()
