"""``evstream bench zmq``: ZeroMQ transport throughput and latency against raw pyzmq.

Both tools move the same event packets from a sender process to the receiving
(benchmark) process over PUSH/PULL, first over ``tcp://127.0.0.1`` then over
``ipc://``:

* throughput: packets of ``--packet-events`` events (default 100k) sent back
  to back; Mev/s from the first packet received to the last.
* latency: ``--rate-mev`` Mev/s (default 1) in packets of
  ``--latency-packet-events`` events sent on a fixed schedule; latency of a
  packet = time its events are usable in the receiver - sender clock in its
  header (same host clock), p50/p99.

The raw pyzmq peer is the minimum any ZeroMQ transport does, with the same
socket settings (HWM 100 messages) and copy settings: a 16-byte struct header
(seq, clock) and the events buffer sent with ``copy=False, track=False``,
received with ``copy=False`` and turned into an array with ``np.frombuffer``.
evstream adds its full versioned header, validation, gap counting and packet
construction. Both receivers run in this process, with the allocator tuning
that evstream receivers apply (:func:`evstream.transport.receiver.keep_freed_buffers`),
so the ratio compares the per-message work. ``ratio`` = evstream speed / pyzmq
speed (for latency: pyzmq p99 / evstream p99), from the medians over
``--repeat`` runs that alternate the tools so both see the same machine load;
``*_min``/``*_max`` give the range. ``cpu_us``: CPU time per packet of the
sender and receiver processes together (all threads, kernel included), the
figure that a loaded machine changes least.
"""

from __future__ import annotations

import argparse
import multiprocessing
import struct
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HELP = "ZeroMQ transport: throughput (100k-event packets) and p50/p99 latency at 1 Mev/s, vs raw pyzmq"

