"""asv: the gradients (numbaconv.grad) of a ResNet conv, a MobileNet depthwise conv, a LinkNet transpose conv,
SegNet's max pooling with indices and an average pooling."""

from ._common import family

Backward = family("Backward", "Input, weight and bias gradients of real-network layers (numbaconv.grad).", "backward")
