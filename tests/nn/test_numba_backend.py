"""Numba kernels against torch references, and the whole program against the torch network."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from evstream.nn.backends import _numba_kernels as K
from evstream.nn.backends.numba import NumbaProgram
from evstream.nn.zoo import ConvStackNet

RNG = np.random.default_rng(0)


def hwc(t: torch.Tensor) -> np.ndarray:
    """``(1, C, H, W)`` torch -> ``(H * W, C)`` numpy."""
    c = t.shape[1]
    return t[0].permute(1, 2, 0).reshape(-1, c).numpy()


def scratch(p: int):
    return np.zeros(p, np.uint8), np.zeros(p, np.int32)


def test_scatter_frame_is_conv2d():
    frame = ((RNG.random((2, 9, 11)) < 0.2) * RNG.integers(1, 4, (2, 9, 11))).astype(np.float32)
    w = torch.randn(8, 2, 5, 5)
    out = np.zeros((99, 8), np.float32)
    touched, tlist = scratch(99)
    nt = K.scatter_frame(frame, w.permute(1, 2, 3, 0).contiguous().numpy(), out, 11, touched, tlist, 0)
    ref = hwc(nn.functional.conv2d(torch.from_numpy(frame)[None], w, padding=2))
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)
    assert set(tlist[:nt]) == set(np.flatnonzero(np.abs(ref).sum(1) > 0)) and touched.sum() == nt


def binary_conv(bc, spikes: np.ndarray, track: bool | None) -> tuple[np.ndarray, int, np.ndarray]:
    """``bc`` on a ``(1, C, H, W)`` binary map: sparse tables (``track`` as given) or dense
    (``track=None``); returns ``(out, nt, touched)``."""
    _, c, h, w = spikes.shape
    bits = np.ascontiguousarray(spikes[0].transpose(1, 2, 0).reshape(-1, c).astype(np.uint8))
    out = np.zeros((h * w, bc.weight.shape[0]), np.float32)
    touched, tlist = scratch(h * w)
    if track is None:
        bc.dense_above, bc.dense_min_inputs = 0.0, 0
        nt = bc.scatter(bits, int(bits.sum()), h, w, out, touched, tlist, 0)
        assert bc.dense
        return out, nt, touched
    active, starts = np.zeros(h * w, np.int32), np.zeros(h * w + 1, np.int32)
    codes = np.zeros(bits.size, np.int32)
    n_active = K.chunk_patterns(bits, bc.width, active, starts, codes)
    assert n_active == np.count_nonzero(bits.any(1))
    nt = 0 if track else K.touch_all(touched, tlist, 0)
    nt = K.scatter_patterns(active, n_active, starts, codes, h, w, bc.table, bc.offsets, out, touched, tlist, nt,
                            track)
    return out, nt, touched


@pytest.mark.parametrize("track", [True, False, None])
@pytest.mark.parametrize("widest", [1, 4])
def test_binary_conv_is_conv2d_of_binary_map(track, widest):
    from evstream.nn.backends.numba import BinaryConv

    spikes = (RNG.random((1, 8, 7, 6)) < 0.1).astype(np.float32)
    w = torch.randn(16, 8, 3, 3)
    bc = BinaryConv(w, 1, 0.5, widest)
    assert bc.width == widest and bc.table.shape == (9, 8 // widest * 2 ** widest, 16)
    out, nt, touched = binary_conv(bc, spikes, track)
    ref = hwc(nn.functional.conv2d(torch.from_numpy(spikes), w, padding=1))
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)
    assert nt == (42 if not track else np.count_nonzero(touched))
    if track:  # exactly the pixels within the kernel's reach of a spike
        reach = nn.functional.conv2d(torch.from_numpy(spikes).sum(1, keepdim=True), torch.ones(1, 1, 3, 3), padding=1)
        assert set(np.flatnonzero(touched)) == set(np.flatnonzero(reach[0, 0].numpy().reshape(-1)))


def test_binary_conv_goes_dense_above_its_density():
    from evstream.nn.backends.numba import BinaryConv

    bc = BinaryConv(torch.randn(16, 8, 3, 3), 1, 0.25, dense_min_inputs=336)
    out, touched, tlist = np.zeros((42, 16), np.float32), *scratch(42)
    bits = np.zeros((42, 8), np.uint8)
    bits.reshape(-1)[:84] = 1  # density 0.25: sparse
    bc.scatter(bits, 84, 7, 6, out, touched, tlist, 0)
    assert not bc.dense
    bits.reshape(-1)[84] = 1
    torch.set_num_threads(2)
    try:
        bc.scatter(bits, 85, 7, 6, out, touched, tlist, 0)
        assert torch.get_num_threads() == 2  # one thread only inside the dense conv, then restored
    finally:
        torch.set_num_threads(1)
    assert bc.dense
    bc.dense_min_inputs = 337  # a map of 336 values is too small to go dense
    bc.scatter(bits, 85, 7, 6, out, touched, tlist, 0)
    assert not bc.dense


def test_simd_lanes_match_numpy():
    from numba import njit

    from evstream.nn.backends._simd import add8, load8, store_add8, zeros8

    @njit
    def lanes(a, b, out, i, j):
        v = add8(zeros8(), load8(a, i))
        store_add8(out, j, add8(v, load8(b, i + 3)))

    a, b = RNG.random(20).astype(np.float32), RNG.random(20).astype(np.float32)
    out = RNG.random(16).astype(np.float32)
    expected = out.copy()
    expected[5:13] += a[2:10] + b[5:13]
    lanes(a, b, out, 2, 5)
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize(("height", "width", "rate"), [(9, 11, 0.3), (16, 16, 0.05), (5, 7, 0.9)])
def test_gathered_circuits_of_64_channels_are_the_grouped_conv(height, width, rate):
    """64-channel circuits (one 4-channel chunk, 8 outputs per group) above their density run
    output-stationary (gather_groups): the same sums as torch's grouped conv and as the sparse scatter."""
    from evstream.nn.backends.numba import CIRCUITS_GATHER_ABOVE, BinaryConv

    w_h, w_v = torch.randn(64, 4, 5, 5), torch.randn(64, 4, 5, 5)
    bc = BinaryConv.circuits(w_h, w_v, 16)
    assert bc.gather_table is not None and bc.dense_above == CIRCUITS_GATHER_ABOVE
    assert BinaryConv.circuits(torch.randn(32, 2, 5, 5), torch.randn(32, 2, 5, 5), 16).gather_table is None
    spikes = (RNG.random((1, 64, height, width)) < rate).astype(np.float32)
    gathered, nt, touched = binary_conv(bc, spikes, None)
    assert nt == height * width and touched.all()
    both = torch.cat([w_h.reshape(16, 4, 4, 5, 5), w_v.reshape(16, 4, 4, 5, 5)], dim=1).reshape(128, 4, 5, 5)
    ref = hwc(nn.functional.conv2d(torch.from_numpy(spikes), both, padding=2, groups=16))
    np.testing.assert_allclose(gathered, ref, rtol=1e-5, atol=1e-5)
    scattered, _, _ = binary_conv(bc, spikes, True)
    np.testing.assert_allclose(gathered, scattered, rtol=1e-5, atol=1e-5)


