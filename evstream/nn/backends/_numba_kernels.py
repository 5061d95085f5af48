"""Numba kernels of the streaming inference program (batch 1, channels-last).

Layouts: a layer's buffers are ``(P, C)`` with ``P = H * W`` pixels in
row-major order (``p = y * W + x``) and channels last, so every inner loop
runs over contiguous channels and vectorises. Spikes are uint8 maps ``(P, C)``.
``touched`` (uint8 ``(P,)``) flags the pixels that received any synaptic
input this step and ``tlist`` lists them, so that statistics and buffer
clearing cost only what the sparse input touched.

Binary inputs (spikes) are convolved through *pattern tables*: the input
channels are cut into chunks of ``w`` consecutive channels, a pixel's chunk
holds a ``w``-bit pattern, and ``table[ky * k + kx, i * 2**w + pattern]`` is
the sum of the weight rows of the set bits, precomputed once. One table row
replaces up to ``w`` spike scatters; ``w = 1`` is the plain per-spike scatter.
The same kernel (:func:`scatter_patterns`) serves the next layer's input conv
(a chunk adds a row of ``C_out`` outputs) and the grouped STC circuit convs (a
chunk adds its group's beta and gamma inputs, ``2 C/g`` adjacent outputs).
Kernels write into caller-allocated arrays and return counts.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from evstream.nn.backends._simd import add8, load8, store_add8, zeros8

LIF_DECAY_INPUT = 1
"""``mode``: SJ LIF ``h = v + (x - v) k`` (``k = 1/tau``), hard reset to 0 unless ``soft``."""
LIF_PLAIN_INPUT = 2
"""``mode``: SJ LIF with ``decay_input = False``: ``h = v - v k + x``."""
STC = 0
"""``mode``: STC-LIF/STC-PLIF ``m = av v (1 + beta) + ax x (1 + gamma)``, soft reset."""

_TANH_CLIP = 9.0
"""``|x|`` beyond which float32 ``tanh(x)`` rounds to 1."""
_TANH_P = (0.9999999411356286, 10.46457114141589, 19.163085633204297, 4.925065010913709,
           -0.5501511386856454, 0.06365118601438635)
_TANH_Q = (1.0, 37.46453105394902, 155.91001226159162, 121.22144370318797)
"""``tanh(x) / x = P(u) / Q(u)``, ``u = (x / 9)^2``: our weighted least-squares rational fit on
``|x| <= 9``, max relative error 4.3e-7 in float32 (tested against ``np.tanh``)."""


@njit(cache=True, nogil=True)
def _touch(p, touched, tlist, nt):
    """Flag pixel ``p`` as touched and append it to ``tlist``; returns the new count."""
    if touched[p] == 0:
        touched[p] = 1
        tlist[nt] = p
        nt += 1
    return nt


@njit(cache=True, nogil=True)
def touch_all(touched, tlist, nt):
    """Mark every pixel touched (for dense inputs); returns the pixel count."""
    for p in range(touched.shape[0]):
        nt = _touch(p, touched, tlist, nt)
    return nt


@njit(cache=True, nogil=True, fastmath=True, error_model="numpy")
def scatter_frame(frame, wt, out, width, touched, tlist, nt):
    """Event-driven first conv: add ``frame[ci, y, x] * wt[ci, ky, kx, :]`` for non-zero pixels only.

    Args:
        frame: ``(C_in, H, W)`` input (event counts).
        wt: ``(C_in, k, k, C)`` weights (``wt[ci, ky, kx, co] = W[co, ci, ky, kx]``).
        out: ``(H * W, C)`` accumulator (cross-correlation, padding k // 2).
    Returns the new number of touched pixels.
    """
    cin, h, w = frame.shape
    k = wt.shape[1]
    pad = k // 2
    c_out = out.shape[1]
    for ci in range(cin):
        for y in range(h):
            for x in range(w):
                val = frame[ci, y, x]
                if val == 0:
                    continue
                for ky in range(k):
                    oy = y + pad - ky
                    if oy < 0 or oy >= h:
                        continue
                    for kx in range(k):
                        ox = x + pad - kx
                        if ox < 0 or ox >= width:
                            continue
                        p = oy * width + ox
                        nt = _touch(p, touched, tlist, nt)
                        for co in range(c_out):
                            out[p, co] += val * wt[ci, ky, kx, co]
    return nt


@njit(cache=True, nogil=True)
def chunk_patterns(bits, w, active, starts, codes):
    """Non-zero ``w``-bit chunk patterns of a binary map, per active pixel; returns the active count.

    Args:
        bits: uint8 ``(P, C)`` spike map (0/1).
        w: chunk width in channels (``C % w == 0``, ``w <= 8``).
        active: int32 ``(P,)``: receives the pixels holding any spike, in order.
        starts: int32 ``(P + 1,)``: active pixel ``a`` owns ``codes[starts[a]:starts[a + 1]]``.
        codes: int32 ``(P * C // w,)``: receives ``i * 2**w + pattern`` of each
            non-zero chunk ``i`` (pattern ``sum_b bits[p, i w + b] << b``).
    """
    n_pix, c = bits.shape
    n_pat = 1 << w
    n = 0
    m = 0
    starts[0] = 0
    for p in range(n_pix):
        m0 = m
        for i in range(c // w):
            pat = 0
            for b in range(w):
                pat |= bits[p, i * w + b] << b
            codes[m] = i * n_pat + pat
            m += pat != 0  # branch-free: random spikes make the branch unpredictable
        if m > m0:
            active[n] = p
            n += 1
            starts[n] = m
    return n


@njit(cache=True, nogil=True, fastmath=True, error_model="numpy")
def scatter_patterns(active, n_active, starts, codes, height, width, table, offsets, out, touched, tlist, nt,
                     track):
    """Conv of a binary map through pattern tables: the shared sparse scatter of every binary conv.

    For every active pixel ``q``, kernel tap ``t = ky * k + kx`` and non-zero
    chunk code ``r = i * 2**w + pattern`` of ``q``, adds ``table[t, r]`` to
    ``out[p, offsets[i]:][:L]``, ``p`` the output pixel the tap reaches
    (stride 1, padding k // 2).

    Args:
        active, n_active, starts, codes: from :func:`chunk_patterns` on a
            ``(height * width, C_in)`` map.
        table: float32 ``(k * k, n_chunks * 2**w, L)``.
        offsets: int64 ``(n_chunks * 2**w,)`` first output channel of each code's block.
        out: ``(height * width, C_out)`` accumulator.
        track: flag/list the touched pixels; with ``False`` the caller has marked
            every pixel touched (:func:`touch_all`), cheaper for dense inputs.
    Returns the new number of touched pixels.
    """
    k = int(math.sqrt(table.shape[0]) + 0.5)
    pad = k // 2
    # flat views and unsigned offsets: no negative-index wrap-around checks, so the row add vectorises
    out_flat, table_flat = out.ravel(), table.ravel()
    length = np.uint64(table.shape[2])
    out_row, tap_size = np.uint64(out.shape[1]), np.uint64(table.shape[1]) * length
    for a in range(n_active):
        q = active[a]
        y = q // width
        x = q % width
        mine = codes[starts[a]:starts[a + 1]]
        for ky in range(max(0, y + pad - height + 1), min(k, y + pad + 1)):
            for kx in range(max(0, x + pad - width + 1), min(k, x + pad + 1)):
                p = (y + pad - ky) * width + x + pad - kx
                if track:
                    nt = _touch(p, touched, tlist, nt)
                tap0 = np.uint64(ky * k + kx) * tap_size
                out0 = np.uint64(p) * out_row
                for r in mine:
                    o = out0 + np.uint64(offsets[r])
                    t = tap0 + np.uint64(r) * length
                    for j in range(length):
                        out_flat[o + j] += table_flat[t + j]
    return nt


@njit(cache=True, nogil=True)
def pattern_codes(bits, height, width, pad, w, codes):
    """Chunk patterns of a binary map, laid out for :func:`gather_groups`.

    Args:
        bits: uint8 ``(height * width, C)`` spike map (0/1).
        pad: border width (k // 2) of ``codes``, whose border stays 0.
        w: chunk width in channels.
        codes: uint8 ``((height + 2 pad) * (width + 2 pad), C // w)``: receives
            ``sum_b bits[p, i w + b] << b`` of chunk ``i`` at the padded position of ``p``.
    """
    n_chunks = codes.shape[1]
    padded_width = width + 2 * pad
    for y in range(height):
        for x in range(width):
            p = y * width + x
            q = (y + pad) * padded_width + x + pad
            for i in range(n_chunks):
                pat = 0
                for b in range(w):
                    pat |= bits[p, i * w + b] << b
                codes[q, i] = pat


@njit(cache=True, nogil=True, error_model="numpy", boundscheck=False)
def gather_groups(codes, height, width, k, table, out):
    """Grouped conv of a binary map with one chunk per group and 8 outputs per group, output-stationary.

    For every output pixel ``p`` and group ``g``: ``out[p, 8 g:8 g + 8] += sum over taps
    t = ky * k + kx of table[g, t, codes[q, g]]``, ``q`` the padded position of the input
    pixel the tap reads (stride 1, padding k // 2). Four groups at a time, each in one
    :data:`~evstream.nn.backends._simd.float32x8` register; the cost does not depend on the
    spike density (the STC circuits above their sparse density).

    Args:
        codes: from :func:`pattern_codes` (``pad = k // 2``), one chunk per group.
        table: float32 ``(groups, k * k, 16, 8)``, ``groups % 4 == 0``.
        out: float32 ``(height * width, 8 groups)`` accumulator.
    """
    padded_width = width + k - 1
    n_groups = codes.shape[1]
    taps = k * k
    group_stride = taps * 128  # floats per group in table
    flat_table, flat_codes, flat_out = table.ravel(), codes.ravel(), out.ravel()
    for y in range(height):
        for g in range(0, n_groups, 4):
            t0 = g * group_stride
            for x in range(width):
                a0 = zeros8()
                a1 = zeros8()
                a2 = zeros8()
                a3 = zeros8()
                for ky in range(k):
                    q = np.uint64(((y + ky) * padded_width + x) * n_groups + g)
                    t = t0 + ky * k * 128
                    for _ in range(k):
                        a0 = add8(a0, load8(flat_table, t + np.int64(flat_codes[q]) * 8))
                        a1 = add8(a1, load8(flat_table, t + group_stride + np.int64(flat_codes[q + np.uint64(1)]) * 8))
                        a2 = add8(a2, load8(flat_table, t + 2 * group_stride
                                            + np.int64(flat_codes[q + np.uint64(2)]) * 8))
                        a3 = add8(a3, load8(flat_table, t + 3 * group_stride
                                            + np.int64(flat_codes[q + np.uint64(3)]) * 8))
                        q += np.uint64(n_groups)
                        t += 128
                o = (y * width + x) * 8 * n_groups + 8 * g
                store_add8(flat_out, o, a0)
                store_add8(flat_out, o + 8, a1)
                store_add8(flat_out, o + 16, a2)
                store_add8(flat_out, o + 24, a3)


@njit(cache=True, nogil=True)
def group_norm_affine(buf, tlist, nt, n_pixels, groups, weight, bias, eps, sums, scale, shift):
    """GroupNorm of ``buf`` ``(P, C)`` as a per-channel affine map ``y = buf * scale + shift``.

    Statistics (float64) run over the ``nt`` touched pixels only: untouched
    pixels hold 0 and add nothing to the sums; ``n_pixels`` is ``P``.
    ``weight``/``bias``: the GN affine ``(C,)``; ``eps`` as in torch; ``sums``:
    float64 ``(2, C)`` scratch. Writes ``scale`` and ``shift`` ``(C,)``; an
    untouched pixel maps to ``shift``.
    """
    c = buf.shape[1]
    cg = c // groups
    sums[:] = 0.0
    for i in range(nt):
        p = tlist[i]
        for j in range(c):
            val = np.float64(buf[p, j])
            sums[0, j] += val
            sums[1, j] += val * val
    count = n_pixels * cg
    for g in range(groups):
        s1 = 0.0
        s2 = 0.0
        for j in range(g * cg, (g + 1) * cg):
            s1 += sums[0, j]
            s2 += sums[1, j]
        mean = s1 / count
        var = max(s2 / count - mean * mean, 0.0)
        rstd = 1.0 / math.sqrt(var + eps)
        for j in range(g * cg, (g + 1) * cg):
            scale[j] = rstd * weight[j]
            shift[j] = bias[j] - mean * rstd * weight[j]


@njit(cache=True, nogil=True, fastmath=True)
def tanh32(x):
    """float32 ``tanh`` as a branch-free rational function (vectorises; within 5e-7 relative)."""
    clip = np.float32(_TANH_CLIP)
    x = min(max(x, -clip), clip)
    u = x * x * np.float32(1.0 / (_TANH_CLIP * _TANH_CLIP))
    p0, p1, p2, p3, p4, p5 = _TANH_P
    q0, q1, q2, q3 = _TANH_Q
    num = ((((np.float32(p5) * u + np.float32(p4)) * u + np.float32(p3)) * u + np.float32(p2)) * u
           + np.float32(p1)) * u + np.float32(p0)
    den = ((np.float32(q3) * u + np.float32(q2)) * u + np.float32(q1)) * u + np.float32(q0)
    r = x * (num / den)
    return min(max(r, np.float32(-1.0)), np.float32(1.0))


@njit(cache=True, nogil=True, fastmath=True, error_model="numpy")
def _tanh_affine_row(hr, aff_h, th):
    """``th = tanh(hr * aff_h[0] + aff_h[1])`` over a contiguous row; clears ``hr``."""
    for j in range(hr.shape[0]):
        th[j] = tanh32(hr[j] * aff_h[0, j] + aff_h[1, j])
        hr[j] = 0.0


@njit(cache=True, nogil=True, fastmath=True, error_model="numpy")
def _stc_row(v, xr, tb, aff_x, av, ax, v_th, s_out):
    """STC update of one pixel's neurons given ``tb = (beta, gamma)`` rows ``(2, C)``; returns the spike count."""
    n = 0
    for j in range(v.shape[0]):
        x = xr[j] * aff_x[0, j] + aff_x[1, j]
        m = av * v[j] * (np.float32(1.0) + tb[0, j]) + ax * x * (np.float32(1.0) + tb[1, j])
        fired = m >= v_th
        v[j] = m - v_th if fired else m
        s_out[j] = fired
        n += fired
        xr[j] = 0.0
    return n


@njit(cache=True, nogil=True, fastmath=True, error_model="numpy")
def _lif_row(v, xr, aff_x, decay_input, k, v_th, soft, s_out):
    """LIF update of one pixel's ``C`` neurons; returns the spike count."""
    n = 0
    for j in range(v.shape[0]):
        x = xr[j] * aff_x[0, j] + aff_x[1, j]
        h = v[j] + (x - v[j]) * k if decay_input else v[j] - v[j] * k + x
        fired = h >= v_th
        if fired:
            h = h - v_th if soft else h * np.float32(0.0)
        v[j] = h
        s_out[j] = fired
        n += fired
        xr[j] = 0.0
    return n


@njit(cache=True, nogil=True, error_model="numpy")
def neuron_update(v, cbuf, hbuf, touched, tlist, nt, aff_x, aff_h, groups, mode, av, ax, k, v_th, soft, th,
                  spikes):
    """Dense membrane update of one layer (GN, circuits, charge, fire, reset); returns the spike count.

    Args:
        v: ``(P, C)`` post-reset membrane, updated in place.
        cbuf: ``(P, C)`` raw input-conv accumulator; hbuf: ``(P, 2 C)`` raw circuit
            accumulators (unused unless STC): group ``g`` of ``cg = C / groups``
            channels owns ``[2 g cg, 2 (g + 1) cg)``, its beta inputs then its gamma
            inputs. Both are zero at untouched pixels and cleared here.
        touched, tlist, nt: touched-pixel flags and list, cleared here.
        aff_x: ``(2, C)`` GN map (scale, shift) of the input current; aff_h:
            ``(2, 2 C)`` GN maps of both circuits in ``hbuf``'s layout.
        mode: :data:`STC`, :data:`LIF_DECAY_INPUT` or :data:`LIF_PLAIN_INPUT`.
        av, ax: STC factors on ``v`` and ``x`` (1, 1; STC-PLIF ``a, 1 - a``).
        k: LIF ``1/tau``. soft: soft reset for LIF (STC always resets softly).
        th: float32 ``(3, 2 C)`` scratch: one pixel's circuit tanh in ``hbuf``'s layout,
            then de-interleaved into beta and gamma rows.
        spikes: uint8 ``(P, C)`` spike map, overwritten.
    """
    n_pix, c = v.shape
    cg = c // groups
    n = 0
    for p in range(n_pix):
        if mode == STC:
            _tanh_affine_row(hbuf[p], aff_h, th[0])
            for g in range(groups):  # de-interleave: (group, beta/gamma, cg) -> (beta/gamma, C)
                for j in range(cg):
                    th[1, g * cg + j] = th[0, 2 * g * cg + j]
                    th[2, g * cg + j] = th[0, (2 * g + 1) * cg + j]
            n += _stc_row(v[p], cbuf[p], th[1:], aff_x, av, ax, v_th, spikes[p])
        else:
            n += _lif_row(v[p], cbuf[p], aff_x, mode == LIF_DECAY_INPUT, k, v_th, soft, spikes[p])
    for i in range(nt):
        touched[tlist[i]] = 0
    return n


@njit(cache=True, nogil=True)
def max_pool_map(bits, height, width, out):
    """2x2 max pool (stride 2, floor) of a ``(height * width, C)`` uint8 map into ``out``; returns its count.

    ``out``: uint8 ``(height // 2 * width // 2, C)``.
    """
    c = bits.shape[1]
    h2, w2 = height // 2, width // 2
    n = 0
    for y2 in range(h2):
        for x2 in range(w2):
            p00 = 2 * y2 * width + 2 * x2
            o = y2 * w2 + x2
            for j in range(c):
                s = bits[p00, j] | bits[p00 + 1, j] | bits[p00 + width, j] | bits[p00 + width + 1, j]
                out[o, j] = s
                n += s
    return n


@njit(cache=True, nogil=True)
def readout(bits, width, pool, out_height, out_width, wt, logits):
    """Average pool (``pool`` x ``pool``, floor) then linear readout of a spike map.

    Args:
        bits: uint8 ``(H * width, C)`` spike map.
        wt: ``(C * out_height * out_width, classes)``, rows in torch's flatten
            order ``(ch, y, x)``; logits: ``(classes,)`` holding the bias, added to.
    """
    inv = 1.0 / (pool * pool)
    n_pix, c = bits.shape
    classes = logits.shape[0]
    for pix in range(n_pix):
        yo = (pix // width) // pool
        xo = (pix % width) // pool
        if yo >= out_height or xo >= out_width:
            continue
        for ch in range(c):
            if bits[pix, ch] == 0:
                continue
            row = (ch * out_height + yo) * out_width + xo
            for j in range(classes):
                logits[j] += inv * wt[row, j]