_TOOLS = ("evstream", "pyzmq")
_RAW_HEAD = struct.Struct("<Qq")
"""The raw peer's header: sequence number and sender clock (ns); sent alone it ends the stream."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--packets", type=int, default=300, help="packets per throughput run (default 300)")
    parser.add_argument("--packet-events", type=int, default=100_000, help="events per throughput packet")
    parser.add_argument("--rate-mev", type=float, default=1.0, help="event rate of the latency runs (Mev/s)")
    parser.add_argument("--latency-packet-events", type=int, default=1000, help="events per latency packet")
    parser.add_argument("--latency-packets", type=int, default=2000, help="packets per latency run")
    parser.add_argument("--transports", default="tcp,ipc", help="comma-separated: tcp, ipc")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs per tool, alternating tools; medians and ranges are reported (default 3)")


def _events(n: int) -> np.ndarray:
    from evstream.events import make_events

    rng = np.random.default_rng(7)
    return make_events(np.sort(rng.integers(0, 10**6, n)), rng.integers(0, 640, n), rng.integers(0, 480, n),
                       rng.integers(0, 2, n))


# -- sender processes (run in a spawned child) ------------------------------------------
def _send(tool: str, address: str, n_events: int, packets: int, period_s: float, result: Any) -> None:
    """Send ``packets`` packets of ``n_events`` events, one every ``period_s`` s (0: back to back).

    Sends the CPU seconds this process spent (all threads) from the first packet
    to the closed socket through the ``result`` pipe end.
    """
    import zmq

    from evstream.events import EventPacket
    from evstream.transport import Sender, SocketConfig

    events = _events(n_events)
    packet = EventPacket(events, 640, 480)
    start = time.perf_counter()
    if tool == "evstream":
        sender = Sender(SocketConfig(address, bind=False, hwm=100, linger_ms=10_000), mode="push")
        sender.open()
        send = sender.send
    else:
        ctx = zmq.Context()
        sock = ctx.socket(zmq.PUSH)
        sock.sndhwm = 100
        sock.connect(address)
        counter = iter(range(packets + 1))
        body = memoryview(events).cast("B")

        def send(_: Any) -> None:
            sock.send_multipart([_RAW_HEAD.pack(next(counter), time.time_ns()), body], copy=False, track=False)
    cpu = time.process_time()
    for i in range(packets):
        if period_s:
            delay = start + i * period_s - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        send(packet)
    if tool == "evstream":
        sender.close()
    else:
        sock.send_multipart([_RAW_HEAD.pack(packets, time.time_ns())])
        sock.close(linger=10_000)
        ctx.term()
    result.send(time.process_time() - cpu)


# -- receivers (in the benchmark process) ---------------------------------------------------
def _run_case(tool: str, address: str, n_events: int, packets: int,
              period_s: float) -> tuple[float, list[float], int, float]:
    """Start a sender process and receive until its end marker.

    Returns ``(seconds from the first packet to the last, latencies in ms, events
    received, CPU µs per packet of both processes)``. CPU time does not depend
    on what else the machine runs the way wall time does.
    """
    import zmq

    from evstream.events import EVENT_DTYPE
    from evstream.transport import Receiver, SocketConfig
    from evstream.transport.receiver import keep_freed_buffers

    keep_freed_buffers()

    latencies: list[float] = []
    events = 0
    first = last = cpu_first = 0.0
    if tool == "evstream":
        receiver = Receiver(SocketConfig(address, bind=True, hwm=100), mode="pull")
        receiver.open()
    else:
        ctx = zmq.Context()
        sock = ctx.socket(zmq.PULL)
        sock.rcvhwm = 100
        sock.bind(address)
    spawn = multiprocessing.get_context("spawn")
    result, child_result = spawn.Pipe(duplex=False)
    child = spawn.Process(target=_send, args=(tool, address, n_events, packets, period_s, child_result))
    child.start()
    try:
        while True:
            if tool == "evstream":
                msg = receiver.recv(30_000)
                if msg is None:
                    raise RuntimeError("evstream receiver timed out")
                if msg.kind == "eos":
                    break
                now_ns = time.time_ns()
                clock, n = msg.clock_ns, len(msg.packet)
            else:
                frames = sock.recv_multipart(copy=False)
                if len(frames) == 1:
                    break
                _, clock = _RAW_HEAD.unpack(frames[0].buffer)
                n = len(np.frombuffer(frames[1].buffer, dtype=EVENT_DTYPE))
                now_ns = time.time_ns()
            now = time.perf_counter()
            if not first:
                first, cpu_first = now, time.process_time()
            last = now
            latencies.append((now_ns - clock) / 1e6)
            events += n
        cpu_receiver = time.process_time() - cpu_first
    finally:
        child.join(60)
        if tool == "evstream":
            receiver.close()
        else:
            sock.close(linger=0)
            ctx.term()
    if len(latencies) != packets:
        raise RuntimeError(f"{tool} delivered {len(latencies)} of {packets} packets")
    cpu_sender = result.recv() if result.poll(10) else float("nan")
    return last - first, latencies, events, (cpu_sender / packets + cpu_receiver / max(1, packets - 1)) * 1e6


def _address(transport: str, folder: Path, name: str) -> str:
    if transport == "ipc":
        return f"ipc://{folder}/{name}.sock"
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{probe.getsockname()[1]}"


def _spread(values: list[float], name: str) -> dict[str, float]:
    """``{name: median, name_min: lowest, name_max: highest}`` of repeated runs."""
    return {name: float(np.median(values)), f"{name}_min": min(values), f"{name}_max": max(values)}


def run(args: argparse.Namespace) -> list[dict]:
    rows: list[dict] = []
    transports = [t.strip() for t in args.transports.split(",") if t.strip()]
    period = args.latency_packet_events / (args.rate_mev * 1e6)
    with tempfile.TemporaryDirectory(prefix="evstream-bench-zmq-") as tmp:
        folder = Path(tmp)
        for transport in transports:
            speeds: dict[str, list[float]] = {tool: [] for tool in _TOOLS}
            cpu: dict[str, list[float]] = {tool: [] for tool in _TOOLS}
            for _ in range(args.repeat):
                for tool in _TOOLS:
                    seconds, _, events, cpu_us = _run_case(tool, _address(transport, folder, f"t-{tool}"),
                                                           args.packet_events, args.packets, 0.0)
                    cpu[tool].append(cpu_us)
                    # the first packet starts the clock, so it does not count
                    speeds[tool].append((events - args.packet_events) / max(seconds, 1e-9) / 1e6)
            for tool in _TOOLS:
                rows.append({"case": f"throughput {transport} {args.packet_events // 1000}k-event packets",
                             "tool": tool, **_spread(speeds[tool], "mev_s"),
                             "cpu_us": float(np.median(cpu[tool])), "packets": args.packets, "runs": args.repeat})
            rows[-2]["ratio"] = rows[-2]["mev_s"] / rows[-1]["mev_s"]
            p50: dict[str, list[float]] = {tool: [] for tool in _TOOLS}
            p99: dict[str, list[float]] = {tool: [] for tool in _TOOLS}
            worst: dict[str, float] = dict.fromkeys(_TOOLS, 0.0)
            for _ in range(args.repeat):
                for tool in _TOOLS:
                    _, lat, _, _ = _run_case(tool, _address(transport, folder, f"l-{tool}"),
                                          args.latency_packet_events, args.latency_packets, period)
                    p50[tool].append(float(np.percentile(lat, 50)))
                    p99[tool].append(float(np.percentile(lat, 99)))
                    worst[tool] = max(worst[tool], max(lat))
            for tool in _TOOLS:
                rows.append({"case": f"latency {transport} {args.rate_mev:g} Mev/s", "tool": tool,
                             "p50_ms": float(np.median(p50[tool])), **_spread(p99[tool], "p99_ms"),
                             "max_ms": worst[tool], "packets": args.latency_packets, "runs": args.repeat})
            rows[-2]["ratio"] = rows[-1]["p99_ms"] / rows[-2]["p99_ms"]
    return rows