def test_program_with_gathered_circuits_matches_torch(dvs_frames):
    """A 64-channel STC-LIF layer forced dense: its circuits run through gather_groups every step."""
    torch.manual_seed(3)
    net = trained_like(ConvStackNet((2, 32, 32), [64], 11, neuron="stc-lif", kernel=5, head_pool=2))
    prog = NumbaProgram.from_torch(net)
    assert prog.layers[0].circuit_conv.gather_table is not None
    check_agreement(net, np.ascontiguousarray(dvs_frames[:, :, 48:80, 48:80]), 0.0)


@pytest.mark.parametrize("track", [True, None])
@pytest.mark.parametrize("widest", [1, 2])
def test_binary_circuits_and_group_norm_match_torch(track, widest):
    from evstream.nn.backends.numba import BinaryConv, _interleave

    c, groups = 32, 16
    spikes = (RNG.random((1, c, 6, 5)) < 0.15).astype(np.float32)
    conv_h = nn.Conv2d(c, c, 5, padding=2, groups=groups, bias=False)
    conv_v = nn.Conv2d(c, c, 5, padding=2, groups=groups, bias=False)
    bc = BinaryConv.circuits(conv_h.weight, conv_v.weight, groups)
    bc = BinaryConv(bc.weight, groups, 0.5, widest)
    hg, _, _ = binary_conv(bc, spikes, track)
    with torch.no_grad():
        rh = hwc(conv_h(torch.from_numpy(spikes)))
        rv = hwc(conv_v(torch.from_numpy(spikes)))
    ref = np.stack([rh.reshape(30, groups, -1), rv.reshape(30, groups, -1)], axis=2).reshape(30, -1)
    np.testing.assert_allclose(hg, ref, rtol=1e-5, atol=1e-5)
    # GroupNorm of the interleaved buffer as 2 * groups groups = both circuits' GN
    gn_w, gn_b = torch.randn(2, c), torch.randn(2, c)
    scale, shift = np.zeros(2 * c, np.float32), np.zeros(2 * c, np.float32)
    tlist = np.arange(30, dtype=np.int32)  # untouched pixels hold 0: statistics over all pixels agree
    K.group_norm_affine(hg, tlist, 30, 30, 2 * groups, _interleave(gn_w[0].numpy(), gn_w[1].numpy(), groups),
                        _interleave(gn_b[0].numpy(), gn_b[1].numpy(), groups), 1e-5, np.zeros((2, 2 * c)),
                        scale, shift)
    with torch.no_grad():
        gh = nn.functional.group_norm(conv_h(torch.from_numpy(spikes)), groups, gn_w[0], gn_b[0])
        gv = nn.functional.group_norm(conv_v(torch.from_numpy(spikes)), groups, gn_w[1], gn_b[1])
    ref_n = np.stack([hwc(gh).reshape(30, groups, -1), hwc(gv).reshape(30, groups, -1)], axis=2).reshape(30, -1)
    np.testing.assert_allclose(hg * scale + shift, ref_n, rtol=1e-4, atol=1e-5)


