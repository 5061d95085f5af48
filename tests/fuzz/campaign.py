"""``make fuzz``: a time-boxed Hypothesis fuzz campaign over every reader and the ZeroMQ message decoder.

Usage (from the repository root)::

    python -m tests.fuzz.campaign --minutes 30 [--targets evt3,wire] [--findings DIR]

Each target runs in its own worker process for ``--minutes`` (batches of
Hypothesis examples drawn from :func:`tests.fuzz.mutations.inputs` over the
seeds in ``tests/fuzz/corpus/<target>/``). A failing example is shrunk by
Hypothesis and saved in ``--findings`` with the error; a worker that stops
counting cases for ``--hang-seconds`` (an endless loop, also inside a Numba
kernel) is killed and its current input saved as a hang; a worker killed by a
signal (a crash in native code) saves its current input as a crash. Workers run
under a 6 GiB address-space limit, so a runaway allocation is a MemoryError
finding. The summary (cases run and findings per target) is printed as JSON
and appended, one line per target with the date, commit and minutes, to
``tests/fuzz/log.jsonl``: the record of the campaigns run so far (a long
campaign may be spread over several sessions, a few targets at a time).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings

from tests.fuzz.mutations import inputs
from tests.fuzz.targets import TARGETS, Target

CORPUS = Path(__file__).resolve().parent / "corpus"
FINDINGS = Path(__file__).resolve().parent / "findings"
LOG = Path(__file__).resolve().parent / "log.jsonl"
BATCH = 300
"""Examples per Hypothesis run; a campaign repeats runs (fresh random seeds) until its time is up."""
MEMORY_LIMIT = 6 << 30
"""Address-space limit of a worker (bytes)."""
CURRENT = "current.bin"
"""File in the worker's folder that holds the input being checked (kept when the worker hangs or crashes)."""


def seeds_of(name: str) -> list[bytes]:
    """The seed inputs of target ``name``: generated when the target makes its own, else from the corpus."""
    target = TARGETS.get(name)
    if target is not None and target.seeds is not None:
        return target.seeds()
    return [f.read_bytes() for f in sorted((CORPUS / name).iterdir())]


def save_finding(findings: Path, target: str, kind: str, data: bytes, detail: str) -> Path:
    """Write the input as ``<target>-<kind>-<sha1>.bin`` and the error beside it (``.txt``); returns the path."""
    findings.mkdir(parents=True, exist_ok=True)
    path = findings / f"{target}-{kind}-{hashlib.sha1(data).hexdigest()[:12]}.bin"
    path.write_bytes(data)
    path.with_suffix(".txt").write_text(detail)
    return path


def _signature(exc: BaseException) -> str:
    """Exception type and the innermost evstream frame: one finding per distinct bug."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "evstream" in f.filename] or \
        traceback.extract_tb(exc.__traceback__)[-1:]
    where = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"
    return f"{type(exc).__name__} at {where}"


def fuzz(target: Target, seconds: float, workdir: Path, findings: Path, max_cases: int | None = None,
         stats: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run ``target`` on mutated seeds for ``seconds`` (or until ``max_cases``); returns ``stats``
    (a new dict unless given, so another thread can watch it) with the cases run and the findings."""
    seeds = seeds_of(target.name)
    stats = {} if stats is None else stats
    stats.update(target=target.name, cases=0, findings=[])
    seen: set[str] = set()
    current = workdir / CURRENT
    last: list[bytes] = [b""]

    @settings(max_examples=BATCH, deadline=None, database=None, suppress_health_check=list(HealthCheck),
              phases=[Phase.generate, Phase.shrink], report_multiple_bugs=False)
    @given(data=inputs(seeds))
    def case(data: bytes) -> None:
        current.write_bytes(data)
        last[0] = data
        stats["cases"] += 1
        target.check(data, workdir)

    end = time.monotonic() + seconds
    while time.monotonic() < end and (max_cases is None or stats["cases"] < max_cases):
        try:
            case()
        except Exception as exc:  # noqa: BLE001 - every failure is a finding; Hypothesis ran the shrunk one last
            signature = _signature(exc)
            if signature not in seen:
                seen.add(signature)
                detail = f"{signature}\n{''.join(traceback.format_exception(exc, limit=-12))}"
                path = save_finding(findings, target.name, "error", last[0], detail)
                stats["findings"].append({"kind": "error", "what": signature, "input": str(path)})
    return stats


