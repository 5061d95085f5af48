"""DV TCP interop: dv-processing's NetworkWriter / NetworkReader on the other end, in another process."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from evstream.transport import TransportError
from evstream.transport.dv import DvClient, DvServer
from evstream.transport.dv_format import encode_events
from zmq_peer import free_port

DV_PEER = Path(__file__).with_name("dv_peer.py")
pytest.importorskip("dv_processing")


def _dv_peer(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(DV_PEER), *args])


@pytest.mark.parametrize("compression", ["NONE", "LZ4", "ZSTD"])
def test_events_from_dv_network_writer_arrive_bit_exact(recording, compression):
    path, events, width, height = recording
    port = free_port()
    peer = _dv_peer("serve", str(port), str(path), compression)
    client = DvClient(f"tcp://127.0.0.1:{port}", reconnect=False)
    packets = list(client.stream())
    assert peer.wait(30) == 0
    got = np.concatenate([p.events for p in packets])
    assert np.array_equal(got, events)
    assert (packets[0].width, packets[0].height) == (width, height)
    assert all(a.t_end == b.t_start for a, b in zip(packets, packets[1:]))
    assert client.info.source == "dv-peer" and client.stats()["events"] == len(events)


@pytest.mark.parametrize("compression", ["none", "lz4", "zstd"])
def test_dv_network_reader_reads_our_server_bit_exact(recording, compression, tmp_path):
    _, events, width, height = recording
    port = free_port()
    server = DvServer(f"tcp://127.0.0.1:{port}", width, height, compression=compression, source="evstream-test")
    server.open()
    try:
        peer = _dv_peer("read", str(port), str(len(events)), str(tmp_path / "got.npz"))
        server.wait_for_clients(1, 20)
        for i in range(0, len(events), 4096):
            server.send(events[i:i + 4096])
        assert peer.wait(30) == 0
    finally:
        server.close()
    got = np.load(tmp_path / "got.npz")
    for field, column in (("t", "t"), ("x", "x"), ("y", "y"), ("p", "p")):
        np.testing.assert_array_equal(got[column], events[field])
    assert list(got["size"]) == [width, height] and str(got["camera"]) == "evstream-test"


def _wait_until(condition, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_client_reconnects_when_the_server_restarts(recording):
    _, events, width, height = recording
    address = f"tcp://127.0.0.1:{free_port()}"
    client = DvClient(address, reconnect=True, connect_timeout_s=2)
    received: list[np.ndarray] = []
    thread = threading.Thread(target=lambda: received.extend(p.events for p in client.stream()))
    cuts = (0, 3000, 5000)
    for k, (start, stop) in enumerate(zip(cuts, cuts[1:])):
        server = DvServer(address, width, height)
        server.open()
        if k == 0:
            thread.start()
        server.wait_for_clients(1, 10)
        server.send(events[start:stop])
        _wait_until(lambda: sum(map(len, received)) >= stop)
        server.close()
    thread.join(10)
    assert not thread.is_alive()
    assert np.array_equal(np.concatenate(received), events[:5000])
    assert client.stats()["connections"] == 2


def test_client_rejects_a_server_that_is_not_dv():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]

        def answer() -> None:
            conn, _ = listener.accept()
            conn.sendall((200).to_bytes(4, "little") + b"HTTP/1.1 400 Bad Request\r\n".ljust(200, b" "))
            conn.close()

        threading.Thread(target=answer, daemon=True).start()
        with pytest.raises(TransportError, match="not a DV event stream"):
            list(DvClient(f"tcp://127.0.0.1:{port}", reconnect=False).stream())


def test_client_without_server_raises_one_clear_error():
    with pytest.raises(TransportError, match="no DV server answered"):
        list(DvClient(f"tcp://127.0.0.1:{free_port()}", connect_timeout_s=0.3).stream())


def test_corrupt_packets_are_counted_and_skipped(recording):
    _, events, width, height = recording
    address = f"tcp://127.0.0.1:{free_port()}"
    server = DvServer(address, width, height)
    server.open()
    client = DvClient(address, reconnect=False)
    out: list = []
    thread = threading.Thread(target=lambda: out.extend(client.stream()))
    thread.start()
    server.wait_for_clients(1, 10)
    bad = bytearray(encode_events(events[:10]))
    bad[8:12] = b"FRME"
    with server._lock:
        server._clients[0].sendall((0).to_bytes(4, "little") + len(bad).to_bytes(4, "little") + bad)
    server.send(events[10:20])
    server.close()
    thread.join(10)
    assert client.stats()["rejected"] == 1
    assert np.array_equal(np.concatenate([p.events for p in out]), events[10:20])


def test_dv_nodes_chain_as_plain_objects(recording):
    from evstream.events import EventPacket
    from evstream.transport.nodes import DvReceiveNode, DvSendNode

    _, events, width, height = recording
    address = f"tcp://127.0.0.1:{free_port()}"
    send = DvSendNode("dv_out", address=address)
    recv = DvReceiveNode("dv_in", address=address, reconnect=False)
    received: list = []
    send.consume(EventPacket(events[:2000], width, height), "in")  # opens the server
    thread = threading.Thread(target=lambda: received.extend(recv.generate()))
    thread.start()
    _wait_until(lambda: send.stats_extra()["clients"] == 1)
    send.consume(EventPacket(events[2000:6000], width, height), "in")
    _wait_until(lambda: sum(map(len, received)) >= 4000)
    send.close()
    thread.join(10)
    recv.close()
    assert np.array_equal(np.concatenate([p.events for p in received]), events[2000:6000])
    assert (received[0].width, received[0].height) == (width, height)
    assert recv.stats_extra()["packets"] == 1 and send.stats_extra()["packets"] == 2
