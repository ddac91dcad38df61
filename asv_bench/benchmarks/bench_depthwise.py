"""Depthwise, grouped and depthwise-separable convolutions."""

from ._common import family

DepthwiseConv2d = family(
    "DepthwiseConv2d", "MobileNetV2 depthwise, stride 1 and 2, N=1 and float64 cases.", "depthwise"
)
GroupedConv2d = family("GroupedConv2d", "ShuffleNet grouped 1x1 (g3, g8) and ResNeXt g32 3x3.", "grouped")
SeparableConv2d = family("SeparableConv2d", "MobileNetV1 depthwise-separable block.", "separable")
