"""Unpooling and upsampling: max_unpool1d/2d/3d, unpool1d/2d/3d, interpolate."""

__all__: list[str] = []
