"""DV TCP event streams: serve events to DV tools and read events from them.

* :class:`DvServer` plays dv-processing's ``NetworkWriter``: it listens, sends
  each client the IOHeader, then every packet written after the client
  joined. A client that cannot keep up for ``send_timeout_s`` or goes away is
  dropped and counted; the others go on.
* :class:`DvClient` plays ``NetworkReader``: it connects, reads the IOHeader
  and yields :class:`~evstream.events.EventPacket`s; with ``reconnect`` it
  waits for the server to come back and resumes (a DV server keeps no
  history, so what it sent meanwhile is gone).

Byte layouts are in :mod:`.dv_format`. TLS and UNIX sockets are not supported.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from evstream.events import EventPacket
from evstream.transport.dv_format import (
    COMPRESSION,
    MAX_HEADER_BYTES,
    MAX_PACKET_BYTES,
    PACKET_HEADER,
    DvFormatError,
    StreamInfo,
    compress,
    decode_events,
    decode_header,
    decompress,
    encode_events,
    encode_header,
)
from evstream.transport.sockets import TransportError, check_address

__all__ = ["DvClient", "DvServer", "host_port"]

log = logging.getLogger(__name__)
_POLL_S = 0.1


def host_port(address: str, bind: bool, public: bool) -> tuple[str, int]:
    """``(host, port)`` of a ``tcp://host:port`` address (:class:`TransportError` otherwise)."""
    check_address(address, bind, public)
    if not address.startswith("tcp://"):
        raise TransportError(f"DV streams need a tcp://host:port address (got {address!r})")
    host, _, port = address[len("tcp://"):].rpartition(":")
    return host.strip("[]"), int(port)


class DvServer:
    """Serve events of one sensor as a DV TCP stream.

    Args:
        address: ``tcp://host:port`` to listen on (loopback unless ``public``).
        width, height: sensor geometry announced to clients (pixels).
        compression: ``"none"``, ``"lz4"`` or ``"zstd"``.
        source: camera name announced to clients.
        max_clients: connections beyond this are refused.
        send_timeout_s: a client that does not take a packet within this time is dropped (s).
    """

    def __init__(self, address: str, width: int, height: int, *, public: bool = False,
                 compression: str = "none", source: str = "evstream", max_clients: int = 10,
                 send_timeout_s: float = 5.0) -> None:
        if compression not in COMPRESSION:
            raise TransportError(f"compression must be one of {', '.join(COMPRESSION)} (got {compression!r})")
        self.host, self.port = host_port(address, True, public)
        self.info = StreamInfo(0, "EVTS", width, height, source, COMPRESSION[compression])
        self.max_clients = max_clients
        self.send_timeout_s = send_timeout_s
        self.packets = 0
        self.events = 0
        self.accepted = 0
        self.dropped_clients = 0
        self._clients: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def open(self) -> None:
        """Listen and start accepting clients (:class:`TransportError` when the port is taken)."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((self.host, self.port))
        except OSError as exc:
            listener.close()
            raise TransportError(f"cannot listen on tcp://{self.host}:{self.port}: {exc.strerror}") from None
        listener.listen(self.max_clients)
        listener.settimeout(_POLL_S)
        self._listener = listener
        self._thread = threading.Thread(target=self._accept_loop, name=f"dv-server-{self.port}", daemon=True)
        self._thread.start()

    @property
    def address(self) -> tuple[str, int]:
        """The bound ``(host, port)`` (the real port when 0 was asked)."""
        return self._listener.getsockname()[:2] if self._listener is not None else (self.host, self.port)

    def _accept_loop(self) -> None:
        header = encode_header(self.info)
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            with self._lock:
                if len(self._clients) >= self.max_clients:
                    conn.close()
                    continue
                conn.settimeout(self.send_timeout_s)
                try:
                    conn.sendall(header)
                except OSError:
                    conn.close()
                    continue
                self._clients.append(conn)
                self.accepted += 1

    def wait_for_clients(self, count: int, timeout_s: float) -> None:
        """Block until ``count`` clients are connected (:class:`TransportError` after ``timeout_s``)."""
        deadline = time.monotonic() + timeout_s
        while self.clients < count:
            if time.monotonic() > deadline:
                raise TransportError(f"no DV client connected to tcp://{self.host}:{self.port} within {timeout_s} s")
            time.sleep(0.01)

    @property
    def clients(self) -> int:
        with self._lock:
            return len(self._clients)

    def send(self, events: np.ndarray) -> None:
        """Send one packet of events to every connected client (nothing for an empty array)."""
        if len(events) == 0:
            return
        payload = compress(encode_events(events), self.info.compression)
        message = PACKET_HEADER.pack(self.info.stream_id, len(payload)) + payload
        with self._lock:
            for conn in list(self._clients):
                try:
                    conn.sendall(message)
                except OSError:
                    self._clients.remove(conn)
                    conn.close()
                    self.dropped_clients += 1
        self.packets += 1
        self.events += len(events)

    def close(self) -> None:
        """Stop accepting and disconnect every client."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._lock:
            for conn in self._clients:
                conn.close()
            self._clients.clear()

    def stats(self) -> dict[str, Any]:
        """Counters: ``packets``, ``events`` sent, ``clients`` now, ``accepted`` and ``dropped_clients``."""
        return {"packets": self.packets, "events": self.events, "clients": self.clients,
                "accepted": self.accepted, "dropped_clients": self.dropped_clients}


