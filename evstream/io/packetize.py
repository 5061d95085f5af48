"""Cut a stream of event blocks into :class:`~evstream.events.EventPacket`\\ s by count or time window.

Both cutters give the same packets whatever the block boundaries (the blocks
come from file chunks), copy only when a packet spans two blocks, and hold at
most one packet's worth of events.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from evstream.events import EventPacket, concat_events

__all__ = ["packets_by_count", "packets_by_window"]


def packets_by_count(blocks: Iterable[np.ndarray], count: int, width: int, height: int) -> Iterator[EventPacket]:
    """Packets of exactly ``count`` events (the last may hold fewer); none is empty.

    Each packet covers ``[first t, last t + 1)`` µs, so consecutive packets may
    share a timestamp when events tie across a cut.
    """
    if count <= 0:
        raise ValueError(f"packet size must be a positive number of events (got {count})")
    pending: list[np.ndarray] = []
    held = 0
    seq = 0
    for block in blocks:
        i = 0
        n = len(block)
        if held:
            take = min(count - held, n)
            pending.append(block[:take])
            held += take
            i = take
            if held < count:
                continue
            yield EventPacket(concat_events(pending), width, height, seq=seq)
            seq += 1
            pending, held = [], 0
        while n - i >= count:
            yield EventPacket(block[i:i + count], width, height, seq=seq)
            seq += 1
            i += count
        if i < n:
            pending, held = [block[i:]], n - i
    if held:
        yield EventPacket(concat_events(pending), width, height, seq=seq)


def packets_by_window(blocks: Iterable[np.ndarray], window_us: int, width: int, height: int,
                      origin_us: int | None = None, end_us: int | None = None) -> Iterator[EventPacket]:
    """Packets covering ``[origin + k * window_us, origin + (k + 1) * window_us)`` µs, empty ones included.

    ``origin_us`` defaults to the first event's time. The last packet ends at
    ``end_us`` when given (windows continue, empty, up to it; ``blocks`` must
    hold no event at or after it: readers cut at ``end_us`` first), else one µs
    after the last event.
    """
    if window_us <= 0:
        raise ValueError(f"window must be a positive number of µs (got {window_us})")
    pending: list[np.ndarray] = []
    seq = 0
    start = origin_us
    last_t = None
    for block in blocks:
        if not len(block):
            continue
        ts = block["t"]
        if start is None:
            start = int(ts[0])
        last_t = int(ts[-1])
        i = 0
        while True:
            edge = start + window_us
            if last_t < edge:
                pending.append(block[i:])
                break
            j = int(np.searchsorted(ts, edge, side="left"))
            pending.append(block[i:j])
            yield EventPacket(concat_events(pending), width, height, start, edge, seq)
            seq += 1
            pending = []
            i = j
            start = edge
    if start is None:
        return
    stop = end_us if end_us is not None else (last_t + 1 if last_t is not None else start)
    while start < stop:
        edge = min(start + window_us, stop)
        yield EventPacket(concat_events(pending), width, height, start, edge, seq)
        seq += 1
        pending = []
        start = edge
