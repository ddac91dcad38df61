"""Max-unpooling, nearest and bed-of-nails unpooling."""

from ._common import family

Unpool2d = family("Unpool2d", "SegNet max-unpool, nearest and bed-of-nails x2.", "unpool")
