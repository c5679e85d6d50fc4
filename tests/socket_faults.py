"""Fault injection for the socket fault suite (``test_socket_faults.py``).

A fault must hit a read *while it is blocked after taking bytes from the kernel*; waiting a fixed
time for that would be a timing assumption, so :func:`wait_until_blocked_in_read` watches the
kernel instead: the main thread is inside a receive/poll syscall (``/proc/<pid>/task/<tid>/syscall``)
and the socket's receive queue is empty (``FIONREAD``), i.e. everything sent so far was taken.
"""
from __future__ import annotations

import fcntl
import platform
import signal
import socket as std
import struct
import termios
import threading
import time

#: Syscalls a blocked read sits in, by machine: read/recvfrom/recvmsg and poll/ppoll.
BLOCKING_READ_SYSCALLS = {
    "x86_64": {0, 7, 45, 47, 271},
    "aarch64": {63, 73, 207, 212},
    "armv7l": {3, 168, 292, 297, 336},
}


def _in_read_syscall(tid: int) -> bool:
    with open(f"/proc/self/task/{tid}/syscall") as f:
        first = f.read().split(" ", 1)[0]
    if not first.lstrip("-").isdigit():  # "running"
        return False
    return int(first) in BLOCKING_READ_SYSCALLS[platform.machine()]


def queued_bytes(fd: int) -> int:
    """Bytes in the receive queue of socket ``fd`` not yet taken by the process."""
    buf = fcntl.ioctl(fd, termios.FIONREAD, struct.pack("i", 0))
    return struct.unpack("i", buf)[0]


def wait_until_blocked_in_read(fd: int, limit: float = 10.0) -> None:
    """Return once the main thread blocks in a read of ``fd`` having taken every queued byte.

    The condition must hold on two checks 20 ms apart (a thread passing through a syscall does
    not count).  Raises AssertionError after ``limit`` seconds.
    """
    tid = threading.main_thread().native_id
    deadline = time.monotonic() + limit
    seen = 0
    while time.monotonic() < deadline:
        if queued_bytes(fd) == 0 and _in_read_syscall(tid):
            seen += 1
            if seen == 2:
                return
        else:
            seen = 0
        time.sleep(0.02)
    raise AssertionError("the read under test never blocked with an empty receive queue")


def reset(ref: std.socket) -> None:
    """Close stdlib socket ``ref`` with an RST instead of a FIN (SO_LINGER 0)."""
    ref.setsockopt(std.SOL_SOCKET, std.SO_LINGER, struct.pack("ii", 1, 0))
    ref.close()


def interrupt_main() -> None:
    """Deliver SIGUSR1 to the main thread (its handler is installed by the test)."""
    signal.pthread_kill(threading.main_thread().ident, signal.SIGUSR1)


def pattern(size: int, seed: int) -> bytes:
    """``size`` bytes whose content tells position and origin apart (no two runs alike)."""
    return bytes((i * 7 + seed + i // 251) % 256 for i in range(size))
