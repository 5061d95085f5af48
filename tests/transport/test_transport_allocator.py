"""Receivers keep freed message buffers mapped (glibc), so large messages do not page-fault in again."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="tunes glibc's malloc")

_FREE_A_MESSAGE_BUFFER = """
import ctypes, sys
if sys.argv[1] == "receiver":
    from evstream.transport import Receiver, SocketConfig
    Receiver(SocketConfig("ipc://" + sys.argv[2], bind=True)).open()
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
class Info(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]
libc.mallinfo2.restype = Info
size = 8 << 20  # one 8 MiB message, allocated and freed the way libzmq does
block = libc.malloc(size)
ctypes.memset(block, 1, size)
libc.free(block)
print(libc.mallinfo2().keepcost)
"""


def _kept_after_free(mode: str, tmp_path) -> int:
    """Bytes of free heap top glibc keeps mapped after an 8 MiB block was freed, in a fresh process."""
    out = subprocess.run([sys.executable, "-c", _FREE_A_MESSAGE_BUFFER, mode, str(tmp_path / "r.sock")],
                         capture_output=True, text=True, timeout=60, check=True)
    return int(out.stdout)


def test_opening_a_receiver_keeps_freed_message_buffers_mapped(tmp_path):
    assert _kept_after_free("plain", tmp_path) < 8 << 20  # glibc's default: mmap'ed, unmapped on free
    assert _kept_after_free("receiver", tmp_path) >= 8 << 20  # tuned: reused from the heap, no fresh pages
