"""evstream: stream event-camera (DVS) data into stateful spiking neural networks.

The public entry points are grouped by room:

* :mod:`evstream.events`: the event dtype and :class:`~evstream.events.EventPacket`.
* :mod:`evstream.io`: readers and writers for recordings.
* :mod:`evstream.binning`: on-the-fly binning and filters.
* :mod:`evstream.nn`: spiking neurons, networks and backends.
* :mod:`evstream.learning`: BPTT and S-TLLR training.
* :mod:`evstream.graph`: the node-graph runtime.
"""

from evstream.events import EVENT_DTYPE, EventPacket, Geometry

__version__ = "0.1.0"
__all__ = ["EVENT_DTYPE", "EventPacket", "Geometry", "__version__"]
