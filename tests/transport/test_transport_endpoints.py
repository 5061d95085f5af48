"""Endpoints in one process: rejects over a real socket, CURVE, conflation, address safety, nodes."""

from __future__ import annotations

import time

import numpy as np
import pytest
import zmq

from evstream.cli.main import main as cli
from evstream.events import EVENT_DTYPE, EventPacket
from evstream.graph.node import ParamError
from evstream.packets import LabelPacket
from evstream.transport import CurveKeys, Receiver, Sender, SocketConfig, TransportError
from evstream.transport.nodes import ReceiveNode, SendNode
from evstream.transport.wire import WIRE_VERSION, encode


def _packets(events, size=1000, n=10, width=320, height=240):
    return [EventPacket(events[i * size:(i + 1) * size], width, height, seq=i) for i in range(n)]


def _drain(receiver: Receiver, timeout_s: float = 10.0) -> list:
    """Messages until the end of stream (or the timeout)."""
    out = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        msg = receiver.recv(100)
        if msg is not None:
            out.append(msg)
            if msg.kind == "eos":
                break
    return out


def test_bad_messages_over_a_socket_are_counted_and_the_stream_goes_on(recording, ipc_address):
    _, events, width, height = recording
    receiver = Receiver(SocketConfig(ipc_address, bind=True), mode="pull", max_bytes=64 * 1024)
    receiver.open()
    ctx = zmq.Context()
    push = ctx.socket(zmq.PUSH)
    push.connect(ipc_address)
    good = encode(EventPacket(events[:100], width, height), "events", "s1", 0, time.time_ns())
    name, _, header = good[0].partition(b"\0")
    other_version = header[:4] + bytes([WIRE_VERSION + 1]) + header[5:]
    try:
        push.send_multipart([b"garbage"])
        push.send_multipart([name + b"\0" + other_version, good[1]])
        push.send_multipart(encode(EventPacket(events[:5000], width, height), "events", "s1", 1, 0))  # 80 kB
        push.send_multipart([name + b"\0\x80\x04\x95pickle", good[1]])
        push.send_multipart([bytes(f) for f in encode(EventPacket(events[100:200], width, height),
                                                       "events", "s1", 2, time.time_ns())])
        msg = None
        deadline = time.monotonic() + 10
        while msg is None and time.monotonic() < deadline:
            msg = receiver.recv(100)
        assert msg is not None and np.array_equal(msg.packet.events, events[100:200])
        stats = receiver.stats()
        assert stats["rejected"] == {"malformed": 2, "oversize": 1, "version": 1}
        assert stats["received"] == 1 and stats["joined_at"] == 2
    finally:
        push.close(linger=0)
        ctx.term()
        receiver.close()


@pytest.fixture(scope="module")
def curve_keys(tmp_path_factory):
    folder = tmp_path_factory.mktemp("keys")
    for args in (["keys", str(folder), "--name", "server"], ["keys", str(folder / "clients"), "--name", "laptop"],
                 ["keys", str(folder), "--name", "stranger"]):
        assert cli(args) == 0
    return folder


