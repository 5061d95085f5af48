"""A sender or receiver process for the transport tests (``python zmq_peer.py send|receive ...``).

``send`` streams a recording, cut into fixed-size packets, and prints the
sender's stats as JSON. ``receive`` prints one JSON line per packet
(``{"pseq": .., "n": ..}``, flushed, so a killed receiver leaves a record of
what it got), writes the received events to ``--out`` (.npy) and prints its
stats as the last line.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from evstream.events import EVENT_DTYPE, EventPacket, as_events


def load_recording(path: Path) -> tuple[np.ndarray, int, int]:
    """Events, width and height of an AEDAT 4 recording, read with the ``aedat`` peer library."""
    import aedat

    decoder = aedat.Decoder(str(path))
    stream_id, info = next((i, s) for i, s in decoder.id_to_stream().items() if s["type"] == "events")
    chunks = [p["events"] for p in decoder if p["stream_id"] == stream_id and "events" in p]
    return as_events(np.concatenate(chunks)), info["width"], info["height"]


def packets_of(events: np.ndarray, width: int, height: int, size: int) -> list[EventPacket]:
    """Cut ``events`` into packets of ``size`` events covering adjacent time ranges."""
    out = []
    t0 = int(events["t"][0])
    for seq, i in enumerate(range(0, len(events), size)):
        chunk = events[i:i + size]
        t1 = int(events["t"][i + size]) if i + size < len(events) else int(chunk["t"][-1]) + 1
        out.append(EventPacket(chunk, width, height, t0, max(t0, t1), seq))
        t0 = max(t0, t1)
    return out


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_peer(*args: str) -> subprocess.Popen:
    """Run ``zmq_peer.py ARGS`` in its own Python process (stdout captured as text)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), *sys.path])}
    return subprocess.Popen([sys.executable, str(Path(__file__)), *args], stdout=subprocess.PIPE, text=True, env=env)


def _send(args: argparse.Namespace) -> None:
    from evstream.transport import Sender, SocketConfig

    events, width, height = load_recording(args.recording)
    sender = Sender(SocketConfig(args.address, bind=True, hwm=args.hwm), mode=args.mode, stream=args.stream,
                    on_full=args.on_full, wait_for=args.wait_for)
    sender.open()
    for packet in packets_of(events, width, height, args.packet_events):
        sender.send(packet)
        if args.pace_ms:
            time.sleep(args.pace_ms / 1000)
    sender.close()
    print(json.dumps(sender.stats()), flush=True)


def _receive(args: argparse.Namespace) -> None:
    from evstream.transport import Receiver, SocketConfig

    receiver = Receiver(SocketConfig(args.address, bind=False, hwm=args.hwm), mode=args.mode)
    receiver.open()
    got = []
    idle_since = time.monotonic()
    while time.monotonic() - idle_since < args.idle_timeout_s:
        msg = receiver.recv(100)
        if msg is None:
            continue
        idle_since = time.monotonic()
        if msg.kind == "eos":
            break
        got.append(msg.packet.events.copy())
        print(json.dumps({"pseq": msg.packet.seq, "n": len(msg.packet)}), flush=True)
        if args.slow_ms:
            time.sleep(args.slow_ms / 1000)
    if args.out:
        np.save(args.out, np.concatenate(got) if got else np.empty(0, dtype=EVENT_DTYPE))
    print(json.dumps(receiver.stats()), flush=True)
    receiver.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="role", required=True)
    send = sub.add_parser("send")
    send.add_argument("address")
    send.add_argument("--recording", type=Path, required=True)
    send.add_argument("--mode", default="pub")
    send.add_argument("--stream", default="events")
    send.add_argument("--on-full", default="block")
    send.add_argument("--hwm", type=int, default=1000)
    send.add_argument("--wait-for", type=int, default=0)
    send.add_argument("--packet-events", type=int, default=1000)
    send.add_argument("--pace-ms", type=float, default=0.0)
    receive = sub.add_parser("receive")
    receive.add_argument("address")
    receive.add_argument("--mode", default="sub")
    receive.add_argument("--hwm", type=int, default=1000)
    receive.add_argument("--out", type=Path)
    receive.add_argument("--slow-ms", type=float, default=0.0)
    receive.add_argument("--idle-timeout-s", type=float, default=20.0)
    args = parser.parse_args(argv)
    _send(args) if args.role == "send" else _receive(args)


if __name__ == "__main__":
    sys.exit(main())
