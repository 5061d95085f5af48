"""Hypothesis strategies that mutate seed files: byte and bit flips, boundary integers, inserts,
deletes, repeats (deep nesting, long runs), truncations, splices and ASCII number swaps (headers, JSON)."""

from __future__ import annotations

import re
import struct

from hypothesis import strategies as st

MAX_BYTES = 1 << 20
"""Mutated inputs are cut to this size (1 MiB)."""
BOUNDARY_INTS = (0, 1, -1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF,
                 (1 << 63) - 1, 1 << 63, (1 << 64) - 1)
NUMBERS = (b"0", b"-1", b"1", b"65535", b"65536", b"2147483648", b"4294967296", b"9223372036854775808",
           b"99999999999999999999999", b"1e999", b"-0", b"0.5", b"nan", b"null", b"true", b"[]", b'""', b"{}")
_DIGITS = re.compile(rb"-?\d+")

_pos = st.integers(0, MAX_BYTES)
OPS = st.one_of(
    st.tuples(st.just("byte"), _pos, st.integers(0, 255)),
    st.tuples(st.just("bit"), _pos, st.integers(0, 7)),
    st.tuples(st.just("int"), _pos, st.sampled_from(BOUNDARY_INTS), st.sampled_from([1, 2, 4, 8]),
              st.sampled_from("<>")),
    st.tuples(st.just("delete"), _pos, st.integers(1, 64)),
    st.tuples(st.just("insert"), _pos, st.binary(min_size=1, max_size=16)),
    st.tuples(st.just("repeat"), _pos, st.integers(1, 16), st.integers(2, 4000)),
    st.tuples(st.just("truncate"), _pos),
    st.tuples(st.just("splice"), _pos, _pos, st.integers(1, 512)),
    st.tuples(st.just("number"), st.integers(0, 40), st.sampled_from(NUMBERS)),
)
"""One mutation; positions are taken modulo the current length."""


def _int_bytes(value: int, size: int, order: str) -> bytes:
    return struct.pack(order + {1: "B", 2: "H", 4: "I", 8: "Q"}[size], value % (1 << (8 * size)))


def apply(seed: bytes, ops: list[tuple]) -> bytes:
    """``seed`` with the mutations ``ops`` (drawn from :data:`OPS`) applied in order."""
    data = bytearray(seed)
    for op in ops:
        kind, n = op[0], len(data)
        if kind == "number":
            runs = list(_DIGITS.finditer(bytes(data[:4096])))
            if runs:
                m = runs[op[1] % len(runs)]
                data[m.start():m.end()] = op[2]
            continue
        if n == 0:
            if kind == "insert":
                data += op[2]
            continue
        at = op[1] % n
        if kind == "byte":
            data[at] = op[2]
        elif kind == "bit":
            data[at] ^= 1 << op[2]
        elif kind == "int":
            raw = _int_bytes(op[2], op[3], op[4])
            data[at:at + len(raw)] = raw
        elif kind == "delete":
            del data[at:at + op[2]]
        elif kind == "insert":
            data[at:at] = op[2]
        elif kind == "repeat":
            data[at:at] = bytes(data[at:at + op[2]]) * op[3]
        elif kind == "truncate":
            del data[at:]
        elif kind == "splice":
            src = op[2] % n
            data[at:at] = data[src:src + op[3]]
        del data[MAX_BYTES:]
    return bytes(data)


def inputs(seeds: list[bytes]) -> st.SearchStrategy[bytes]:
    """Mutated seeds: one of ``seeds`` with 1 to 6 mutations."""
    return st.builds(apply, st.sampled_from(seeds), st.lists(OPS, min_size=1, max_size=6))