def _worker(name: str, seconds: float, workdir: Path, findings: Path) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    stats: dict[str, Any] = {}

    def heartbeat() -> None:
        while True:
            print(f"cases {stats.get('cases', 0)}", flush=True)
            time.sleep(2)

    threading.Thread(target=heartbeat, daemon=True).start()
    result = fuzz(TARGETS[name], seconds, workdir, findings, stats=stats)
    print("result " + json.dumps(result), flush=True)


def run_target(name: str, seconds: float, findings: Path, hang_seconds: float) -> dict[str, Any]:
    """Run one target's worker process and watch it; returns its summary (with hangs and crashes)."""
    with tempfile.TemporaryDirectory(prefix=f"evstream-fuzz-{name}-") as tmp:
        cmd = [sys.executable, "-m", "tests.fuzz.campaign", "--worker", name, "--seconds", str(seconds),
               "--workdir", tmp, "--findings", str(findings)]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, bufsize=1)
        state = {"cases": -1, "changed": time.monotonic(), "result": None}

        def read() -> None:
            for line in proc.stdout:
                if line.startswith("cases "):
                    cases = int(line.split()[1])
                    if cases != state["cases"]:
                        state["cases"], state["changed"] = cases, time.monotonic()
                elif line.startswith("result "):
                    state["result"] = json.loads(line[7:])

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        hung = False
        while proc.poll() is None:
            time.sleep(0.5)
            if time.monotonic() - state["changed"] > hang_seconds:
                hung = True
                proc.kill()
        proc.wait()
        reader.join(5)
        result = state["result"] or {"target": name, "cases": max(0, state["cases"]), "findings": []}
        current = Path(tmp) / CURRENT
        if hung or proc.returncode != 0:
            kind = "hang" if hung else "crash"
            what = f"no progress for {hang_seconds:g} s" if hung else f"worker exit status {proc.returncode}"
            data = current.read_bytes() if current.exists() else b""
            path = save_finding(findings, name, kind, data, what)
            result["findings"].append({"kind": kind, "what": what, "input": str(path)})
        return result


def _commit() -> str:
    """The short commit of the checkout being fuzzed (``"unknown"`` outside a git checkout)."""
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             cwd=Path(__file__).resolve().parent, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip()


def log_result(log: Path, result: dict[str, Any], minutes: float, commit: str) -> None:
    """Append one target's summary (fuzzed at ``commit``) to the campaign record ``log`` (JSON lines)."""
    entry = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "commit": commit,
             "minutes": minutes, "target": result["target"], "cases": result["cases"],
             "findings": [f"{f['kind']}: {f['what']}" for f in result["findings"]]}
    with log.open("a") as f:
        f.write(json.dumps(entry) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz.campaign", description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=1.0, help="fuzzing time per target (default 1)")
    parser.add_argument("--targets", default=",".join(TARGETS), help="comma-separated targets (default: all)")
    parser.add_argument("--findings", type=Path, default=FINDINGS,
                        help="folder for findings (default tests/fuzz/findings)")
    parser.add_argument("--log", type=Path, default=LOG,
                        help="append each target's summary here (default tests/fuzz/log.jsonl)")
    parser.add_argument("--hang-seconds", type=float, default=60.0,
                        help="no new case for this long is a hang (default 60)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        _worker(args.worker, args.seconds, args.workdir, args.findings)
        return 0
    names = [n.strip() for n in args.targets.split(",") if n.strip()]
    unknown = sorted(set(names) - set(TARGETS))
    if unknown:
        print(f"unknown fuzz target(s) {unknown}; known: {', '.join(TARGETS)}", file=sys.stderr)
        return 2
    results = []
    for name in names:
        commit = _commit()  # the worker about to start imports the checkout as it is now
        result = run_target(name, args.minutes * 60, args.findings, args.hang_seconds)
        print(f"{name:8s} {result['cases']:8d} cases  {len(result['findings'])} finding(s)",
              file=sys.stderr, flush=True)
        log_result(args.log, result, args.minutes, commit)
        results.append(result)
    print(json.dumps(results, indent=1))
    return 1 if any(r["findings"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
