"""Sender and receiver as separate processes on loopback (tcp://127.0.0.1 and ipc://)."""

from __future__ import annotations

import json
import signal
import time

import numpy as np
import pytest

from zmq_peer import start_peer


def _lines(proc, timeout=60):
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out
    return [json.loads(line) for line in out.splitlines()]


@pytest.mark.parametrize("scheme", ["tcp", "ipc"])
def test_recording_arrives_bit_exact_over_pub_sub(recording, scheme, tcp_address, ipc_address, tmp_path):
    path, events, _, _ = recording
    address = tcp_address if scheme == "tcp" else ipc_address
    sender = start_peer("send", address, "--recording", str(path), "--wait-for", "1", "--packet-events", "777")
    receiver = start_peer("receive", address, "--out", str(tmp_path / "got.npy"))
    stats = _lines(receiver)[-1]
    sent = _lines(sender)[-1]
    got = np.load(tmp_path / "got.npy")
    assert np.array_equal(got, events)
    n_packets = -(-len(events) // 777)
    assert (sent["sent"], sent["hwm_dropped"], sent["subscribers"]) == (n_packets, 0, 1)
    assert (stats["received"], stats["gaps"], stats["joined_at"]) == (n_packets, 0, 0)
    assert stats["streams"]["events"]["sent"] == n_packets


def test_recording_arrives_bit_exact_over_push_pull(recording, ipc_address, tmp_path):
    path, events, _, _ = recording
    receiver = start_peer("receive", ipc_address, "--mode", "pull", "--out", str(tmp_path / "got.npy"))
    sender = start_peer("send", ipc_address, "--recording", str(path), "--mode", "push", "--packet-events", "5000")
    stats = _lines(receiver)[-1]
    _lines(sender)
    assert np.array_equal(np.load(tmp_path / "got.npy"), events)
    assert stats["gaps"] == 0 and stats["received"] == -(-len(events) // 5000)


def test_killed_and_restarted_receiver_loses_only_what_it_reports(recording, tcp_address, tmp_path):
    """The first receiver is killed mid-stream; the second joins late. Counters explain every packet."""
    path, events, _, _ = recording
    size = 500
    n_packets = -(-len(events) // size)
    first = start_peer("receive", tcp_address)
    sender = start_peer("send", tcp_address, "--recording", str(path), "--wait-for", "1",
                        "--packet-events", str(size), "--pace-ms", "15")
    seen_first = []
    while len(seen_first) < 40:
        seen_first.append(json.loads(first.stdout.readline())["pseq"])
    first.send_signal(signal.SIGKILL)
    first.wait()
    time.sleep(0.3)  # packets sent now reach nobody
    second = start_peer("receive", tcp_address, "--out", str(tmp_path / "second.npy"))
    lines = _lines(second)
    _lines(sender)
    stats, seen_second = lines[-1], [line["pseq"] for line in lines[:-1]]
    got = np.load(tmp_path / "second.npy")

    assert seen_first == list(range(40))
    assert seen_second == list(range(seen_second[0], n_packets)), "the second receiver missed packets silently"
    assert stats["received"] == len(seen_second)
    assert stats["received"] + stats["gaps"] + stats["joined_at"] == n_packets
    assert stats["joined_at"] == seen_second[0] > 40
    assert np.array_equal(got, events[seen_second[0] * size:])


def test_hwm_drops_are_counted_exactly(recording, ipc_address):
    """A slow subscriber behind a tiny HWM loses packets; sender and receiver count each one."""
    path, events, _, _ = recording
    size = 200
    n_packets = -(-len(events) // size)
    sender = start_peer("send", ipc_address, "--recording", str(path), "--wait-for", "1", "--on-full", "drop",
                        "--hwm", "2", "--packet-events", str(size))
    receiver = start_peer("receive", ipc_address, "--hwm", "2", "--slow-ms", "5")
    lines = _lines(receiver)
    sent = _lines(sender)[-1]
    stats, seqs = lines[-1], [line["pseq"] for line in lines[:-1]]
    assert sent["sent"] + sent["hwm_dropped"] == n_packets
    assert sent["hwm_dropped"] > 0, "the test did not overflow the HWM"
    assert stats["gaps"] == sent["hwm_dropped"]
    assert stats["received"] == len(seqs) == len(set(seqs))
    assert stats["received"] + stats["gaps"] + stats["joined_at"] == n_packets
    assert seqs == sorted(seqs)


def test_receiver_follows_a_restarted_sender(recording, tcp_address):
    """The sender process runs twice on the same address; the receiver reconnects and counts the restart."""
    from evstream.transport import Receiver, SocketConfig

    path, events, _, _ = recording
    n_packets = -(-len(events) // 5000)
    with Receiver(SocketConfig(tcp_address, bind=False)) as receiver:
        runs = []
        for _ in range(2):
            sender = start_peer("send", tcp_address, "--recording", str(path), "--wait-for", "1",
                                "--packet-events", "5000")
            got = []
            deadline = time.monotonic() + 60
            while not got or got[-1].kind != "eos":
                assert time.monotonic() < deadline, "the restarted sender's stream did not arrive"
                msg = receiver.recv(100)
                if msg is not None:
                    got.append(msg)
            _lines(sender)
            runs.append(got)
        stats = receiver.stats()
    for got in runs:
        assert np.array_equal(np.concatenate([m.packet.events for m in got[:-1]]), events)
    assert runs[0][0].session != runs[1][0].session
    assert (stats["received"], stats["gaps"], stats["joined_at"], stats["restarts"]) == (2 * n_packets, 0, 0, 1)
