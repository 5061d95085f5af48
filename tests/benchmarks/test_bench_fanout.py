"""Smoke test of ``evstream bench fanout``: a small run gives a row per tool and identical logits."""

from __future__ import annotations

import argparse

import pytest

from evstream.bench import fanout as bench


@pytest.mark.slow
def test_bench_fanout_rows_are_produced():
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    args = parser.parse_args(["--streams", "3", "--frames", "6", "--packet-frames", "2", "--workers", "2",
                              "--repeat", "1"])
    rows = bench.run(args)
    assert [r["tool"] for r in rows] == ["in-process", "fanout 2"]
    assert all(r["frames_s"] > 0 and r["ms_frame"] > 0 and r["identical"] for r in rows)
    assert rows[1]["workers_used"] == 2 and rows[1]["lost"] == 0 and rows[1]["ratio"] > 0


def test_stream_frames_cut_the_recording_into_offset_streams_of_whole_packets():
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    args = parser.parse_args([])
    streams = bench.stream_frames(args.model, args.recording, streams=2, frames=5, packet_frames=2)
    assert list(streams) == ["stream0", "stream1"]
    for packets in streams.values():
        assert [len(p) for p in packets] == [2, 2, 1] and [p.seq for p in packets] == [0, 1, 2]
        assert packets[0].data.shape[1:] == (2, 32, 32)
        assert (packets[0].t_end - packets[0].t_start == 50_000).all()
    assert streams["stream0"][0].t_start[0] < streams["stream1"][0].t_start[0]
    assert sum(float(p.data.sum()) for p in streams["stream0"]) > 0
