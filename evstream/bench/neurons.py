"""``evstream bench neurons``: streaming step time of the DVS Gesture net vs SpikingJelly and snntorch.

Network (all tools, same shape): 3 x [Conv5x5 (no bias) -> GroupNorm16 ->
neuron -> MaxPool2] with [64, 64, 64] channels on (2, 128, 128) frames,
AvgPool2, Linear(4096 -> 11). evstream runs STC-LIF (the heavier neuron, with
both circuits); the peers run their LIF (SpikingJelly ``LIFNode`` single-step
and multi-step, snntorch ``Leaky``). Frames are real: the DVS128 recording of
``../shared/recordings`` binned into windows of ``--window-ms`` (50 ms: the
shipped gesture model's window). Rows give ms per step (``ms_step``;
multi-step: the whole sequence divided by T).

At batch 1 evstream's reference is its Numba streaming program with random
initial weights; peers' ``ratio`` = peer ms / that ms (> 1: evstream faster).
Further batch-1 rows, each with ``ratio`` = SpikingJelly single-step ms / its
ms: the same program with the layers' input GN biases calibrated so the spike
rates match the shipped trained gesture model on the same recording (the
speed of the sparse paths depends on the rates, so both are printed), and the
net with LIF neurons. At batch > 1 the reference is the eager torch network;
a row runs it with the fused update compiled (``torch.compile``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from evstream.errors import UserError, require

HELP = "neuron networks: DVS Gesture STC-LIF (Numba, torch) vs SpikingJelly and snntorch LIF, ms/step"

RECORDING = Path(__file__).resolve().parents[2].parent / "shared" / "recordings" / "aedat4" / \
    "dvs128-redpob-2024_06_20_16_13_00.aedat4"
TRAINED = Path(__file__).resolve().parents[2] / "apps" / "gesture" / "models" / "gesture32.pt"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--recording", type=Path, default=RECORDING,
                        help="AEDAT4 recording of a 128x128 sensor to bin into frames (default: shared DVS128)")
    parser.add_argument("--steps", type=int, default=20, help="timed steps per measurement (default 20)")
    parser.add_argument("--window-ms", type=float, default=50.0,
                        help="frame window in ms (default 50, the shipped gesture model's)")
    parser.add_argument("--trained", type=Path, default=TRAINED,
                        help="trained STC checkpoint whose spike rates the calibrated row matches "
                             "(default: the shipped gesture model; a missing file skips the row)")
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile rows")
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 16], help="batch sizes (default 1 16)")
    parser.add_argument("--channels", type=int, nargs="+", default=[64, 64, 64],
                        help="conv channels (default 64 64 64; multiples of 16)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads for every torch tool (default 1: the Numba program is "
                             "single-threaded)")
    parser.add_argument("--device", nargs="+", default=None,
                        help="torch devices (default: cpu, plus cuda when available)")


def load_frames(path: Path, window_us: float) -> np.ndarray:
    """``(n, 2, 128, 128)`` float32 event counts of the recording in windows of ``window_us`` µs."""
    if not path.is_file():
        raise UserError(f"{path}: recording not found; pass --recording FILE.aedat4 (a 128x128 sensor)")
    if window_us <= 0:
        raise UserError(f"--window-ms {window_us / 1e3:g}: must be > 0")
    aedat = require("aedat", "aedat", "dev", "evstream bench neurons")
    ev = np.concatenate([p["events"] for p in aedat.Decoder(str(path)) if "events" in p])
    if ev.size == 0 or ev["x"].max() >= 128 or ev["y"].max() >= 128:
        raise UserError(f"{path}: needs events of a 128x128 sensor (DVS128)")
    t = ev["t"].astype(np.int64)
    b = (t - t[0]) // int(window_us)
    frames = np.zeros((int(b[-1]) + 1, 2, 128, 128), np.float32)
    np.add.at(frames, (b, ev["on"].astype(np.int64), ev["y"].astype(np.int64), ev["x"].astype(np.int64)), 1.0)
    return frames


def _mean_rates(program, frames: np.ndarray, settle: int = 3) -> np.ndarray:  # noqa: ANN001
    """Per-layer spike rates of ``program`` averaged over ``frames`` after ``settle`` steps."""
    program.reset()
    rates = []
    for i, frame in enumerate(frames):
        program.step(frame)
        if i >= settle:
            rates.append(program.spike_rates())
    return np.mean(rates, axis=0)


def trained_rates(path: Path, frames: np.ndarray) -> np.ndarray | None:
    """Per-layer spike rates of a trained conv-stack checkpoint on ``frames`` (128x128 counts, pooled
    down to its input size); ``None`` when the file is missing."""
    from evstream.nn.backends.numba import NumbaProgram
    from evstream.nn.checkpoint import load

    if not path.is_file():
        return None
    net = load(path).net.eval()
    c, h, w = net.in_shape
    if c != 2 or 128 % h or 128 % w:
        raise UserError(f"--trained {path}: needs a 2-channel conv-stack net on 128x128 / n input")
    f = frames.reshape(len(frames), 2, h, 128 // h, w, 128 // w).sum((3, 5))
    return _mean_rates(NumbaProgram.from_torch(net), f)


def calibrate(net, frames: np.ndarray, targets: np.ndarray, rounds: int = 10) -> np.ndarray:  # noqa: ANN001
    """Shift each cell's input GN bias (layer by layer, bisection) until its spike rate on
    ``frames`` matches ``targets`` (deeper layers repeat the last target); returns the rates."""
    import torch

    from evstream.nn.backends.numba import NumbaProgram

    rates = np.zeros(len(net.cells))
    for i, cell in enumerate(net.cells):
        target = targets[min(i, len(targets) - 1)]
        base = cell.norm.bias.detach().clone()
        lo, hi = -4.0, 4.0
        for _ in range(rounds):
            mid = (lo + hi) / 2
            with torch.no_grad():
                cell.norm.bias.copy_(base + mid)
            rates = _mean_rates(NumbaProgram.from_torch(net), frames)
            lo, hi = (mid, hi) if rates[i] < target else (lo, mid)
    return rates


def _time_steps(step: Callable[[int], Any], steps: int, sync: Callable[[], None]) -> float:
    """ms per call of ``step(i)`` over ``steps`` calls after two warm-up calls."""
    step(0)
    step(1)
    sync()
    t0 = time.perf_counter()
    for i in range(steps):
        step(i)
    sync()
    return (time.perf_counter() - t0) / steps * 1e3


def _sj_net(channels: list[int], step_mode: str):  # noqa: ANN202
    require("spikingjelly.activation_based", "spikingjelly", "dev", "the SpikingJelly peer")
    from spikingjelly.activation_based import functional, layer, neuron, surrogate
    from torch import nn

    layers: list[nn.Module] = []
    c = 2
    for ch in channels:
        layers += [layer.Conv2d(c, ch, 5, padding=2, bias=False), layer.GroupNorm(16, ch),
                   neuron.LIFNode(tau=2.0, surrogate_function=surrogate.Sigmoid()),
                   layer.MaxPool2d(2)]
        c = ch
    size = 128 // 2 ** len(channels) // 2
    layers += [layer.AvgPool2d(2), layer.Flatten(), layer.Linear(c * size * size, 11)]
    net = nn.Sequential(*layers)
    functional.set_step_mode(net, step_mode)
    return net, functional.reset_net


def _snntorch_net(channels: list[int]):  # noqa: ANN202
    snn = require("snntorch", "snntorch", "dev", "the snntorch peer")
    from torch import nn

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            c = 2
            self.convs, self.norms, self.lifs = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
            for ch in channels:
                self.convs.append(nn.Conv2d(c, ch, 5, padding=2, bias=False))
                self.norms.append(nn.GroupNorm(16, ch))
                self.lifs.append(snn.Leaky(beta=0.5, init_hidden=True))
                c = ch
            size = 128 // 2 ** len(channels) // 2
            self.fc = nn.Linear(c * size * size, 11)

        def forward(self, x):  # noqa: ANN001, ANN202
            for conv, norm, lif in zip(self.convs, self.norms, self.lifs):
                x = nn.functional.max_pool2d(lif(norm(conv(x))), 2)
            return self.fc(nn.functional.avg_pool2d(x, 2).flatten(1))

    def reset(net: nn.Module) -> None:
        for lif in net.lifs:
            lif.reset_mem()

    return Net(), reset


def _peer_rows(case: str, ref_ms: float, ref_tool: str, batch_frames, steps: int, channels: list[int],
               device, sync) -> list[dict]:  # noqa: ANN001
    import torch

    rows = []
    peers = [("spikingjelly LIF single-step", lambda: _sj_net(channels, "s"), "s"),
             ("spikingjelly LIF multi-step", lambda: _sj_net(channels, "m"), "m"),
             ("snntorch Leaky", lambda: _snntorch_net(channels), "s")]
    for tool, make, mode in peers:
        try:
            net, reset = make()
        except UserError as exc:
            rows.append({"case": case, "tool": tool, "skipped": str(exc)})
            continue
        net = net.to(device).eval()
        with torch.no_grad():
            if mode == "s":
                reset(net)
                ms = _time_steps(lambda i: net(batch_frames[i % len(batch_frames)]), steps, sync)
            else:
                seq = torch.stack([batch_frames[i % len(batch_frames)] for i in range(steps)])

                def whole(_i: int) -> None:
                    reset(net)
                    net(seq)

                ms = _time_steps(whole, 1, sync) / steps
        rows.append({"case": case, "tool": tool, "ms_step": ms, "ratio": ms / ref_ms, "vs": ref_tool})
    return rows


def run(args: argparse.Namespace) -> list[dict]:
    import torch

    from evstream.nn.zoo import build

    if any(c % 16 for c in args.channels):
        raise UserError(f"--channels {args.channels}: each must be a multiple of 16 (GroupNorm16)")
    torch.set_num_threads(args.threads)
    frames = load_frames(args.recording, args.window_ms * 1e3)
    if len(frames) < 4:
        raise UserError(f"--window-ms {args.window_ms:g}: the recording gives only {len(frames)} frames; "
                        "pass a shorter window")
    devices = args.device or (["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    torch.manual_seed(0)
    net = build("dvsgesture", neuron="stc-lif", channels=list(args.channels)).eval()
    rows: list[dict] = []
    for device in devices:
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise UserError(f"--device {device}: no CUDA GPU available")
        sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
        for batch in args.batch:
            case = f"{device} b{batch}"
            batch_frames = [torch.from_numpy(np.repeat(frame[None], batch, 0)).to(device) for frame in frames]
            ours = _torch_rows(case, net, batch_frames, args, device, sync)
            if batch == 1 and device == "cpu":
                ours = _numba_rows(case, net, frames, args) + ours
            peers = _peer_rows(case, ours[0]["ms_step"], ours[0]["tool"], batch_frames, args.steps,
                               list(args.channels), device, sync)
            sj = next((p for p in peers if p["tool"] == "spikingjelly LIF single-step" and "ms_step" in p), None)
            for row in ours:
                if sj is not None:
                    row.update(ratio=sj["ms_step"] / row["ms_step"], vs=sj["tool"])
            rows += ours + peers
    return rows


def _torch_rows(case: str, net, batch_frames: list, args: argparse.Namespace, device: str,  # noqa: ANN001
                sync: Callable[[], None]) -> list[dict]:
    """The torch network eager, then with the fused update compiled (unless ``--no-compile``)."""
    import torch

    from evstream.nn.backends.torch import COMPILED_STC_FORWARD
    from evstream.nn.zoo import build

    nets = [("evstream torch STC-LIF", net)]
    if not args.no_compile:
        compiled = build(net.config | {"neuron_options": {"compiled": True}}).eval()
        compiled.load_state_dict(net.state_dict())
        nets.append(("evstream torch STC-LIF compiled update", compiled))
    rows = []
    for tool, model in nets:
        model = model.to(device)
        with torch.no_grad():
            model.reset()
            ms = _time_steps(lambda i: model.step(batch_frames[i % len(batch_frames)]), args.steps, sync)
        row = {"case": case, "tool": tool, "ms_step": ms}
        if model is not net and COMPILED_STC_FORWARD.reason is not None:
            row["note"] = f"eager fallback: {COMPILED_STC_FORWARD.reason}"
        rows.append(row)
    return rows


def _numba_rows(case: str, net, frames: np.ndarray, args: argparse.Namespace) -> list[dict]:  # noqa: ANN001
    """Batch-1 Numba program: STC-LIF with random weights, with rates calibrated to a trained
    net, and the same net with LIF neurons."""
    import copy

    import torch

    from evstream.nn.backends.numba import NumbaProgram
    from evstream.nn.zoo import build

    def row(tool: str, model) -> dict:  # noqa: ANN001
        program = NumbaProgram.from_torch(model)
        ms = _time_steps(lambda i: program.step(frames[i % len(frames)]), args.steps, lambda: None)
        return {"case": case, "tool": tool, "ms_step": ms,
                "spike_rates": [round(r, 3) for r in program.spike_rates()], "dense": program.dense_convs()}

    rows = [row("evstream numba STC-LIF", net)]
    targets = trained_rates(args.trained, frames)
    if targets is not None:
        calibrated = copy.deepcopy(net)
        calibrate(calibrated, frames[:20], targets)
        rows.append(row("evstream numba STC-LIF, rates of trained " + args.trained.stem, calibrated))
        rows[-1]["target_rates"] = [round(float(r), 3) for r in targets]
    torch.manual_seed(0)
    rows.append(row("evstream numba LIF", build(net.config | {"neuron": "lif", "neuron_options": {}}).eval()))
    return rows