def test_keys_command_refuses_to_overwrite(curve_keys, capsys):
    assert cli(["keys", str(curve_keys), "--name", "server"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert (curve_keys / "server.key_secret").stat().st_mode & 0o077 == 0


def test_curve_authorised_client_receives(recording, curve_keys, tcp_address):
    _, events, width, height = recording
    server = CurveKeys(secret=str(curve_keys / "server.key_secret"), clients=str(curve_keys / "clients"))
    client = CurveKeys(secret=str(curve_keys / "clients" / "laptop.key_secret"),
                       server_key=str(curve_keys / "server.key"))
    with Receiver(SocketConfig(tcp_address, bind=False, curve=client)) as receiver, \
            Sender(SocketConfig(tcp_address, bind=True, curve=server), wait_for=1, wait_timeout_s=10) as sender:
        for packet in _packets(events):
            sender.send(packet)
        sender.close()
        got = _drain(receiver)
    assert [m.kind for m in got] == ["events"] * 10 + ["eos"]
    assert np.array_equal(np.concatenate([m.packet.events for m in got[:-1]]), events[:10_000])


@pytest.mark.parametrize("who", ["stranger", "plaintext"])
def test_curve_rejects_unknown_and_plaintext_clients(curve_keys, tcp_address, who):
    server = CurveKeys(secret=str(curve_keys / "server.key_secret"), clients=str(curve_keys / "clients"))
    client = CurveKeys() if who == "plaintext" else CurveKeys(
        secret=str(curve_keys / "stranger.key_secret"), server_key=str(curve_keys / "server.key"))
    with Receiver(SocketConfig(tcp_address, bind=False, curve=client)):
        sender = Sender(SocketConfig(tcp_address, bind=True, curve=server), wait_for=1, wait_timeout_s=1.0)
        with pytest.raises(TransportError, match="no subscriber joined"):
            sender.open()


def test_curve_key_errors_are_one_line(tmp_path):
    with pytest.raises(TransportError, match="does not exist; create key files with `evstream keys DIR`"):
        Sender(SocketConfig("tcp://127.0.0.1:5999", bind=True,
                            curve=CurveKeys(secret=str(tmp_path / "nope.key_secret")))).open()


@pytest.mark.parametrize("address", ["tcp://0.0.0.0:5555", "tcp://*:5555", "tcp://192.168.1.2:5555"])
def test_binding_beyond_loopback_needs_public(address):
    with pytest.raises(TransportError, match="non-loopback"):
        Sender(SocketConfig(address, bind=True))
    Receiver(SocketConfig(address, bind=True, public=True))  # allowed when asked for (not opened)


@pytest.mark.parametrize("address", ["udp://127.0.0.1:5", "tcp://127.0.0.1", "inproc://x", "127.0.0.1:5555"])
def test_bad_addresses_are_user_errors(address):
    with pytest.raises(TransportError, match="address"):
        Receiver(SocketConfig(address, bind=False))


def test_conflating_receiver_gets_only_the_newest_packet(recording, ipc_address):
    _, events, width, height = recording
    with Receiver(SocketConfig(ipc_address, bind=False), conflate=True) as receiver, \
            Sender(SocketConfig(ipc_address, bind=True), wait_for=1) as sender:
        for packet in _packets(events, size=100, n=30):
            sender.send(packet)
        time.sleep(0.5)
        msg = receiver.recv(1000)
        assert msg.packet.seq == 29
        assert receiver.stats()["conflated"] == 29 and receiver.stats()["gaps"] == 0


def test_push_drop_mode_counts_what_it_could_not_send(recording, ipc_address):
    _, events, width, height = recording
    with Sender(SocketConfig(ipc_address, bind=True, hwm=1, linger_ms=0), mode="push", on_full="drop") as sender:
        results = [sender.send(p) for p in _packets(events, size=100, n=20)]  # nobody connected
        assert results == [False] * 20
        assert sender.stats()["hwm_dropped"] == 20 and sender.seq == 20


def test_nodes_stream_every_kind_as_plain_objects(ipc_address):
    send = SendNode("out", address=ipc_address, wait_for=1, stream="labels")
    recv = ReceiveNode("in", address=ipc_address, kind="labels")
    assert recv.output_kind == "labels"
    recv.start()
    send.start()
    labels = [LabelPacket(np.array([i]), np.array([0.5]), np.array([10 * i]), np.array([10 * i + 10]), seq=i)
              for i in range(5)]
    for packet in labels:
        send.consume(packet, "in")
    send.close()
    got = list(recv.generate())
    recv.close()
    assert [int(p.label[0]) for p in got] == [0, 1, 2, 3, 4]
    assert recv.stats_extra()["received"] == 5 and send.stats_extra()["sent"] == 5


def test_receive_node_skips_other_kinds_and_counts_them(ipc_address):
    send = SendNode("out", address=ipc_address, wait_for=1)
    recv = ReceiveNode("in", address=ipc_address, kind="frames", idle_timeout_s=5.0)
    recv.start()
    send.start()
    send.consume(EventPacket(np.empty(0, EVENT_DTYPE), 8, 8, 0, 10), "in")
    send.close()
    assert list(recv.generate()) == []
    recv.close()
    assert recv.stats_extra()["wrong_kind"] == 1


def test_node_parameters_are_checked():
    with pytest.raises(ParamError, match="mode"):
        SendNode("out", mode="broadcast")
    with pytest.raises(ParamError, match="kind"):
        ReceiveNode("in", kind="pictures")


def test_recv_returns_none_after_its_timeout_and_then_the_message(recording, ipc_address):
    _, events, width, height = recording
    with Receiver(SocketConfig(ipc_address, bind=True), mode="pull") as receiver:
        assert receiver.recv(200) is None
        assert receiver.recv(0) is None
        with Sender(SocketConfig(ipc_address, bind=False), mode="push") as sender:
            sender.send(EventPacket(events[:50], width, height))
            msg = receiver.recv(5000)
            assert msg is not None and np.array_equal(msg.packet.events, events[:50])
            assert receiver.recv(0) is None
