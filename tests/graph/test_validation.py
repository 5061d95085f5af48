"""Graph files are validated before anything runs; each error is one line naming file, node and fix."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from evstream.cli.main import main
from evstream.graph import GraphError, load_graph
from tests.graph import testnodes  # noqa: F401 - registers the test node types

SRC = '[[node]]\nname = "src"\ntype = "core.synthetic"\nevents = 100\n'


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "g.toml"
    path.write_text(SRC + textwrap.dedent(body))
    return path


CASES = {
    "unknown type": ('[[node]]\nname = "out"\ntype = "core.cont"\ninput = "src"\n',
                     ["node 'out'", "unknown node type 'core.cont'", "did you mean 'core.count'"]),
    "unknown parameter": ('[[node]]\nname = "out"\ntype = "core.count"\ninput = "src"\ndelay_sm = 1\n',
                          ["node 'out'", "unknown parameter 'delay_sm'", "did you mean 'delay_ms'"]),
    "mistyped parameter": ('[[node]]\nname = "out"\ntype = "core.count"\ninput = "src"\ndelay_ms = "slow"\n',
                           ["node 'out'", "'delay_ms' must be float", "got str 'slow'"]),
    "missing parameter": ('[[node]]\nname = "mid"\ntype = "test.scale"\ninput = "src"\n'
                          '[[node]]\nname = "out"\ntype = "core.count"\ninput = "mid"\n',
                          ["node 'mid'", "missing required parameter 'factor'"]),
    "port mismatch": ('[[node]]\nname = "out"\ntype = "test.frames_sink"\ninput = "src"\n',
                      ["node 'out'", "takes 'frames'", "'src' (core.synthetic) produces 'events'"]),
    "unknown input": ('[[node]]\nname = "out"\ntype = "core.count"\ninput = "srcc"\n',
                      ["node 'out'", "input 'srcc'", "did you mean 'src'"]),
    "cycle": ('[[node]]\nname = "a"\ntype = "core.identity"\ninput = ["src", "b"]\n'
              '[[node]]\nname = "b"\ntype = "core.identity"\ninput = "a"\n'
              '[[node]]\nname = "out"\ntype = "core.count"\ninput = "b"\n',
              ["cycle", "a -> b -> a"]),
    "missing input": ('[[node]]\nname = "out"\ntype = "core.count"\n', ["node 'out'", "needs an input"]),
    "bad policy": ('[[node]]\nname = "out"\ntype = "core.count"\ninput = "src"\npolicy = "drop"\n',
                   ["node 'out'", "policy must be one of block, drop-oldest"]),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_graph_is_rejected_with_one_line(tmp_path, case):
    body, fragments = CASES[case]
    path = _write(tmp_path, body)
    with pytest.raises(GraphError) as info:
        load_graph(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    for fragment in fragments:
        assert fragment in message


@pytest.mark.parametrize("case", ["unknown type", "cycle", "port mismatch"])
def test_cli_exits_2_with_one_line_and_no_traceback(tmp_path, case, capsys):
    path = _write(tmp_path, CASES[case][0])
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("evstream run: error: ") and "\n" not in err and "Traceback" not in err


def test_debug_shows_the_traceback(tmp_path):
    path = _write(tmp_path, CASES["unknown type"][0])
    with pytest.raises(GraphError):
        main(["--debug", "run", str(path)])


def test_nothing_runs_before_validation(tmp_path):
    # the synthetic source would run for a long time; validation must fail first, instantly
    path = tmp_path / "g.toml"
    path.write_text('[[node]]\nname = "src"\ntype = "core.synthetic"\nevents = 1000000000\nrealtime = true\n'
                    '[[node]]\nname = "out"\ntype = "core.count"\ninput = "src"\ndelay = 1\n')
    with pytest.raises(GraphError, match="unknown parameter 'delay'"):
        load_graph(path)


def test_set_overrides_are_parsed_and_checked(tmp_path):
    path = _write(tmp_path, '[[node]]\nname = "out"\ntype = "core.count"\ninput = "src"\n')
    graph = load_graph(path, {"src.events": "250", "src.packet": 100})
    assert graph.nodes["src"].events == 250 and graph.nodes["src"].packet == 100
    with pytest.raises(GraphError, match="no node 'scr'; did you mean 'src'"):
        load_graph(path, {"scr.events": "1"})


def test_invalid_toml_names_the_file(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("[[node]\nname=")
    with pytest.raises(GraphError, match="broken.toml: not valid TOML"):
        load_graph(path)
