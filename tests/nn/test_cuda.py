"""torch CUDA vs torch CPU agreement (skipped without a GPU)."""

from __future__ import annotations

import pytest
import torch

from evstream.nn.zoo import ConvStackNet

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.mark.parametrize("kind", ["stc-lif", "stc-plif", "lif"])
@pytest.mark.parametrize("fused", [False, True])
def test_cuda_matches_cpu_on_real_frames(kind, fused, dvs_frames):
    options = {"fused": fused} if kind.startswith("stc") else {}
    torch.manual_seed(0)
    cpu = ConvStackNet((2, 128, 128), [32, 32], 11, neuron=kind, neuron_options=options).eval()
    gpu = ConvStackNet((2, 128, 128), [32, 32], 11, neuron=kind, neuron_options=options).eval().cuda()
    gpu.load_state_dict(cpu.state_dict())
    with torch.no_grad():
        for frame in dvs_frames[:100]:
            x = torch.from_numpy(frame)[None]
            cpu.step(x)
            gpu.step(x.cuda())
            for c_cell, g_cell in zip(cpu.cells, gpu.cells):
                v_c, v_g = c_cell.neuron.v, g_cell.neuron.v.cpu()
                scale = max(1.0, float(v_c.abs().max()))
                off = (v_c - v_g).abs() > 1e-4 * scale  # only threshold ties may differ
                assert int(off.sum()) <= max(1, int(1e-4 * off.numel()))
                g_cell.neuron.v.copy_(v_c)  # continue from the CPU state
                if hasattr(c_cell.neuron, "s_prev"):
                    g_cell.neuron.s_prev.copy_(c_cell.neuron.s_prev)
