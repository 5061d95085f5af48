"""nodes/zmq-send.toml and nodes/zmq-receive.toml run with `evstream run` in two processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from zmq_peer import free_port

REPO = Path(__file__).resolve().parents[2]


def _evstream_run(graph: str, *sets: str) -> subprocess.Popen:
    args = [sys.executable, "-m", "evstream", "run", str(REPO / "nodes" / graph), "--json", "--no-progress"]
    for item in sets:
        args += ["--set", item]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)


def _stats(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return json.loads(out)["nodes"]


@pytest.mark.parametrize("scheme", ["tcp", "ipc"])
def test_two_graph_files_stream_a_recording_between_processes(recording, scheme, tmp_path):
    path, events, _, _ = recording
    address = f"tcp://127.0.0.1:{free_port()}" if scheme == "tcp" else f"ipc://{tmp_path}/graph.sock"
    sender = _evstream_run("zmq-send.toml", f"src.path={path}", f"out.address={address}")
    receiver = _evstream_run("zmq-receive.toml", f"in.address={address}")
    got, sent = _stats(receiver), _stats(sender)
    out, inp = sent["out"], got["in"]
    assert out["events_in"] == len(events) and out["hwm_dropped"] == 0
    assert inp["events_out"] == len(events)
    assert inp["received"] == out["sent"] == out["packets_in"]
    assert (inp["gaps"], inp["joined_at"], sum(inp["rejected"].values())) == (0, 0, 0)
    assert inp["streams"]["events"]["sent"] == out["sent"]
    assert got["frames"]["events_in"] == len(events)