def test_tanh32_matches_numpy():
    x = np.concatenate([np.linspace(-12, 12, 200_001), [0.0, 1e-30, -1e-30, 9.0, -9.0]]).astype(np.float32)
    got = np.array([K.tanh32(v) for v in x[::7]] + [K.tanh32(v) for v in x[-5:]], np.float32)
    ref = np.tanh(np.concatenate([x[::7], x[-5:]]).astype(np.float64))
    assert np.all(np.abs(got - ref) <= 5e-7 * np.maximum(np.abs(ref), 1e-30) + 1e-37)
    assert np.all(np.abs(got) <= 1.0)


def test_max_pool_and_readout_match_torch():
    spikes = (RNG.random((1, 3, 9, 7)) < 0.3).astype(np.float32)  # odd sizes: floor pooling
    bits = np.ascontiguousarray(spikes[0].transpose(1, 2, 0).reshape(-1, 3).astype(np.uint8))
    pooled = np.zeros((4 * 3, 3), np.uint8)
    n = K.max_pool_map(bits, 9, 7, pooled)
    ref = nn.functional.max_pool2d(torch.from_numpy(spikes), 2)
    np.testing.assert_array_equal(pooled, hwc(ref))
    assert n == int(ref.sum())
    fc = nn.Linear(3 * 2 * 1, 5)
    logits = fc.bias.detach().numpy().copy()
    K.readout(pooled, 3, 2, 2, 1, np.ascontiguousarray(fc.weight.detach().numpy().T), logits)
    with torch.no_grad():
        expected = fc(nn.functional.avg_pool2d(ref, 2).flatten(1))[0].numpy()
    np.testing.assert_allclose(logits, expected, rtol=1e-5, atol=1e-6)


