"""Pure-Python analysis helpers: receptive_field, conv_cost, transpose_overlap, dead_channels."""

__all__: list[str] = []
