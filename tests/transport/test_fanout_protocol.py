"""Fan-out protocol in one process: the dispatcher against scripted DEALER workers, the merge against scripted pushes."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import zmq

from evstream.packets import FramePacket, TensorPacket
from evstream.transport import SocketConfig, TransportError
from evstream.transport.fanout import (ACK, BYE, END, FAIL, FRAMES, HELLO, LOST, RESET, RESULT, WELCOME, Dispatcher,
                                       control)
from evstream.transport.fanout_merge import Merger
from evstream.transport.wire import decode, encode


def _frame(seq: int) -> FramePacket:
    return FramePacket(np.full((1, 2, 4, 4), seq, np.float32), np.array([seq * 10]), np.array([seq * 10 + 10]), seq)


class FakeWorker:
    """A DEALER that speaks the worker side of the protocol by hand."""

    def __init__(self, ctx: zmq.Context, address: str, name: str) -> None:
        self.sock = ctx.socket(zmq.DEALER)
        self.sock.routing_id = name.encode()
        self.sock.linger = 0
        self.sock.connect(address)
        self.sock.send_multipart(control(HELLO))

    def recv(self) -> list[bytes]:
        assert self.sock.poll(5000), "the dispatcher sent nothing"
        return self.sock.recv_multipart()

    def take_frames(self) -> tuple[str, int]:
        """Receive one frame packet (skipping nothing else) and return its stream and sequence number."""
        frames = self.recv()
        assert frames[0] == FRAMES, frames[0]
        msg = decode(frames[1:], 1 << 20)
        return msg.stream, msg.seq

    def ack(self, stream: str, seq: int) -> None:
        self.sock.send_multipart(control(ACK, stream=stream, seq=seq))


@pytest.fixture
def setup(tcp_address, ipc_address):
    ctx = zmq.Context()
    merge = ctx.socket(zmq.PULL)
    merge.bind(ipc_address)
    dispatcher = Dispatcher(SocketConfig(tcp_address, bind=True, linger_ms=0), ipc_address, window=2,
                            timeout_s=60.0, wait_timeout_s=2.0, drain_timeout_s=0.2)
    dispatcher.open()
    workers: list[FakeWorker] = []

    def join(name: str) -> FakeWorker:
        workers.append(_join(ctx, dispatcher, name))
        return workers[-1]

    yield join, dispatcher, merge
    dispatcher.close()
    for worker in workers:
        worker.sock.close(0)
    merge.close(0)
    ctx.term()


def _until(dispatcher: Dispatcher, condition) -> None:
    """Let the dispatcher handle worker messages until ``condition()`` holds (5 s at most)."""
    deadline = time.monotonic() + 5
    while not condition() and time.monotonic() < deadline:
        dispatcher._poll(10)
    assert condition(), "the dispatcher did not get the workers' messages"


def _join(ctx: zmq.Context, dispatcher: Dispatcher, name: str) -> FakeWorker:
    """A fake worker that has registered and received its welcome."""
    worker = FakeWorker(ctx, dispatcher.config.address, name)
    _until(dispatcher, lambda: name.encode() in dispatcher.workers)
    frames = worker.recv()
    assert frames[0] == WELCOME and json.loads(frames[1])["results"] == dispatcher.results
    return worker


def test_streams_are_pinned_to_the_least_loaded_worker_and_a_new_worker_takes_new_streams(setup):
    join, dispatcher, _ = setup
    a = join("a")
    b = join("b")
    for name in ("s0", "s1", "s2"):
        dispatcher.send(name, _frame(0))
    assert [a.take_frames(), b.take_frames(), a.take_frames()] == [("s0", 0), ("s1", 0), ("s2", 0)]
    c = join("c")
    dispatcher.send("s3", _frame(0))
    dispatcher.send("s1", _frame(1))  # an existing stream stays where its state is
    assert (c.take_frames(), b.take_frames()) == (("s3", 0), ("s1", 1))
    assert dispatcher.stats()["per_stream"]["s3"]["worker"] == "c"


def test_window_holds_packets_until_acked(setup):
    join, dispatcher, _ = setup
    a = join("a")
    dispatcher.send("s", _frame(0))
    dispatcher.send("s", _frame(1))
    assert dispatcher.in_flight() == 2
    a.ack("s", 0)
    dispatcher.send("s", _frame(2))  # waits for the ack above, then sends
    assert [a.take_frames() for _ in range(3)] == [("s", 0), ("s", 1), ("s", 2)]
    assert dispatcher.stats()["acked"] == 1 and dispatcher.in_flight() == 2


@pytest.mark.parametrize("on_lost", ["resend", "drop"])
def test_a_leaving_worker_moves_its_streams_with_a_reset_and_its_packets_are_resent_or_declared_lost(setup, on_lost):
    join, dispatcher, merge = setup
    dispatcher.on_lost = on_lost
    a = join("a")
    b = join("b")
    dispatcher.send("s0", _frame(0))
    dispatcher.send("s1", _frame(0))
    dispatcher.send("s0", _frame(1))
    assert [a.take_frames(), b.take_frames(), a.take_frames()] == [("s0", 0), ("s1", 0), ("s0", 1)]
    a.ack("s0", 0)
    b.ack("s1", 0)
    a.sock.send_multipart(control(BYE))  # leaves with s0 #1 unacknowledged
    _until(dispatcher, lambda: dispatcher.stats()["left_bye"] == 1)
    dispatcher.send("s0", _frame(2))
    assert b.recv() == [RESET, b"s0"]
    expected = [("s0", 1), ("s0", 2)] if on_lost == "resend" else [("s0", 2)]
    assert [b.take_frames() for _ in expected] == expected
    stats = dispatcher.stats()
    assert (stats["left_bye"], stats["reassigned"], stats["workers"]) == (1, 1, 1)
    assert (stats["resent"], stats["lost"]) == ((1, 0) if on_lost == "resend" else (0, 1))
    if on_lost == "drop":
        op, body = merge.recv_multipart()
        assert op == LOST and json.loads(body)["seqs"] == [1] and json.loads(body)["stream"] == "s0"


def test_close_declares_unacknowledged_packets_lost_and_reports_per_stream_counts(setup):
    join, dispatcher, merge = setup
    a = join("a")
    for seq in range(2):
        dispatcher.send("s", _frame(seq))
    a.ack("s", 0)
    _until(dispatcher, lambda: dispatcher.stats()["acked"] == 1)
    dispatcher.close()
    lost, end = merge.recv_multipart(), merge.recv_multipart()
    assert lost[0] == LOST and json.loads(lost[1])["seqs"] == [1]
    assert end[0] == END and json.loads(end[1])["streams"] == {"s": 2}
    assert [a.take_frames(), a.take_frames(), a.recv()[0]] == [("s", 0), ("s", 1), END]
    stats = dispatcher.stats()
    assert (stats["packets"], stats["acked"], stats["lost"]) == (2, 1, 1)


def test_no_worker_is_a_clear_error(setup):
    _, dispatcher, _ = setup
    dispatcher.wait_timeout_s = 0.2
    with pytest.raises(TransportError, match="no worker joined within 0.2 s; start workers"):
        dispatcher.send("s", _frame(0))


def test_junk_from_workers_is_counted_and_ignored(setup):
    join, dispatcher, _ = setup
    a = join("a")
    for junk in ([b"hello"], [b"nope", b"{}"], [ACK, b"not json"], [ACK, b"[1]"], control(ACK, stream="s", seq=0)):
        a.sock.send_multipart(junk)
    _until(dispatcher, lambda: dispatcher.stats()["rejected"] == 5)
    assert dispatcher.stats()["rejected"] == 5 and dispatcher.stats()["workers"] == 1


# -- merge ------------------------------------------------------------------------------
def _result(stream: str, seq: int, session: str = "run1") -> list:
    packet = TensorPacket(np.full((1, 3), seq, np.float32), np.array([seq]), np.array([seq + 1]), seq)
    return [RESULT, *encode(packet, stream, session, seq, 0)]


@pytest.fixture
def merge(ipc_address):
    ctx = zmq.Context()
    merger = Merger(SocketConfig(ipc_address, bind=True))
    merger.open()
    push = ctx.socket(zmq.PUSH)
    push.connect(ipc_address)
    yield merger, push
    push.close(0)
    ctx.term()
    merger.close()


def _merged(merger: Merger) -> list[tuple[str, int]]:
    return [(name, int(p.data[0, 0])) for name, p in merger.results(idle_timeout_s=2.0)]


def test_merge_puts_each_stream_in_order_exactly_once(merge):
    merger, push = merge
    for stream, seq in [("a", 1), ("b", 0), ("a", 2), ("a", 0), ("b", 1), ("a", 1)]:
        push.send_multipart(_result(stream, seq))
    push.send_multipart(control(END, session="run1", streams={"a": 3, "b": 2}))
    assert _merged(merger) == [("b", 0), ("a", 0), ("a", 1), ("a", 2), ("b", 1)]
    assert merger.complete()
    stats = merger.stats()
    assert (stats["delivered"], stats["duplicates"], stats["lost"], stats["pending"]) == (5, 1, 0, 0)


def test_merge_skips_declared_losses_and_counts_late_and_recovered_results(merge):
    merger, push = merge
    push.send_multipart(_result("a", 0))
    push.send_multipart(control(LOST, session="run1", stream="a", seqs=[0, 1, 3]))  # 0 already handed out
    push.send_multipart(_result("a", 3))  # arrives before the merge reached it: recovered
    push.send_multipart(_result("a", 2))
    push.send_multipart(_result("a", 1))  # skipped already: a late duplicate
    push.send_multipart(_result("a", 0, session="run0"))  # another dispatcher run
    push.send_multipart([b"garbage"])
    push.send_multipart([RESULT, b"a\0{not json"])
    push.send_multipart(control(END, session="run1", streams={"a": 4}))
    assert _merged(merger) == [("a", 0), ("a", 2), ("a", 3)]
    per = merger.stats()["per_stream"]["a"]
    assert (per["delivered"], per["lost"], per["recovered"], per["duplicates"]) == (3, 1, 2, 1)
    assert per["delivered"] + per["lost"] == 4
    stats = merger.stats()
    assert stats["other_session"] == 1 and stats["rejected"]["malformed"] == 2


def test_a_worker_failure_reaches_the_user_as_one_clear_error(setup):
    join, dispatcher, _ = setup
    a = join("a")
    dispatcher.send("s", _frame(0))
    a.sock.send_multipart(control(FAIL, error="node 'a/s': frames of shape (2, 4, 4) but the checkpoint expects"))
    with pytest.raises(TransportError, match=r"^fan-out worker a: node 'a/s': frames of shape \(2, 4, 4\)"):
        for seq in range(1, 3):  # the window (2) fills: the second send waits, and sees the failure
            dispatcher.send("s", _frame(seq))
