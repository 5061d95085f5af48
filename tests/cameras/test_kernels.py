"""The camera kernels against the plain references in ``naive.py``."""

from __future__ import annotations

import numpy as np
import pytest

from evstream.cameras import _kernels
from evstream.events import EVENT_DTYPE

from . import naive


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_emit_crossings_matches_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    h, w = 9, 13
    log_prev = rng.normal(0, 0.5, (h, w)).astype(np.float32)
    # Some pixels still, some rising or falling by several thresholds.
    log_next = (log_prev + rng.choice([0.0, 0.05, 0.9, -0.7], (h, w)) * rng.uniform(0.5, 1.5, (h, w))).astype(np.float32)
    ref = (log_prev + rng.uniform(-0.1, 0.1, (h, w))).astype(np.float32)
    c_on = rng.uniform(0.1, 0.3, (h, w)).astype(np.float32)
    c_off = rng.uniform(0.1, 0.3, (h, w)).astype(np.float32)
    last_t = rng.choice([-10**9, 995, 1003], (h, w)).astype(np.int64)
    ref_n, last_n = ref.copy(), last_t.copy()
    # The new frame: some pixels unchanged since the previous frame (their log is reused, not recomputed).
    image = (np.exp(log_next) - 0.02).astype(np.float32)
    prev_image = np.where(log_next == log_prev, image, np.nan).astype(np.float32)
    level, active = np.zeros_like(log_next), np.zeros(h * w, np.int64)
    cap, n_active = _kernels.log_and_count(image, prev_image, np.float32(0.02), log_prev, level, ref, c_on, c_off,
                                           active)
    still = log_next == log_prev
    assert still.any()
    np.testing.assert_array_equal(level[still], log_prev[still])
    np.testing.assert_allclose(level[~still], np.log(image + np.float32(0.02))[~still], rtol=1e-6)
    log_next = level
    expected, exp_dropped = naive.emit_crossings(log_prev, log_next, ref_n, last_n, c_on, c_off, 1000, 2000, 300)
    fired = {y * w + x for _, x, y, _ in expected}
    assert set(active[:n_active].tolist()) >= fired and np.all(np.diff(active[:n_active]) > 0)
    out = np.zeros(cap, EVENT_DTYPE)
    n, dropped = _kernels.emit_crossings(log_prev, log_next, ref, last_t, c_on, c_off, active[:n_active],
                                         1000, 2000, 300, out["t"], out["x"], out["y"], out["p"])
    got = [tuple(int(v) for v in e) for e in out[:n][["t", "x", "y", "p"]].tolist()]
    assert expected, "the random scene must produce events"
    assert exp_dropped > 0, "the refractory state must drop some events"
    assert got == expected
    assert dropped == exp_dropped
    assert cap == n + dropped
    np.testing.assert_array_equal(ref, ref_n)
    np.testing.assert_array_equal(last_t, last_n)


def test_draw_capsules_matches_reference() -> None:
    rng = np.random.default_rng(5)
    caps = np.column_stack([rng.uniform(-5, 45, (6, 4)), rng.uniform(0.5, 6, 6), rng.uniform(0, 1, 6)])
    caps[0, 2:4] = caps[0, 0:2]  # a disc (zero-length segment)
    base = rng.uniform(0, 1, (30, 40)).astype(np.float32)
    got, expected = base.copy(), base.copy()
    _kernels.draw_capsules(got, caps)
    naive.draw_capsules(expected, caps)
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert not np.allclose(got, base)
