"""Fault suite: for every read path of both faces, bytes a read already took from the kernel are
never lost when the read is cut short, and come back first.

Read paths: Zerynth ``recv``, ``recv_into``, ``recvfrom``; MicroPython ``recv``, ``recv_into``,
``recvfrom``, ``read()``, ``read(n)``, ``readinto``, ``readline``.  Faults: a timeout, a peer
reset (RST), EOF, and a signal whose handler raises (on a blocking socket: the signal interrupts
recv; on a timeout socket: the poll wait).  Each case sends a patterned prefix the read takes but
cannot finish with, injects the fault while the read is blocked (``socket_faults`` watches the
kernel to know when), then reads on with the same call until EOF and compares the content of
everything read with everything sent.
"""
from __future__ import annotations

import socket as std
from dataclasses import dataclass
from typing import Any, Callable

import pytest

from socket_faces import load_face
from socket_faults import interrupt_main, pattern, reset, wait_until_blocked_in_read

pytestmark = pytest.mark.usefixtures("watchdog", "no_fd_leak")

BIG = 65536        # what a filling read asks for: more than the prefix
PREFIX = 40000     # more than one internal chunk, less than BIG


class HandlerError(Exception):
    """Raised by the test's SIGUSR1 handler inside the read under test."""


@dataclass(frozen=True)
class ReadPath:
    face: str
    name: str
    read: Callable[[Any], bytes]
    line: bool = False     # readline: the prefix has no newline, the rest ends one


def _into(call: Callable[[bytearray], int]) -> bytes:
    buf = bytearray(BIG)
    n = call(buf)
    return bytes(buf[:n])


PATHS = [
    ReadPath("zerynth", "recv", lambda s: bytes(s.recv(BIG))),
    ReadPath("zerynth", "recv_into", lambda s: _into(s.recv_into)),
    ReadPath("zerynth", "recvfrom", lambda s: bytes(s.recvfrom(BIG)[0])),
    ReadPath("usocket", "recv", lambda s: s.recv(BIG)),
    ReadPath("usocket", "recv_into", lambda s: _into(s.recv_into)),
    ReadPath("usocket", "recvfrom", lambda s: s.recvfrom(BIG)[0]),
    ReadPath("usocket", "read", lambda s: s.read()),
    ReadPath("usocket", "read(n)", lambda s: s.read(BIG)),
    ReadPath("usocket", "readinto", lambda s: _into(s.readinto)),
    ReadPath("usocket", "readline", lambda s: s.readline(), line=True),
]
FAULTS = ["timeout", "reset", "eof", "signal-blocking", "signal-timeout"]
EXPECTED = {"timeout": TimeoutError, "reset": ConnectionResetError, "eof": type(None),
            "signal-blocking": HandlerError, "signal-timeout": HandlerError}


def read_until_fault_or_eof(path: ReadPath, sock: Any) -> tuple[bytes, BaseException | None]:
    """Call the read path until it raises or returns b"" (EOF); return what it read."""
    got = bytearray()
    while True:
        try:
            chunk = path.read(sock)
        except (OSError, HandlerError) as exc:
            return bytes(got), exc
        assert chunk is not None, "a blocking read returned None"
        if not chunk:
            return bytes(got), None
        got += chunk


def _params():
    for path in PATHS:
        for fault in FAULTS:
            yield pytest.param(path, fault, id=f"{path.face}-{path.name}-{fault}")


@pytest.mark.parametrize("path,fault", list(_params()))
def test_bytes_taken_before_a_fault_come_back_first(path, fault, peers, signals):
    face = load_face(path.face)
    ks, ref = peers.stream_pair(face, "ipv4")
    if path.line:
        first, rest = b"abc" + pattern(PREFIX, 1).replace(b"\n", b"."), b"def\n"
    else:
        first, rest = pattern(PREFIX, 1), pattern(3000, 2)

    if fault in ("timeout", "signal-timeout"):
        face.settimeout(ks, 0.3 if fault == "timeout" else 30.0)
    if fault.startswith("signal"):
        def handler(signum, frame):
            raise HandlerError("raised by the signal handler")
        signals.install(handler)
        peers.background(lambda: (wait_until_blocked_in_read(ks.fileno()), interrupt_main()),
                         name="interrupter")
    elif fault == "reset":
        peers.background(lambda: (wait_until_blocked_in_read(ks.fileno()), reset(ref)),
                         name="resetter")

    ref.sendall(first)
    if fault == "eof":
        ref.shutdown(std.SHUT_WR)
    before, exc = read_until_fault_or_eof(path, ks)
    assert isinstance(exc, EXPECTED[fault]), f"expected {EXPECTED[fault].__name__}, got {exc!r}"

    expected = first
    if fault not in ("eof", "reset"):
        face.settimeout(ks, None)
        ref.sendall(rest)
        ref.shutdown(std.SHUT_WR)
        expected = first + rest
    after, exc = read_until_fault_or_eof(path, ks)
    assert exc is None, f"reading on after the {fault} raised {exc!r}"
    total = before + after
    assert len(total) == len(expected), (
        f"{len(expected) - len(total)} bytes lost ({len(before)} read before the {fault}, "
        f"{len(after)} after)")
    assert total == expected, "bytes came back out of order or altered"
