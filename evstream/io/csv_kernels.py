"""Numba kernel of the CSV reader: rows of four decimal integers, parsed from raw bytes.

Accepted, as by ``numpy.loadtxt`` (the reader before this kernel): spaces, tabs and ``\\r`` around
values, ``+``/``-`` signs, empty lines and ``#`` comments (to the end of the line); also lines of
blanks only, which loadtxt refused.
Anything else in a row is an error with its byte position.
"""

from __future__ import annotations

import numpy as np
from numba import njit

CSV_OK = 0
CSV_BAD_BYTE = 1
"""A byte that is not a digit, sign, comma, blank or comment, or a value cut by blanks."""
CSV_EMPTY_VALUE = 2
"""A sign without digits, or nothing between two commas or after the last one."""
CSV_COLUMNS = 3
"""A row with other than four values."""
CSV_TOO_LONG = 4
"""A value of more than 18 digits (beyond int64)."""
CSV_ERRORS = {CSV_BAD_BYTE: "a byte that is not part of an integer", CSV_EMPTY_VALUE: "an empty value",
              CSV_COLUMNS: "a row without exactly 4 values", CSV_TOO_LONG: "a value of more than 18 digits"}
"""What each error status means, for messages."""


@njit(cache=True, nogil=True)
def parse_int_rows(buf: np.ndarray, start: int, final: bool, out: np.ndarray) -> tuple[int, int, int, int]:
    """Parse rows ``a,b,c,d`` of ``buf`` (uint8) from byte ``start`` into ``out`` (int64 ``(cap, 4)``).

    Stops after the last complete line (``\\n``-terminated; with ``final`` the buffer's end also
    ends a line) or when ``out`` is full. Returns ``(rows, next_byte, status, error_byte)``:
    ``next_byte`` is where the next call starts; on an error (``status`` != :data:`CSV_OK`)
    ``error_byte`` is the offending byte's position in ``buf``, else -1.
    """
    n = buf.shape[0]
    cap = out.shape[0]
    rows = 0
    i = start
    while rows < cap and i < n:
        col = 0
        val = 0
        digits = 0
        sign = 0  # 0: none, 1: plus, -1: minus
        closed = False  # blanks followed the value: only a comma may come next
        comment = False
        k = i
        while k < n:
            c = buf[k]
            if c == 10:
                break
            k += 1
            if comment:
                continue
            if 48 <= c <= 57:
                if closed:
                    return rows, i, CSV_BAD_BYTE, k - 1
                digits += 1
                if digits > 18:
                    return rows, i, CSV_TOO_LONG, k - 1
                val = val * 10 + (c - 48)
            elif c == 44:  # ','
                if digits == 0:
                    return rows, i, CSV_EMPTY_VALUE, k - 1
                if col == 3:  # a comma after the fourth value
                    return rows, i, CSV_COLUMNS, k - 1
                out[rows, col] = -val if sign < 0 else val
                col += 1
                val = digits = sign = 0
                closed = False
            elif c == 32 or c == 9 or c == 13:
                closed = digits > 0 or sign != 0
            elif c == 45 or c == 43:  # '-' or '+'
                if digits or sign or closed:
                    return rows, i, CSV_BAD_BYTE, k - 1
                sign = -1 if c == 45 else 1
            elif c == 35:  # '#': a comment to the end of the line
                comment = True
            else:
                return rows, i, CSV_BAD_BYTE, k - 1
        if k == n and not final:
            break  # the line goes on in the next chunk: parse it again from its start then
        if digits:
            out[rows, col] = -val if sign < 0 else val
            col += 1
        elif sign or col:
            return rows, i, CSV_EMPTY_VALUE, k
        if col == 4:
            rows += 1
        elif col:
            return rows, i, CSV_COLUMNS, i
        i = k + 1
    return rows, min(i, n), CSV_OK, -1
