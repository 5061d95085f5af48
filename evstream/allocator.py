"""The C allocator's thresholds, tuned for the large buffers an event stream allocates and frees.

Receivers (every large ZeroMQ message is a fresh malloc) and the two-thread
decoders (blocks held while the other thread's part is decoded) free many
megabyte-sized buffers; with glibc's default thresholds those go back to the
kernel and the next ones page-fault all their pages in again.
"""

from __future__ import annotations

import ctypes
import functools
import platform

__all__ = ["keep_freed_buffers"]

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024
_TRIM_THRESHOLD_BYTES = 128 * 1024 * 1024


@functools.cache
def keep_freed_buffers() -> bool:
    """Make glibc keep freed large buffers (messages, event blocks) for reuse instead of returning them
    to the kernel.

    Sets the process's malloc thresholds: blocks up to 32 MiB come from the
    heap (not from their own ``mmap``) and up to 128 MiB of free heap top stay
    mapped. Without this, receiving 100k-event (1.6 MB) packets spent up to
    300 µs of kernel time per packet faulting in and zeroing fresh pages,
    depending on how the frees happened to line up; two-thread decoding
    (:func:`evstream.io.decoder.decode_chunks`) ran at the speed of fresh
    memory. Process-wide; runs once.
    Returns ``False`` where the C library is not glibc (nothing is changed).
    """
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    mallopt = ctypes.CDLL(None).mallopt
    return bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_BYTES) and mallopt(_M_TRIM_THRESHOLD,
                                                                             _TRIM_THRESHOLD_BYTES))
