"""Shuffles and separable filters: channel_shuffle, shuffle_conv2d, pixel_shuffle/unshuffle, spatially_separable_conv2d, factorize_separable."""

__all__: list[str] = []
