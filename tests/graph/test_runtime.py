"""The threaded runtime: lossless and dropping edges, end of stream, stop on signals, errors."""

from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import pytest

from evstream.errors import UserError
from evstream.graph import Graph, NodeError, load_graph
from evstream.graph.builtin import CountSink, Identity, SyntheticSource
from tests.graph.testnodes import Collect, Scale


def _evstream_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("evstream:")]


def test_block_policy_is_lossless_and_ordered():
    g = Graph()
    src = g.add(SyntheticSource("src", events=50_000, packet=500))
    out = g.add(CountSink("out", delay_ms=0.2), input=src, policy="block", queue=2)
    stats = g.run()
    assert out.items == 50_000 and out.seqs == list(range(100))
    assert stats["nodes"]["out"]["dropped"] == 0
    assert stats["nodes"]["out"]["queue_max"] <= 2


def test_drop_oldest_counts_every_drop_exactly():
    g = Graph()
    src = g.add(SyntheticSource("src", events=300_000, packet=1_000))
    out = g.add(CountSink("out", delay_ms=2.0), input=src, policy="drop-oldest", queue=4)
    stats = g.run()
    produced = stats["nodes"]["src"]["packets_out"]
    delivered = out.packets
    dropped = stats["nodes"]["out"]["dropped"]
    assert produced == 300
    assert dropped > 0, "a 2 ms/packet sink must fall behind an unpaced source"
    assert produced == delivered + dropped
    assert out.seqs == sorted(out.seqs)          # drops never reorder
    assert out.seqs[-1] == 299                    # the newest packet always survives


def test_end_of_stream_through_a_diamond():
    g = Graph()
    src = g.add(SyntheticSource("src", events=20_000, packet=1_000))
    left = g.add(Identity("left"), input=src)
    right = g.add(Identity("right"), input=src)
    join = g.add(Identity("join"), input=[left, right])
    out = g.add(Collect("out"), input=join)
    stats = g.run()
    assert len(out.packets) == 40 and sum(len(p) for p in out.packets) == 40_000
    assert sorted(p.seq for p in out.packets) == sorted(list(range(20)) * 2)
    assert stats["nodes"]["join"]["packets_in"] == 40 and stats["stopped"] is None
    assert not _evstream_threads()


def test_python_graph_equals_toml_graph(tmp_path):
    path = tmp_path / "g.toml"
    path.write_text('[[node]]\nname = "src"\ntype = "core.synthetic"\nevents = 12345\npacket = 1000\nseed = 3\n'
                    '[[node]]\nname = "mid"\ntype = "core.identity"\ninput = "src"\n'
                    '[[node]]\nname = "out"\ntype = "test.collect"\ninput = "mid"\n')
    from_file = load_graph(path)
    from_file.run()
    g = Graph()
    src = g.add(SyntheticSource("src", events=12345, packet=1000, seed=3))
    out = g.add(Collect("out"), input=g.add(Identity("mid"), input=src))
    g.run()
    a, b = from_file.nodes["out"].packets, out.packets
    assert len(a) == len(b) == 13
    for pa, pb in zip(a, b):
        assert np.array_equal(pa.events, pb.events) and (pa.t_start, pa.t_end, pa.seq) == (pb.t_start, pb.t_end, pb.seq)


def test_sigint_stops_within_one_second_with_no_thread_left():
    g = Graph()
    src = g.add(SyntheticSource("src", events=10**12, packet=1_000, rate_hz=1e6, realtime=True))
    g.add(CountSink("out", delay_ms=1.0), input=g.add(Identity("mid"), input=src), queue=2)
    sent = []

    def interrupt() -> None:
        time.sleep(0.3)
        sent.append(time.perf_counter())
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt).start()
    stats = g.run()
    elapsed = time.perf_counter() - sent[0]
    assert stats["stopped"] == "SIGINT"
    assert elapsed < 1.0, f"shutdown took {elapsed:.2f} s"
    assert not _evstream_threads()
    assert stats["nodes"]["out"]["packets_in"] > 0


def test_stop_drains_what_was_already_read():
    g = Graph()
    src = g.add(SyntheticSource("src", events=10**9, packet=100))
    out = g.add(CountSink("out"), input=src, queue=64)
    threading.Timer(0.2, g.stop).start()
    stats = g.run()
    assert stats["stopped"] == "stopped"
    assert out.packets == stats["nodes"]["src"]["packets_out"]   # nothing in flight was lost


def test_user_error_in_a_node_is_raised_after_downstream_drains():
    g = Graph()
    src = g.add(SyntheticSource("src", events=10_000, packet=1_000))
    mid = g.add(Scale("mid", factor=1, fail_at=5), input=src)
    out = g.add(Collect("out"), input=mid)
    with pytest.raises(UserError, match="bad packet 5"):
        g.run()
    assert [p.seq for p in out.packets] == [0, 1, 2, 3, 4]
    assert not _evstream_threads()


def test_unexpected_error_names_the_node():
    g = Graph()
    src = g.add(SyntheticSource("src", events=10_000, packet=1_000))
    g.add(Collect("out"), input=g.add(Scale("mid", factor=1, fail_at=2, user_error=False), input=src))
    with pytest.raises(NodeError, match="node 'mid' \\(test.scale\\) failed: ZeroDivisionError"):
        g.run()


def test_stats_report_rates_latency_and_queues():
    g = Graph()
    src = g.add(SyntheticSource("src", events=100_000, packet=1_000))
    g.add(CountSink("out"), input=src)
    s = g.run()["nodes"]
    assert s["src"]["events_out"] == 100_000 and s["out"]["events_in"] == 100_000
    assert s["out"]["events_per_s"] > 0
    assert 0 < s["out"]["p50_us"] <= s["out"]["p99_us"] <= s["out"]["max_us"]
    assert s["out"]["inputs"][0]["sent"] == s["out"]["inputs"][0]["delivered"] == 100
