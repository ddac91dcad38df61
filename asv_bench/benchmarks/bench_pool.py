"""Max pooling (with indices) and average pooling."""

from ._common import family

Pool2d = family("Pool2d", "SegNet max-pool with indices, ResNet max-pool 3x3 s2, average pooling.", "pool")
