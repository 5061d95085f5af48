"""The CLI skeleton: --help, --version, run on a shipped graph file, nodes listing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from evstream import __version__
from evstream.cli.main import main

REPO = Path(__file__).resolve().parents[1]


def test_version_and_help(capsys):
    out = subprocess.run([sys.executable, "-m", "evstream", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == f"evstream {__version__}"
    help_text = subprocess.run([sys.executable, "-m", "evstream", "--help"], capture_output=True, text=True).stdout
    for verb in ("run", "nodes", "bench"):
        assert f"    {verb} " in help_text


def test_run_shipped_graph_prints_json_stats(capsys):
    assert main(["run", str(REPO / "nodes" / "synthetic.toml"), "--set", "src.events=20000", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["nodes"]["out"]["events_in"] == 20000 and stats["stopped"] is None
    assert set(stats["nodes"]) == {"src", "pass", "out"}


def test_run_prints_a_stats_table(capsys):
    assert main(["run", str(REPO / "nodes" / "synthetic.toml"), "--set", "src.events=5000"]) == 0
    err = capsys.readouterr().err
    assert "p99 µs" in err and "core.count" in err and "wall time" in err


def test_run_check_validates_only(capsys):
    assert main(["run", str(REPO / "nodes" / "synthetic.toml"), "--check"]) == 0
    assert "ok (3 nodes, 2 edges)" in capsys.readouterr().out


def test_nodes_lists_types_with_params(capsys):
    assert main(["nodes", "core", "--json"]) == 0
    types = json.loads(capsys.readouterr().out)
    assert types["core.synthetic"]["output"] == "events"
    assert types["core.count"]["params"]["delay_ms"]["type"] == "float"
    assert types["core.count"]["inputs"] == {"in": "any"}


def test_missing_graph_file_is_a_one_line_error(capsys):
    assert main(["run", "no/such/graph.toml"]) == 2
    assert capsys.readouterr().err.strip().startswith("evstream run: error: no/such/graph.toml: cannot read")


def test_every_shipped_graph_file_validates():
    from evstream.graph import load_graph

    for path in sorted((REPO / "nodes").glob("*.toml")):
        load_graph(path)