def side_m(v: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Charged potential where the side did not fire (there ``v = m``)."""
    return np.where(s == 0, v, np.nan)


def trained_like(net: ConvStackNet) -> ConvStackNet:
    """``net`` in eval mode with non-trivial GN affines and leaks, as after training."""
    net.eval()
    with torch.no_grad():  # non-trivial GN affines and leaks, as after training
        for m in net.modules():
            if isinstance(m, nn.GroupNorm):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.3, 0.3)
        for name, p in net.named_parameters():
            if name.endswith("t_m") or name.endswith(".w"):
                p.fill_(0.4)
    return net


def check_agreement(net: ConvStackNet, frames: np.ndarray, dense_above: float | None = None) -> None:
    """Step torch and Numba side by side; per step, compare and continue from torch's state.

    ``dense_above``: force every binary conv's sparse/dense switch (0: always dense, 1: always sparse).
    """
    prog = NumbaProgram.from_torch(net)
    if dense_above is not None:
        for layer in prog.layers:
            for conv in (layer.conv, layer.circuit_conv):
                if hasattr(conv, "dense_above"):
                    conv.dense_above, conv.dense_min_inputs = dense_above, 0
    neurons = [cell.neuron for cell in net.cells]
    fired: dict[int, np.ndarray] = {}
    for i, neuron in enumerate(neurons):  # record torch's spikes of every layer
        original = neuron._step

        def recording(x, i=i, original=original):
            s = original(x)
            fired[i] = s[0].numpy().astype(np.uint8)
            return s

        neuron._step = recording
    mismatches = total_spikes = compared = 0
    for frame in frames:
        with torch.no_grad():
            logits = net.step(torch.from_numpy(frame)[None])[0].numpy()
        got = prog.step(frame)
        tie_below = False  # a threshold tie changes the input of every layer above it
        for layer, neuron in enumerate(neurons):
            v_ref, s_ref = neuron.v[0].numpy(), fired[layer]
            s_got, v_got = prog.spikes(layer), prog.membrane(layer)
            prog.set_state(layer, v_ref, s_ref)  # continue from torch's state
            if tie_below:
                continue
            compared += 1
            diff = s_got != s_ref
            if diff.any():  # only near the threshold: the side that did not fire holds m = v
                near = np.fmin(side_m(v_ref, s_ref), side_m(v_got, s_got))[diff]
                assert np.all(np.abs(near - 1.0) < 1e-4), f"layer {layer}: spike off threshold"
                tie_below = True
            same = ~diff  # relative to the scale of the layer's potentials
            assert np.abs(v_got[same] - v_ref[same]).max() <= 1e-5 * max(1.0, np.abs(v_ref).max())
            mismatches += int(diff.sum())
            total_spikes += int(s_ref.sum())
        if not tie_below:
            np.testing.assert_allclose(got, logits, rtol=1e-4, atol=1e-4)
    assert total_spikes > 1000
    assert mismatches <= 1e-4 * total_spikes
    assert compared >= 0.8 * len(frames) * len(neurons)


@pytest.mark.parametrize(("kind", "dense_above"), [("stc-lif", None), ("stc-lif", 0.0), ("stc-lif", 1.0),
                                                   ("stc-plif", None), ("lif", None), ("plif", None)])
def test_program_matches_torch_on_real_frames(kind, dense_above, dvs_frames):
    """100 real frames, centre 64x64 crop of the DVS128 recording (kept small for the default suite);
    binary convs sparse or dense by density, or forced to either path."""
    torch.manual_seed(1)
    net = trained_like(ConvStackNet((2, 64, 64), [16, 32], 11, neuron=kind, kernel=5, head_pool=2))
    check_agreement(net, np.ascontiguousarray(dvs_frames[:, :, 32:96, 32:96]), dense_above)


@pytest.mark.slow
def test_program_matches_torch_on_dvsgesture_net(dvs_frames):
    """The full 128x128 DVS Gesture STC-LIF net over 100 real frames."""
    from evstream.nn.zoo import build

    torch.manual_seed(2)
    check_agreement(trained_like(build("dvsgesture", neuron="stc-lif")), dvs_frames)


def test_program_rejects_unsupported_networks_and_shapes():
    with pytest.raises(ValueError, match="TDALIF"):
        NumbaProgram.from_torch(ConvStackNet((2, 16, 16), [16], 3, neuron="tda-lif"))
    prog = NumbaProgram.from_torch(ConvStackNet((2, 16, 16), [16], 3, neuron="stc-lif"))
    with pytest.raises(ValueError, match=r"expected \(2, 16, 16\)"):
        prog.step(np.zeros((2, 16, 15), np.float32))
