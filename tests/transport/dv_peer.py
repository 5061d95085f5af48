"""dv-processing on the other end of a DV TCP stream (``python dv_peer.py serve|read ...``).

``serve PORT RECORDING COMPRESSION``: read RECORDING with dv-processing's own
reader and serve its event batches with ``NetworkWriter`` to the first client.
``read PORT COUNT OUT``: read COUNT events with ``NetworkReader`` and save them
(t, x, y, p columns) to OUT (.npz) with the announced resolution and camera name.
Runs in its own process: dv-processing holds the GIL while it connects.
"""

from __future__ import annotations

import os
import sys
import time

import dv_processing as dv
import numpy as np


def serve(port: int, recording: str, compression: str) -> None:
    reader = dv.io.MonoCameraRecording(recording)
    stream = dv.io.Stream.EventStream(0, "events", "dv-peer", reader.getEventResolution())
    stream.setCompression(getattr(dv.CompressionType, compression))
    writer = dv.io.NetworkWriter("127.0.0.1", port, stream)
    deadline = time.monotonic() + 20
    while writer.getClientCount() < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    while reader.isRunning():
        batch = reader.getNextEventBatch()
        if batch is not None:
            writer.writeEvents(batch)
    while writer.getQueuedPacketCount() > 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)
    os._exit(0)  # dv-processing's NetworkWriter destructor can hang once its client left


def read(port: int, count: int, out: str) -> None:
    reader = dv.io.NetworkReader("127.0.0.1", port)
    chunks, got = [], 0
    deadline = time.monotonic() + 20
    while got < count and time.monotonic() < deadline:
        batch = reader.getNextEventBatch()
        if batch is not None:
            chunks.append(batch.numpy())
            got += len(chunks[-1])
    events = np.concatenate(chunks)
    width, height = reader.getEventResolution()
    np.savez(out, t=events["timestamp"], x=events["x"], y=events["y"], p=events["polarity"],
             size=[width, height], camera=reader.getCameraName())
    os._exit(0)


if __name__ == "__main__":
    role, *rest = sys.argv[1:]
    if role == "serve":
        serve(int(rest[0]), rest[1], rest[2])
    else:
        read(int(rest[0]), int(rest[1]), rest[2])
