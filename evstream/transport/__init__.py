"""ZeroMQ transport: send evstream packets between processes and machines.

* :mod:`.wire`: the versioned multipart message format (never pickle).
* :class:`Sender` / :class:`Receiver`: PUB/SUB and PUSH/PULL endpoints with
  exact loss counting (:mod:`.sequence`), HWM, conflation and CURVE keys.
* :mod:`.dv`: DV (dv-processing) TCP event streams, both directions.
* :mod:`.nodes`: the ``transport.*`` graph nodes.
"""

from __future__ import annotations

from evstream.transport.receiver import Receiver
from evstream.transport.sender import Sender
from evstream.transport.sockets import CurveKeys, SocketConfig, TransportError

__all__ = ["CurveKeys", "Receiver", "Sender", "SocketConfig", "TransportError"]
