"""Bad input to both faces gives a clear Python exception: the right type, a message naming the
problem, never a crash, a hang or a silently wrong result.

Each case runs against a fresh set of loopback sockets (``Env``) for every face it applies to.
"""
from __future__ import annotations

import errno
import select
import re
import socket as std
from dataclasses import dataclass
from typing import Any, Callable

import pytest

pytestmark = pytest.mark.usefixtures("watchdog", "no_fd_leak")

BOTH = ("zerynth", "usocket")
ZERYNTH = ("zerynth",)
USOCKET = ("usocket",)


class Env:
    """Fresh Kiln sockets for one bad-input case (created on first use, closed by ``peers``)."""

    def __init__(self, face, peers) -> None:
        self.face = face
        self.m = face.module
        self.peers = peers
        self._cache: dict[str, Any] = {}

    def _once(self, key: str, make: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    @property
    def tcp(self):
        """A Kiln TCP socket connected to a silent reference peer (2 s timeout: a bad call that
        wrongly blocks fails fast with TimeoutError instead of hanging)."""
        def make():
            s = self.peers.stream_pair(self.face, "ipv4")[0]
            self.face.settimeout(s, 2.0)
            return s
        return self._once("tcp", make)

    @property
    def live_port(self) -> int:
        """A 127.0.0.1 port with a reference listener: a bad address that the implementation
        wrongly "repairs" into 127.0.0.1 would connect there instead of raising."""
        return self._once("live", lambda: self.peers.ref_listener("ipv4")[1][1])

    @property
    def fresh(self):
        """An unconnected, unbound Kiln TCP/IPv4 socket."""
        return self._once("fresh", lambda: self.peers.track(self.face.socket()))

    @property
    def v6(self):
        """An unconnected Kiln TCP/IPv6 socket."""
        return self._once("v6", lambda: self.peers.track(self.face.socket(self.m.AF_INET6)))

    @property
    def unix(self):
        """An unconnected Kiln AF_UNIX stream socket."""
        return self._once("unix", lambda: self.peers.track(self.face.socket(self.m.AF_UNIX)))

    @property
    def udp(self):
        """A Kiln UDP socket bound to 127.0.0.1."""
        def make():
            s = self.peers.track(self.face.socket(self.m.AF_INET, self.m.SOCK_DGRAM))
            s.bind(("127.0.0.1", 0))
            self.face.settimeout(s, 2.0)
            return s
        return self._once("udp", make)


@dataclass(frozen=True)
class Case:
    id: str
    faces: tuple[str, ...]
    call: Callable[[Env], Any]
    raises: type[BaseException] | tuple[type[BaseException], ...]
    match: str | None  # regex the message must contain (case-insensitive)


def _so(env: Env) -> tuple[int, int]:
    return env.m.SOL_SOCKET, env.m.SO_REUSEADDR


CASES = [
    # -- negative / oversized sizes ---------------------------------------------------------
    Case("recv-negative", BOTH, lambda e: e.tcp.recv(-1), ValueError, r"bufsize|negative"),
    Case("recvfrom-negative", BOTH, lambda e: e.udp.recvfrom(-1), ValueError,
         r"bufsize|negative"),
    Case("recv_into-negative", ZERYNTH, lambda e: e.tcp.recv_into(bytearray(4), -2), ValueError,
         r"bufsize|negative"),
    Case("recv_into-larger-than-buffer", ZERYNTH, lambda e: e.tcp.recv_into(bytearray(4), 5),
         ValueError, r"bufsize|buffer"),
    Case("recvfrom_into-larger-than-buffer", ZERYNTH,
         lambda e: e.udp.recvfrom_into(bytearray(4), 5), ValueError, r"bufsize|buffer"),
    Case("write-negative-max_len", USOCKET, lambda e: e.tcp.write(b"abcd", -1), ValueError,
         r"max_len"),
    Case("write-negative-off", USOCKET, lambda e: e.tcp.write(b"abcd", -1, 2), ValueError,
         r"off"),
    Case("write-float-max_len", USOCKET, lambda e: e.tcp.write(b"abcd", 0, 1.5), TypeError,
         r"max_len"),
    Case("readline-str-limit", USOCKET, lambda e: e.tcp.readline("10"), TypeError, r"limit"),
    Case("readinto-negative-nbytes", USOCKET, lambda e: e.tcp.readinto(bytearray(4), -1),
         ValueError, r"nbytes|negative"),
    Case("recv-float-size", BOTH, lambda e: e.tcp.recv(1.5), TypeError, r"int|float"),
    Case("recv-str-size", BOTH, lambda e: e.tcp.recv("10"), TypeError, r"int|str"),
    Case("recv-huge-size", BOTH, lambda e: e.tcp.recv(2 ** 64),
         (OverflowError, ValueError, MemoryError), None),
    # -- ports outside 0..65535 --------------------------------------------------------------
    Case("connect-port-65536", BOTH, lambda e: e.fresh.connect(("127.0.0.1", 65536)),
         ValueError, r"port"),
    Case("connect-port-negative", BOTH, lambda e: e.fresh.connect(("127.0.0.1", -1)),
         ValueError, r"port"),
    Case("bind-port-70000", BOTH, lambda e: e.fresh.bind(("127.0.0.1", 70000)), ValueError,
         r"port"),
    Case("sendto-port-65536", BOTH, lambda e: e.udp.sendto(b"x", ("127.0.0.1", 65536)),
         ValueError, r"port"),
    Case("connect-ipv6-port-65536", BOTH, lambda e: e.v6.connect(("::1", 65536)), ValueError,
         r"port"),
    Case("bind-int-port-65536", ZERYNTH, lambda e: e.fresh.bind(65536), ValueError, r"port"),
    Case("bind-int-port-negative", ZERYNTH, lambda e: e.fresh.bind(-1), ValueError, r"port"),
    # -- wrong address types -----------------------------------------------------------------
    Case("connect-str-for-af_inet", BOTH, lambda e: e.fresh.connect("127.0.0.1"), TypeError,
         r"address|tuple"),
    Case("connect-3-tuple-for-af_inet", BOTH, lambda e: e.fresh.connect(("127.0.0.1", 80, 0)),
         TypeError, r"address|tuple"),
    Case("connect-1-tuple-for-af_inet", BOTH, lambda e: e.fresh.connect(("127.0.0.1",)),
         TypeError, r"address|tuple"),
    Case("connect-list-for-af_inet", BOTH, lambda e: e.fresh.connect(["127.0.0.1", 80]),
         TypeError, r"address|tuple"),
    Case("connect-none", BOTH, lambda e: e.fresh.connect(None), TypeError, r"address|tuple"),
    Case("connect-port-as-str", BOTH, lambda e: e.fresh.connect(("127.0.0.1", "80")), TypeError,
         r"port"),
    Case("connect-ip-as-int", BOTH, lambda e: e.fresh.connect((2130706433, 80)), TypeError,
         r"address|ip|host|str"),
    Case("sendto-str-address", BOTH, lambda e: e.udp.sendto(b"x", "127.0.0.1"), TypeError,
         r"address|tuple"),
    Case("connect-ipv6-5-tuple", BOTH, lambda e: e.v6.connect(("::1", 80, 0, 0, 0)), TypeError,
         r"address|tuple"),
    Case("connect-tuple-for-af_unix", BOTH, lambda e: e.unix.connect(("/tmp/x", 1)), TypeError,
         r"address|path|str|bytes"),
    # -- unparseable IP text -----------------------------------------------------------------
    Case("connect-ip-999", BOTH, lambda e: e.fresh.connect(("999.1.1.1", 80)),
         (OSError, ValueError), re.escape("999.1.1.1")),
    Case("connect-hostname-text", BOTH, lambda e: e.fresh.connect(("not an ip", 80)),
         (OSError, ValueError), r"not an ip"),
    Case("connect-ipv6-text-on-af_inet", BOTH, lambda e: e.fresh.connect(("::1", 80)),
         (OSError, ValueError), re.escape("::1")),
    Case("connect-bad-ipv6", BOTH, lambda e: e.v6.connect(("::g", 80)), (OSError, ValueError),
         re.escape("::g")),
    Case("connect-ip-with-embedded-nul", BOTH,
         lambda e: e.fresh.connect(("127.0.0.1\0x", e.live_port)),
         (OSError, ValueError), r"127\.0\.0\.1|nul|null|\\x00|\\0"),
    Case("unix-path-too-long", BOTH, lambda e: e.unix.connect("/tmp/" + "p" * 200),
         (OSError, ValueError), r"path|long"),
    # -- non-buffer data ---------------------------------------------------------------------
    Case("send-int", BOTH, lambda e: e.tcp.send(123), TypeError, r"bytes|buffer|int"),
    Case("send-list", BOTH, lambda e: e.tcp.send([1, 2, 3]), TypeError, r"bytes|buffer|list"),
    Case("sendall-none", BOTH, lambda e: e.tcp.sendall(None), TypeError, r"bytes|buffer|none"),
    Case("sendall-dict", BOTH, lambda e: e.tcp.sendall({"a": 1}), TypeError,
         r"bytes|buffer|dict"),
    Case("sendto-int", BOTH, lambda e: e.udp.sendto(42, ("127.0.0.1", 9)), TypeError,
         r"bytes|buffer|int"),
    Case("write-int", USOCKET, lambda e: e.tcp.write(123), TypeError, r"bytes|buffer|int"),
    Case("send-non-contiguous-memoryview", BOTH, lambda e: e.tcp.send(memoryview(b"abcdef")[::2]),
         (TypeError, BufferError, ValueError), r"contiguous"),
    # -- read-only buffers -------------------------------------------------------------------
    Case("recv_into-bytes", ZERYNTH, lambda e: e.tcp.recv_into(b"abcd"), (TypeError, BufferError),
         r"writable|read-only|readonly"),
    Case("recvfrom_into-bytes", ZERYNTH, lambda e: e.udp.recvfrom_into(b"abcd"),
         (TypeError, BufferError), r"writable|read-only|readonly"),
    Case("recv_into-readonly-memoryview", ZERYNTH,
         lambda e: e.tcp.recv_into(memoryview(bytearray(4)).toreadonly()),
         (TypeError, BufferError), r"writable|read-only|readonly"),
    Case("recv_into-non-contiguous", ZERYNTH,
         lambda e: e.tcp.recv_into(memoryview(bytearray(8))[::2]),
         (TypeError, BufferError, ValueError), r"contiguous"),
    Case("readinto-bytes", USOCKET, lambda e: e.tcp.readinto(b"abcd"), (TypeError, BufferError),
         r"writable|read-only|readonly"),
    # -- other bad arguments -----------------------------------------------------------------
    Case("settimeout-negative", BOTH, lambda e: e.fresh.settimeout(-1), ValueError,
         r"timeout|negative"),
    Case("settimeout-str", BOTH, lambda e: e.fresh.settimeout("1"), TypeError, r"timeout|str|int"),
    Case("setsockopt-none-value", BOTH, lambda e: e.fresh.setsockopt(*_so(e), None), TypeError,
         r"int|buffer|bytes|value"),
    Case("setsockopt-float-value", BOTH, lambda e: e.fresh.setsockopt(*_so(e), 1.5), TypeError,
         r"int|buffer|bytes|value"),
    Case("shutdown-bad-how", BOTH, lambda e: e.tcp.shutdown(99), (OSError, ValueError), None),
    Case("listen-str-backlog", BOTH, lambda e: e.fresh.listen("5"), TypeError, r"int|str|backlog"),
    # Found by an independent bad-input run (issue 19): a huge backlog was clamped silently.
    Case("listen-backlog-2**64", BOTH, lambda e: e.fresh.listen(2**64), OverflowError,
         r"listen\(\) argument '(maxlog|backlog)'"),
    Case("listen-backlog--2**64", BOTH, lambda e: e.fresh.listen(-2**64), OverflowError,
         r"listen\(\) argument '(maxlog|backlog)'"),
    # ... and a lone surrogate raised a plain ValueError where CPython raises UnicodeEncodeError.
    Case("send-lone-surrogate", BOTH, lambda e: e.tcp.send("ok\udc80"), UnicodeEncodeError,
         r"send\(\) argument 'data'"),
    Case("sendall-lone-surrogate", BOTH, lambda e: e.tcp.sendall("\ud800"), UnicodeEncodeError,
         r"sendall\(\) argument 'data'"),
    Case("write-lone-surrogate", USOCKET, lambda e: e.tcp.write("\udfff"), UnicodeEncodeError,
         r"write\(\) argument 'buf'"),
    Case("sendto-lone-surrogate", BOTH, lambda e: e.udp.sendto("\udc80", ("127.0.0.1", 9)),
         UnicodeEncodeError, r"sendto\(\) argument 'data'"),
    Case("socket-str-family", BOTH, lambda e: e.m.socket("inet"), TypeError, r"int|str|family"),
    Case("socket-str-type", BOTH, lambda e: e.m.socket(e.m.AF_INET, "stream"), TypeError,
         r"int|str|type"),
    Case("getaddrinfo-int-host", USOCKET, lambda e: e.m.getaddrinfo(123, 80), TypeError,
         r"host|str|int"),
    Case("inet_pton-short-ipv4", USOCKET, lambda e: e.m.inet_pton(e.m.AF_INET, "1.2.3"),
         (OSError, ValueError), None),
    Case("inet_pton-bad-ipv6", USOCKET, lambda e: e.m.inet_pton(e.m.AF_INET6, "1:::2"),
         (OSError, ValueError), None),
    Case("inet_pton-int-text", USOCKET, lambda e: e.m.inet_pton(e.m.AF_INET, 123), TypeError,
         None),
    Case("inet_pton-unknown-family", USOCKET, lambda e: e.m.inet_pton(12345, "1.2.3.4"),
         (OSError, ValueError), None),
    Case("inet_ntop-wrong-length", USOCKET, lambda e: e.m.inet_ntop(e.m.AF_INET, b"\x01\x02"),
         (OSError, ValueError), None),
    Case("inet_ntop-str-data", USOCKET, lambda e: e.m.inet_ntop(e.m.AF_INET, "1234"), TypeError,
         None),
]


def _params():
    for case in CASES:
        for face_name in case.faces:
            yield pytest.param(face_name, case, id=f"{face_name}-{case.id}")


@pytest.mark.parametrize("face,case", list(_params()), indirect=["face"])
def test_bad_input_raises_clear_exception(face, case, peers):
    env = Env(face, peers)
    with pytest.raises(case.raises) as info:
        case.call(env)
    message = str(info.value)
    if case.match is not None:
        assert re.search(case.match, message, re.IGNORECASE), (
            f"message {message!r} does not name the problem (expected /{case.match}/)")


# ------------------------------------------------------------------------------------------
# Use after close: every operation raises OSError(EBADF); close() twice is fine
# ------------------------------------------------------------------------------------------
ADDR = ("127.0.0.1", 9)
COMMON_AFTER_CLOSE = {
    "connect": lambda s, m: s.connect(ADDR),
    "bind": lambda s, m: s.bind(("127.0.0.1", 0)),
    "listen": lambda s, m: s.listen(1),
    "accept": lambda s, m: s.accept(),
    "send": lambda s, m: s.send(b"x"),
    "sendall": lambda s, m: s.sendall(b"x"),
    "sendto": lambda s, m: s.sendto(b"x", ADDR),
    "recv": lambda s, m: s.recv(1),
    "recvfrom": lambda s, m: s.recvfrom(1),
    "setsockopt": lambda s, m: s.setsockopt(m.SOL_SOCKET, m.SO_REUSEADDR, 1),
    "getsockname": lambda s, m: s.getsockname(),
    "getpeername": lambda s, m: s.getpeername(),
    "shutdown": lambda s, m: s.shutdown(std.SHUT_RDWR),
    "settimeout": lambda s, m: s.settimeout(0),
    "setblocking": lambda s, m: s.setblocking(False),
}
ZERYNTH_AFTER_CLOSE = {
    "recv_into": lambda s, m: s.recv_into(bytearray(1)),
    "recvfrom_into": lambda s, m: s.recvfrom_into(bytearray(1)),
    "getsockopt": lambda s, m: s.getsockopt(m.SOL_SOCKET, m.SO_TYPE),
}
USOCKET_AFTER_CLOSE = {
    "read": lambda s, m: s.read(1),
    "read-all": lambda s, m: s.read(),
    "readinto": lambda s, m: s.readinto(bytearray(1)),
    "readline": lambda s, m: s.readline(),
    "write": lambda s, m: s.write(b"x"),
}


def _after_close_params():
    for face_name, extra in (("zerynth", ZERYNTH_AFTER_CLOSE), ("usocket", USOCKET_AFTER_CLOSE)):
        for name, op in {**COMMON_AFTER_CLOSE, **extra}.items():
            yield pytest.param(face_name, op, id=f"{face_name}-{name}")


@pytest.mark.parametrize("face,operation", list(_after_close_params()), indirect=["face"])
def test_operation_after_close_raises_ebadf(face, operation, peers):
    ks, _ = peers.stream_pair(face, "ipv4")
    ks.close()
    with pytest.raises(OSError) as info:
        operation(ks, face.module)
    assert info.value.errno == errno.EBADF and info.value.args[0] == errno.EBADF


def test_fileno_after_close_is_minus_one_and_select_says_so(face, peers):
    """fileno() is a query, not an operation: -1 after close, as in CPython and MicroPython's
    unix port; select() then names the problem."""
    ks, _ = peers.stream_pair(face, "ipv4")
    ks.close()
    assert ks.fileno() == -1
    with pytest.raises(ValueError, match="negative"):
        select.select([ks], [], [], 0)


def test_close_twice_is_fine(face):
    s = face.socket()
    s.close()
    s.close()


def test_closed_socket_never_touches_a_reused_descriptor(face, peers):
    """After close() the fd number is free for reuse: the dead socket must not write into it."""
    ks, _ = peers.stream_pair(face, "ipv4")
    old_fd = ks.fileno()
    ks.close()
    a, b = std.socketpair()  # the kernel hands out the lowest free descriptor numbers
    peers.track(a)
    peers.track(b)
    assert old_fd in (a.fileno(), b.fileno()), "the closed descriptor was not reused"
    with pytest.raises(OSError) as info:
        ks.send(b"must not arrive")
    assert info.value.errno == errno.EBADF
    other_end = b if a.fileno() == old_fd else a
    other_end.setblocking(False)
    with pytest.raises(BlockingIOError):
        other_end.recv(100)  # nothing was written through the reused descriptor
