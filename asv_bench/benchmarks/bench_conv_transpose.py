"""Transpose convolutions (DCGAN, U-Net, LinkNet decoders)."""

from ._common import family

ConvTranspose2d = family("ConvTranspose2d", "Decoder transpose convolutions.", "transpose")
