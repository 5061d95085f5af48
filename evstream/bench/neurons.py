"""``evstream bench neurons``: streaming step time of the DVS Gesture net vs SpikingJelly and snntorch.

Network (all tools, same shape): 3 x [Conv5x5 (no bias) -> GroupNorm16 ->
neuron -> MaxPool2] with [64, 64, 64] channels on (2, 128, 128) frames,
AvgPool2, Linear(4096 -> 11). evstream runs STC-LIF (the heavier neuron, with
both circuits); the peers run their LIF (SpikingJelly ``LIFNode`` single-step
and multi-step, snntorch ``Leaky``). Frames are real: the DVS128 recording of
``../shared/recordings`` binned into equal time bins. Rows give ms per step
(``ms_step``; multi-step: the whole sequence divided by T) and, for peers,
``ratio`` = peer ms / evstream ms of the same case (> 1: evstream faster). At
batch 1 evstream's reference is its Numba streaming program; at batch > 1 its
torch modules (the program is batch-1 only). A last batch-1 row runs the
same net with LIF neurons in the Numba program against SpikingJelly's LIF.
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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--recording", type=Path, default=RECORDING,
                        help="AEDAT4 recording of a 128x128 sensor to bin into frames (default: shared DVS128)")
    parser.add_argument("--steps", type=int, default=20, help="timed steps per measurement (default 20)")
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 16], help="batch sizes (default 1 16)")
    parser.add_argument("--channels", type=int, nargs="+", default=[64, 64, 64],
                        help="conv channels (default 64 64 64; multiples of 16)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads for every torch tool (default 1: the Numba program is "
                             "single-threaded)")
    parser.add_argument("--device", nargs="+", default=None,
                        help="torch devices (default: cpu, plus cuda when available)")


def load_frames(path: Path, n_frames: int) -> np.ndarray:
    """``(n_frames, 2, 128, 128)`` float32 event counts of the recording in equal time bins."""
    if not path.is_file():
        raise UserError(f"{path}: recording not found; pass --recording FILE.aedat4 (a 128x128 sensor)")
    aedat = require("aedat", "aedat", "dev", "evstream bench neurons")
    ev = np.concatenate([p["events"] for p in aedat.Decoder(str(path)) if "events" in p])
    if ev.size == 0 or ev["x"].max() >= 128 or ev["y"].max() >= 128:
        raise UserError(f"{path}: needs events of a 128x128 sensor (DVS128)")
    t = ev["t"].astype(np.int64)
    edges = np.linspace(t[0], t[-1] + 1, n_frames + 1)
    b = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, n_frames - 1)
    frames = np.zeros((n_frames, 2, 128, 128), np.float32)
    np.add.at(frames, (b, ev["on"].astype(np.int64), ev["y"].astype(np.int64), ev["x"].astype(np.int64)), 1.0)
    return frames


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

    from evstream.nn.backends.numba import NumbaProgram
    from evstream.nn.zoo import build

    if any(c % 16 for c in args.channels):
        raise UserError(f"--channels {args.channels}: each must be a multiple of 16 (GroupNorm16)")
    torch.set_num_threads(args.threads)
    frames = load_frames(args.recording, max(args.steps + 2, 20))
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
            batch_frames = [torch.from_numpy(np.repeat(frames[i][None], batch, 0)).to(device)
                            for i in range(len(frames))]
            net_d = net.to(device)
            with torch.no_grad():
                net_d.reset()
                torch_ms = _time_steps(lambda i: net_d.step(batch_frames[i % len(frames)]), args.steps, sync)
            rows.append({"case": case, "tool": "evstream torch STC-LIF", "ms_step": torch_ms})
            ref_ms, ref_tool = torch_ms, "evstream torch STC-LIF"
            if batch == 1 and device == "cpu":
                program = NumbaProgram.from_torch(net)
                numba_ms = _time_steps(lambda i: program.step(frames[i % len(frames)]), args.steps, lambda: None)
                rows.append({"case": case, "tool": "evstream numba STC-LIF", "ms_step": numba_ms,
                             "spike_rates": [round(r, 3) for r in program.spike_rates()]})
                ref_ms, ref_tool = numba_ms, "evstream numba STC-LIF"
            peers = _peer_rows(case, ref_ms, ref_tool, batch_frames, args.steps, list(args.channels),
                               device, sync)
            if batch == 1 and device == "cpu":
                rows.append(_numba_lif_row(case, net, frames, args.steps, peers))
            rows += peers
    return rows


def _numba_lif_row(case: str, stc_net, frames: np.ndarray, steps: int, peers: list[dict]) -> dict:  # noqa: ANN001
    """The same net with SJ LIF neurons in the Numba program, compared with SpikingJelly single-step."""
    import torch

    from evstream.nn.backends.numba import NumbaProgram
    from evstream.nn.zoo import build

    torch.manual_seed(0)
    lif = build(stc_net.config | {"neuron": "lif", "neuron_options": {}}).eval()
    program = NumbaProgram.from_torch(lif)
    ms = _time_steps(lambda i: program.step(frames[i % len(frames)]), steps, lambda: None)
    row = {"case": case, "tool": "evstream numba LIF", "ms_step": ms,
           "spike_rates": [round(r, 3) for r in program.spike_rates()]}
    sj = next((p for p in peers if p["tool"] == "spikingjelly LIF single-step" and "ms_step" in p), None)
    if sj is not None:
        row.update(ratio=sj["ms_step"] / ms, vs=sj["tool"])
    return row
