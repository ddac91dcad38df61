"""Transpose convolution (conv_transpose1d/2d/3d), resize_conv2d and their shape helpers."""

__all__: list[str] = []