class _Closed(Exception):
    """The server closed the connection."""


class DvClient:
    """Read events from a DV TCP server.

    Args:
        address: ``tcp://host:port`` of the server.
        reconnect: when the connection drops, wait for the server and go on.
        connect_timeout_s: how long to try connecting (at start and after a drop, s).
    """

    def __init__(self, address: str, *, reconnect: bool = True, connect_timeout_s: float = 10.0) -> None:
        self.host, self.port = host_port(address, False, False)
        self.reconnect = reconnect
        self.connect_timeout_s = connect_timeout_s
        self.info: StreamInfo | None = None
        self.packets = 0
        self.events = 0
        self.connections = 0
        self.rejected = 0
        self._sock: socket.socket | None = None

    def _connect(self, stop: threading.Event) -> bool:
        """Connect and read the IOHeader; ``False`` when no server answered in time or ``stop`` was set."""
        deadline = time.monotonic() + self.connect_timeout_s
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                sock = socket.create_connection((self.host, self.port), timeout=_POLL_S)
            except OSError:
                time.sleep(_POLL_S)
                continue
            self._sock = sock
            try:
                size = int.from_bytes(self._read(4, stop), "little")
                if not 12 <= size <= MAX_HEADER_BYTES:
                    raise DvFormatError(f"IOHeader size {size} outside 12..{MAX_HEADER_BYTES} bytes")
                info = decode_header(bytes(self._read(size, stop)))
            except _Closed:
                self.close()
                continue
            except DvFormatError as exc:
                self.close()
                raise TransportError(f"tcp://{self.host}:{self.port} is not a DV event stream: {exc}") from None
            if info.type_identifier != "EVTS":
                self.close()
                raise TransportError(f"tcp://{self.host}:{self.port} serves {info.type_identifier!r} packets, "
                                     "not events (EVTS)")
            self.info = info
            self.connections += 1
            return True
        return False

    def _read(self, n: int, stop: threading.Event) -> bytearray:
        """Exactly ``n`` bytes from the socket; raises :class:`_Closed` on EOF, error or ``stop``."""
        buf = bytearray(n)
        view = memoryview(buf)
        got = 0
        while got < n:
            if stop.is_set():
                raise _Closed
            try:
                k = self._sock.recv_into(view[got:])
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                raise _Closed from None
            if k == 0:
                raise _Closed
            got += k
        return buf

    def _packets_of_connection(self, stop: threading.Event) -> Iterator[np.ndarray]:
        """Event arrays of one connection until it closes."""
        while True:
            stream_id, size = PACKET_HEADER.unpack(self._read(PACKET_HEADER.size, stop))
            if not 0 <= size <= MAX_PACKET_BYTES:
                log.warning("DV packet of %d bytes from tcp://%s:%d: closing", size, self.host, self.port)
                self.rejected += 1
                return
            payload = self._read(size, stop)
            if stream_id != self.info.stream_id:
                continue
            try:
                yield decode_events(decompress(payload, self.info.compression))
            except DvFormatError as exc:
                self.rejected += 1
                log.debug("rejected DV packet: %s", exc)

    def stream(self, stop: threading.Event | None = None) -> Iterator[EventPacket]:
        """Yield event packets until the server goes away (for good, with ``reconnect``) or ``stop`` is set.

        Consecutive packets cover adjacent time ranges: each starts where the
        previous one ended (the first at its first event) and ends one µs after
        its last event. Raises :class:`TransportError` when no server answers at first.
        """
        stop = stop or threading.Event()
        if not self._connect(stop):
            if stop.is_set():
                return
            raise TransportError(f"no DV server answered at tcp://{self.host}:{self.port} "
                                 f"within {self.connect_timeout_s} s")
        t_end = None
        while True:
            try:
                for events in self._packets_of_connection(stop):
                    if len(events) == 0:
                        continue
                    t_start = int(events["t"][0]) if t_end is None else min(t_end, int(events["t"][0]))
                    t_end = max(t_start, int(events["t"][-1]) + 1)
                    yield EventPacket(events, self.info.width, self.info.height, t_start, t_end, self.packets)
                    self.packets += 1
                    self.events += len(events)
            except _Closed:
                pass
            self.close()
            if stop.is_set() or not self.reconnect or not self._connect(stop):
                return

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def stats(self) -> dict[str, Any]:
        """Counters: ``packets``, ``events`` received, ``connections`` made, ``rejected`` packets."""
        return {"packets": self.packets, "events": self.events, "connections": self.connections,
                "rejected": self.rejected}
