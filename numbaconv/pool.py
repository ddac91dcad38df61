"""Pooling: max_pool1d/2d/3d, avg_pool1d/2d/3d and pool_output_shape."""

__all__: list[str] = []
