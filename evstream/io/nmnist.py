"""Reader for N-MNIST / N-Caltech101 ``.bin`` and SLAYER ``.bs2`` files.

No header: 5-byte big-endian records (x 8 bits, y 8 bits, polarity 1 bit, t 23
bits µs). A record with y == 240 marks a timestamp overflow (tonic's
convention: later times grow by 2^13 µs). The sensor size is not stored: files
whose events fit 34 x 34 are N-MNIST; others get the inferred size with a warning.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from evstream.io import record_kernels as rk
from evstream.io.decoder import Decoder, decode_chunks

__all__ = ["NmnistDecoder"]


class NmnistDecoder(Decoder):
    """N-MNIST ``.bin`` / SLAYER ``.bs2``: headerless 5-byte events."""

    name = "nmnist"
    description = "N-MNIST / N-Caltech101 .bin, SLAYER .bs2 (5-byte events)"
    fallback_geometry = (34, 34)
    """Sensor size used without a warning when every event fits it (N-MNIST's ATIS crop)."""

    def blocks(self) -> Iterator[np.ndarray]:
        state = np.zeros(rk.NMNIST_STATE, np.int64)
        w, h = self.limits
        yield from decode_chunks(self, 0, "u1", 5, rk.decode_nmnist, (state, w, h), 1.0, "record")
        self.dropped = int(state[2])
