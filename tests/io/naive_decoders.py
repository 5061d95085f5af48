"""Plain Python / NumPy reference decoders, written from ``shared/spec/formats.md``, for the kernel tests.

Each returns a list of ``(t, x, y, p)`` tuples (or an event array) and applies
the same policies as evstream (documented in the kernel modules): events before
the first time base are skipped, pixels outside the sensor dropped, times that
step back held at the latest time.
"""

from __future__ import annotations

import numpy as np

from evstream.events import make_events


def to_events(rows: list[tuple[int, int, int, int]]) -> np.ndarray:
    if not rows:
        return make_events([], [], [], [])
    t, x, y, p = zip(*rows)
    return make_events(np.array(t, np.int64), x, y, p)


def evt2(words: np.ndarray, width: int, height: int, legacy21: bool | None = None) -> list[tuple]:
    """EVT 2.0 (uint32 words) or, when ``legacy21`` is not None, EVT 2.1 (uint64 words)."""
    rows, th, have, last, loop = [], 0, False, -(1 << 62), 0
    max_high = ((1 << 28) - 1) << 6
    for w in (int(v) for v in words):
        if legacy21:
            w = ((w & 0xFFFFFFFF) << 32) | (w >> 32)
        if legacy21 is None:
            typ, lsb, x, y, mask, high = w >> 28, (w >> 22) & 63, (w >> 11) & 0x7FF, w & 0x7FF, 1, w & 0xFFFFFFF
        else:
            typ, lsb, x, y, mask, high = (w >> 60, (w >> 54) & 63, (w >> 43) & 0x7FF, (w >> 32) & 0x7FF,
                                          w & 0xFFFFFFFF, (w >> 32) & 0xFFFFFFF)
        if typ == 8:
            new = high << 6
            if have and th - new >= max_high - 10000:
                loop += 1
            th, have = new, True
        elif typ <= 1 and have:
            t = max(loop * (1 << 34) + th + lsb, last)
            for b in range(32):
                if mask >> b & 1:
                    if x + b < width and y < height:
                        rows.append((t, x + b, y, typ))
                        last = t
    return rows


def evt3(words: np.ndarray, width: int, height: int) -> list[tuple]:
    """EVT 3.0 (uint16 words): spec decode with faery's never-back time register."""
    rows = []
    y = high = low = loops = base = vpol = t = 0
    have = is_cd = False
    for w in (int(v) for v in words):
        typ, payload = w >> 12, w & 0xFFF
        if typ == 0x0:
            y, is_cd = payload & 0x7FF, True
        elif typ == 0x1:
            is_cd = False
        elif typ == 0x2:
            if have and is_cd and (payload & 0x7FF) < width and y < height:
                rows.append((t, payload & 0x7FF, y, payload >> 11))
        elif typ == 0x3:
            base, vpol = payload & 0x7FF, payload >> 11
        elif typ in (0x4, 0x5):
            bits = 12 if typ == 0x4 else 8
            if have and is_cd:
                rows += [(t, base + b, y, vpol) for b in range(bits)
                         if payload >> b & 1 and base + b < width and y < height]
            base += bits
        elif typ == 0x6:
            low = payload
            t = max(t, loops * (1 << 24) + (high << 12) + low)
        elif typ == 0x8:
            if have and high >= payload + 2048:
                loops += 1
            if payload != high:
                low = 0
            high = payload
            now = loops * (1 << 24) + (high << 12) + low
            t = now if not have else max(t, now)
            have = True
    return rows


def unwrap32(raw: np.ndarray) -> np.ndarray:
    """64-bit times from a 32-bit counter (a drop > 2^31 is a wrap), then held never to decrease."""
    raw = raw.astype(np.int64)
    wraps = np.concatenate([[0], np.cumsum(np.diff(raw) < -(1 << 31))])
    return np.maximum.accumulate(raw + (wraps << 32)) if len(raw) else raw


def aedat2(data: bytes, davis_height: int | None) -> np.ndarray:
    """AEDAT 2.0 records after the header; ``davis_height`` None means the DVS128 layout."""
    rec = np.frombuffer(data[:len(data) // 8 * 8], dtype=[("a", ">u4"), ("t", ">u4")])
    a = rec["a"].astype(np.int64)
    t = unwrap32(rec["t"])
    if davis_height is None:
        keep = (a & 0x8000) == 0
        x, y, p = 127 - ((a >> 1) & 0x7F), 127 - ((a >> 8) & 0x7F), 1 - (a & 1)
    else:
        yb = (a >> 22) & 0x1FF
        keep = ((a & 0x80000400) == 0) & (yb < davis_height)
        x, y, p = (a >> 12) & 0x3FF, davis_height - 1 - yb, (a >> 11) & 1
    return make_events(t[keep], x[keep], y[keep], p[keep])


def dat(data: bytes) -> np.ndarray:
    """DAT v2 8-byte CD records (after the header and the type/size bytes)."""
    rec = np.frombuffer(data[:len(data) // 8 * 8], dtype=[("t", "<u4"), ("w", "<u4")])
    w = rec["w"].astype(np.int64)
    return make_events(unwrap32(rec["t"]), w & 0x3FFF, (w >> 14) & 0x3FFF, (w >> 28) & 1)


def nmnist(data: bytes) -> np.ndarray:
    """5-byte N-MNIST records (no overflow markers in the inputs used)."""
    r = np.frombuffer(data[:len(data) // 5 * 5], np.uint8).reshape(-1, 5).astype(np.int64)
    t = ((r[:, 2] & 0x7F) << 16) | (r[:, 3] << 8) | r[:, 4]
    return make_events(np.maximum.accumulate(t) if len(t) else t, r[:, 0], r[:, 1], r[:, 2] >> 7)


def aedat3_file(packets: list[tuple[int, int, np.ndarray]], source: str = "DVS128") -> bytes:
    """An AEDAT 3.1 file: header, then per ``(event type, ts overflow, payload uint32 pairs)`` a packet."""
    head = (f"#!AER-DAT3.1\r\n#Format: RAW\r\n#Source 1: {source}\r\n"
            "#Start-Time: 2024-01-01 00:00:00 (TZ+0000)\r\n#!END-HEADER\r\n").encode()
    body = b""
    for ev_type, overflow, words in packets:
        n = len(words) // 2
        body += np.array([ev_type, 1], "<i2").tobytes() + np.array([8, 4, overflow, n, n, n], "<i4").tobytes()
        body += words.astype("<u4").tobytes()
    return head + body
