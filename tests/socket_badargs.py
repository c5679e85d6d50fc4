"""Bad-input cases for every argument of every public callable of both socket faces.

The cases are generated from the stub signatures (``socket_signatures``): each parameter gets a
category (from its name and annotation), each category a list of bad values with the exception
they must raise.  A case calls the callable with valid values for every other argument (given
positionally, in stub order) and the one bad value, on a fresh socket of the right kind.  Two more
cases per callable: the valid call itself (must not be refused: it proves the bad value, not the
rest of the call, is what a refusal is about) and, for socket methods, the valid call on a closed
socket (OSError EBADF, except the queries in ``CLOSED_QUERIES``).

``run_case`` executes one case and reports its outcome as plain data; the worker process
(``socket_worker.py``) calls it so that a crash cannot take the test run down.  Sockets are
non-blocking: a bad value wrongly accepted fails fast (BlockingIOError) instead of hanging.
"""
from __future__ import annotations

import gc
import importlib
import math
import os
import socket as std
from dataclasses import dataclass
from typing import Any, Callable

from socket_signatures import Param, Signature, public_callables

FACES = ("zerynth", "usocket")
MODULES = {"zerynth": "networking.socket", "usocket": "usocket"}


@dataclass(frozen=True)
class Bad:
    label: str
    make: Callable[[], Any]
    raises: type[BaseException]
    family: str = "inet"          # address values: the socket family they are meant for


def _bad(label: str, value: Any, raises: type[BaseException], family: str = "inet") -> Bad:
    return Bad(label, lambda: value, raises, family)


NOT_INT = [_bad("float", 1.5, TypeError), _bad("str", "1", TypeError),
           _bad("bytes", b"1", TypeError), _bad("None", None, TypeError)]
C_INT_RANGE = [_bad("2**31", 2**31, OverflowError), _bad("-2**31-1", -2**31 - 1, OverflowError),
               _bad("2**64", 2**64, OverflowError)]
NON_CONTIGUOUS = Bad("non-contiguous memoryview", lambda: memoryview(bytearray(8))[::2], TypeError)
INET_ADDRESSES = [
    _bad("str", "127.0.0.1", TypeError), _bad("None", None, TypeError),
    _bad("list", ["127.0.0.1", 9], TypeError), _bad("1-tuple", ("127.0.0.1",), TypeError),
    _bad("3-tuple", ("127.0.0.1", 9, 0), TypeError), _bad("port 65536", ("127.0.0.1", 65536),
                                                          ValueError),
    _bad("port -1", ("127.0.0.1", -1), ValueError), _bad("port str", ("127.0.0.1", "9"), TypeError),
    _bad("port float", ("127.0.0.1", 9.0), TypeError), _bad("ip int", (2130706433, 9), TypeError),
    _bad("ip 999.1.1.1", ("999.1.1.1", 9), ValueError),
    _bad("host name", ("localhost", 9), ValueError),
    _bad("ip with NUL", ("127.0.0.1\0", 9), ValueError),
    _bad("IPv6 text", ("::1", 9), ValueError),
]
INET6_ADDRESSES = [
    _bad("5-tuple", ("::1", 9, 0, 0, 0), TypeError, "inet6"),
    _bad("flowinfo -1", ("::1", 9, -1), ValueError, "inet6"),
    _bad("flowinfo 2**20", ("::1", 9, 2**20), ValueError, "inet6"),
    _bad("flowinfo float", ("::1", 9, 0.0), TypeError, "inet6"),
    _bad("scope_id -1", ("::1", 9, 0, -1), ValueError, "inet6"),
    _bad("scope_id 2**32", ("::1", 9, 0, 2**32), ValueError, "inet6"),
    _bad("scope_id str", ("::1", 9, 0, "lo"), TypeError, "inet6"),
    _bad("scope with NUL", ("::1%lo\0junk", 9), ValueError, "inet6"),
    _bad("scope superscript digit", ("::1%\u00b2", 9), ValueError, "inet6"),
    _bad("scope Arabic digit", ("::1%\u0663", 9), ValueError, "inet6"),
    _bad("empty scope", ("::1%", 9), ValueError, "inet6"),
    _bad("IPv4 text", ("127.0.0.1", 9), ValueError, "inet6"),
]
UNIX_ADDRESSES = [
    _bad("tuple", ("/tmp/x", 1), TypeError, "unix"), _bad("int", 1, TypeError, "unix"),
    _bad("None", None, TypeError, "unix"),
    _bad("path too long", "/tmp/" + "p" * 200, ValueError, "unix"),
    _bad("unencodable str", "\ud800", TypeError, "unix"),
    Bad("non-contiguous path", lambda: memoryview(b"/tmp/xxxx")[::2], TypeError, "unix"),
]
ADDRESSES = INET_ADDRESSES + INET6_ADDRESSES + UNIX_ADDRESSES

CATEGORIES: dict[str, list[Bad]] = {
    "cint": NOT_INT + C_INT_RANGE,
    "ip-family": NOT_INT + C_INT_RANGE + [_bad("AF_UNIX", std.AF_UNIX, ValueError)],
    "fileno": NOT_INT[:3] + [_bad("-1", -1, ValueError), _bad("2**31", 2**31, OverflowError)],
    "size": NOT_INT + [_bad("-1", -1, ValueError), _bad("2**62", 2**62, ValueError),
                       _bad("2**64", 2**64, ValueError)],
    "count-minus-one": NOT_INT + [_bad("-2", -2, ValueError), _bad("5 > len 4", 5, ValueError),
                                  _bad("2**64", 2**64, ValueError)],
    "count-none": NOT_INT[:3] + [_bad("-1", -1, ValueError), _bad("5 > len 4", 5, ValueError),
                                 _bad("2**64", 2**64, ValueError)],
    "read-size": NOT_INT[:3] + [_bad("2**62", 2**62, ValueError)],
    # py/stream.c's optional counts: larger than the buffer is clamped (not an error)
    "clamped-count": NOT_INT[:3] + [_bad("-1", -1, ValueError), _bad("-2**64", -2**64, ValueError)],
    "line-limit": NOT_INT[:3] + [_bad("list", [1], TypeError)],
    "buflen": NOT_INT + [_bad("-1", -1, ValueError), _bad("1025", 1025, ValueError),
                         _bad("2**31", 2**31, OverflowError)],
    "backlog": NOT_INT + C_INT_RANGE,   # clamped into 0..INT_MAX, but only once it fits a C int
    "timeout": [_bad("str", "1", TypeError), _bad("bool", True, TypeError),
                _bad("bytes", b"1", TypeError), _bad("list", [1], TypeError),
                _bad("-1", -1, ValueError), _bad("nan", math.nan, ValueError),
                _bad("inf", math.inf, ValueError), _bad("2**63", 2**63, ValueError)],
    "flag": [_bad("str", "yes", TypeError), _bad("None", None, TypeError),
             _bad("float", 1.5, TypeError)],
    "optvalue": [_bad("float", 1.5, TypeError), _bad("None", None, TypeError),
                 _bad("str", "1", TypeError), _bad("2**31", 2**31, OverflowError), NON_CONTIGUOUS],
    "how": NOT_INT + C_INT_RANGE + [_bad("3", 3, ValueError), _bad("-1", -1, ValueError)],
    "mode": [_bad("int", 1, TypeError), _bad("None", None, TypeError),
             _bad("text 'r'", "r", ValueError), _bad("'rbx'", "rbx", ValueError),
             _bad("empty", "", ValueError)],
    "buffering": [_bad("float", 1.5, TypeError), _bad("str", "0", TypeError)],
    "host": [_bad("int", 1, TypeError), _bad("list", [], TypeError),
             _bad("NUL", "127.0.0.1\0", ValueError), _bad("not IDNA", "\udc80", ValueError)],
    "port": [_bad("float", 1.5, TypeError), _bad("list", [80], TypeError),
             _bad("65536", 65536, ValueError), _bad("-1", -1, ValueError),
             _bad("non-ASCII digits", "\uff18\uff10", ValueError), _bad("NUL", "80\0", ValueError)],
    "txt": [_bad("int", 1, TypeError), _bad("None", None, TypeError),
            _bad("bytearray", bytearray(b"1.2.3.4"), TypeError),
            _bad("short", "1.2.3", ValueError), _bad("NUL", "1.2.3.4\0", ValueError)],
    "bin": [_bad("str", "1234", TypeError), _bad("int", 1, TypeError), _bad("None", None, TypeError),
            Bad("non-contiguous", lambda: memoryview(b"12345678")[::2], TypeError),
            _bad("2 bytes", b"\1\2", ValueError)],
    "data": [_bad("int", 1, TypeError), _bad("None", None, TypeError), _bad("list", [1], TypeError),
             _bad("dict", {}, TypeError), NON_CONTIGUOUS,
             _bad("lone surrogate", "\udc80", UnicodeEncodeError)],   # a ValueError, as CPython
    "wbuffer": [_bad("bytes", b"abcd", TypeError), _bad("str", "abcd", TypeError),
                Bad("read-only memoryview", lambda: memoryview(bytearray(4)).toreadonly(),
                    TypeError), NON_CONTIGUOUS, _bad("int", 4, TypeError),
                _bad("None", None, TypeError)],
    "address": ADDRESSES,
    "ifc": [_bad("float", 1.5, TypeError), _bad("bytes", b"lo", TypeError),
            _bad("list", ["lo"], TypeError), _bad("int 5", 5, ValueError),
            _bad("-2", -2, ValueError), _bad("empty name", "", ValueError),
            _bad("name of 16", "x" * 16, ValueError), _bad("name with NUL", "lo\0", ValueError),
            _bad("name with space", "l o", ValueError),
            _bad("no such interface", "kilnnosuch0", OSError)],
    "port-or-address": [b for b in ADDRESSES if b.label != "int"] + [
        _bad("int port 65536", 65536, ValueError), _bad("int port -1", -1, ValueError),
        _bad("int port", 80, ValueError, "unix")],
}

# Category of (callable id, parameter); parameters not listed go by annotation (ANNOTATED).
SPECIAL = {
    ("socket", "fileno"): "fileno", ("socket", "ifc"): "ifc",
    ("socket.recv", "bufsize"): "size", ("socket.recvfrom", "bufsize"): "size",
    ("socket.recv_into", "bufsize"): "count-minus-one",
    ("socket.recvfrom_into", "nbytes"): "count-minus-one",
    ("socket.recv_into", "nbytes"): "count-none", ("socket.readinto", "nbytes"): "clamped-count",
    ("socket.write", "off"): "clamped-count", ("socket.write", "max_len"): "clamped-count",
    ("socket.readline", "limit"): "line-limit",
    ("socket.read", "size"): "read-size",
    ("socket.getsockopt", "buflen"): "buflen",
    ("socket.listen", "maxlog"): "backlog", ("socket.listen", "backlog"): "backlog",
    ("socket.settimeout", "timeout"): "timeout", ("socket.settimeout", "value"): "timeout",
    ("socket.setblocking", "flag"): "flag",
    ("socket.setsockopt", "value"): "optvalue",
    ("socket.shutdown", "how"): "how",
    ("socket.makefile", "mode"): "mode", ("socket.makefile", "buffering"): "buffering",
    ("getaddrinfo", "host"): "host", ("getaddrinfo", "port"): "port",
    ("inet_pton", "af"): "ip-family", ("inet_ntop", "af"): "ip-family",
    ("inet_pton", "txt_addr"): "txt", ("inet_ntop", "bin_addr"): "bin",
}
ANNOTATED = {"int": "cint", "Buffer | str": "data", "Buffer": "wbuffer", "Address": "address",
             "int | Address": "port-or-address"}

# Valid arguments of each callable (by parameter name) and the kind of socket it runs on.
VALID: dict[str, tuple[dict[str, Any], str | None]] = {
    "socket": ({"family": std.AF_INET, "af": std.AF_INET, "type": std.SOCK_STREAM, "proto": 0,
                "fileno": None, "ifc": None}, None),
    "socket.accept": ({}, "listener"),
    "socket.bind": ({"address": ("127.0.0.1", 0)}, "fresh"),
    "socket.close": ({}, "fresh"),
    "socket.connect": ({"address": ("127.0.0.1", 9)}, "fresh"),
    "socket.detach": ({}, "fresh"),
    "socket.fileno": ({}, "fresh"),
    "socket.getpeername": ({}, "tcp"),
    "socket.getsockname": ({}, "fresh"),
    "socket.pending": ({}, "tcp"),
    "socket.getsockopt": ({"level": std.SOL_SOCKET, "optname": std.SO_TYPE, "buflen": 0},
                          "fresh"),
    "socket.gettimeout": ({}, "fresh"),
    "socket.listen": ({"maxlog": 1, "backlog": 1}, "fresh"),
    "socket.makefile": ({"mode": "rb", "buffering": 0}, "tcp"),
    "socket.pending": ({}, "tcp"),
    "socket.read": ({"size": 1}, "tcp"),
    "socket.readinto": ({"buf": bytearray(4), "nbytes": None}, "tcp"),
    "socket.readline": ({"limit": 1}, "tcp"),
    "socket.recv": ({"bufsize": 1, "flags": 0}, "tcp"),
    "socket.recv_into": ({"buffer": bytearray(4), "bufsize": -1, "nbytes": None, "flags": 0},
                         "tcp"),
    "socket.recvfrom": ({"bufsize": 1, "flags": 0}, "udp"),
    "socket.recvfrom_into": ({"buffer": bytearray(4), "nbytes": -1, "flags": 0}, "udp"),
    "socket.send": ({"data": b"x", "flags": 0}, "tcp"),
    "socket.sendall": ({"data": b"x", "flags": 0}, "tcp"),
    "socket.sendto": ({"data": b"x", "address": ("127.0.0.1", 9), "flags": 0}, "udp"),
    "socket.setblocking": ({"flag": False}, "fresh"),
    "socket.setsockopt": ({"level": std.SOL_SOCKET, "optname": std.SO_REUSEADDR, "value": 1},
                          "fresh"),
    "socket.settimeout": ({"timeout": 0, "value": 0}, "fresh"),
    "socket.shutdown": ({"how": std.SHUT_RDWR}, "tcp"),
    "socket.write": ({"buf": b"x", "off": 0, "max_len": 1}, "tcp"),
    "getaddrinfo": ({"host": "127.0.0.1", "port": 80, "af": 0, "type": std.SOCK_STREAM,
                     "proto": 0, "flags": std.AI_NUMERICHOST | std.AI_NUMERICSERV}, None),
    "inet_pton": ({"af": std.AF_INET, "txt_addr": "1.2.3.4"}, None),
    "inet_ntop": ({"af": std.AF_INET, "bin_addr": b"\1\2\3\4"}, None),
}

#: Socket methods that still answer on a closed socket (queries and close itself), with the answer.
CLOSED_QUERIES = {"fileno": -1, "detach": -1, "close": None, "gettimeout": "any", "pending": 0}


@dataclass(frozen=True)
class Case:
    id: str
    face: str
    sig: Signature
    param: str | None          # the bad argument; None for the valid/closed cases
    bad: Bad | None
    closed: bool = False


def category(sig: Signature, param: Param) -> str:
    """The bad-value category of ``param`` of ``sig`` (KeyError: an unclassified parameter)."""
    special = SPECIAL.get((sig.id, param.name))
    if special is not None:
        return special
    return ANNOTATED[param.annotation]


def unclassified() -> list[str]:
    """Stub parameters no category covers (the suite requires none)."""
    missing = []
    for face in FACES:
        for sig in public_callables(face):
            if sig.id not in VALID:
                missing.append(f"{face}: {sig.id} has no VALID entry")
            for p in sig.params:
                try:
                    category(sig, p)
                except KeyError:
                    missing.append(f"{face}: {sig.id}({p.name}: {p.annotation})")
                if p.name not in VALID.get(sig.id, ({}, None))[0]:
                    missing.append(f"{face}: {sig.id}({p.name}) has no valid value")
    return missing


def build_cases() -> dict[str, Case]:
    """Every case of both faces, by id."""
    cases: dict[str, Case] = {}

    def add(case: Case) -> None:
        assert case.id not in cases, case.id
        cases[case.id] = case

    for face in FACES:
        for sig in public_callables(face):
            add(Case(f"{face}-{sig.id}-valid", face, sig, None, None))
            if sig.owner == "socket":
                add(Case(f"{face}-{sig.id}-closed", face, sig, None, None, closed=True))
            for p in sig.params:
                for bad in CATEGORIES[category(sig, p)]:
                    if p.annotation.endswith("| None") and bad.label == "None":
                        continue
                    label = bad.label if bad.family == "inet" else f"{bad.family} {bad.label}"
                    add(Case(f"{face}-{sig.id}-{p.name}-{label}", face, sig, p.name, bad))
    return cases


# ---- execution (in the worker process) ------------------------------------------------------
class Sockets:
    """The sockets one case needs, all closed by ``close_all``."""

    def __init__(self, module: Any, listener: std.socket) -> None:
        self.m = module
        self.listener = listener
        self.opened: list[Any] = []

    def _keep(self, sock: Any) -> Any:
        self.opened.append(sock)
        return sock

    def make(self, kind: str, family: str = "inet") -> Any:
        m = self.m
        fam = {"inet": m.AF_INET, "inet6": m.AF_INET6, "unix": m.AF_UNIX}[family]
        if kind == "tcp":
            s = self._keep(m.socket(m.AF_INET, m.SOCK_STREAM))
            s.connect(self.listener.getsockname())
            self._keep(self.listener.accept()[0])
        elif kind == "udp":
            s = self._keep(m.socket(fam, m.SOCK_DGRAM))
            if family != "unix":
                s.bind(("127.0.0.1" if family == "inet" else "::1", 0))
        elif kind == "listener":
            s = self._keep(m.socket(m.AF_INET, m.SOCK_STREAM))
            s.bind(("127.0.0.1", 0))
            s.listen(1)
        else:
            s = self._keep(m.socket(fam, m.SOCK_STREAM))
        s.setblocking(False)
        return s

    def close_all(self) -> None:
        for s in reversed(self.opened):
            s.close()
        self.opened.clear()


def _fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) < 200 else text[:200] + "..."


def run_case(case: Case, listener: std.socket) -> dict[str, Any]:
    """Run ``case``; return its outcome: the exception (type names along the MRO, message,
    errno) or the result, plus descriptors left open."""
    module = importlib.import_module(MODULES[case.face])
    valid, kind = VALID[case.sig.id]
    before = _fd_count()
    sockets = Sockets(module, listener)
    outcome: dict[str, Any] = {"id": case.id}
    try:
        args = []
        for p in case.sig.params:
            if p.name == case.param:
                args.append(case.bad.make())
            else:
                value = valid[p.name]
                args.append(bytearray(value) if isinstance(value, bytearray) else value)
        if case.sig.owner == "module":
            target = getattr(module, case.sig.name)
        else:
            family = case.bad.family if case.bad is not None else "inet"
            sock = sockets.make(kind, family if case.param == "address" else "inet")
            if case.closed:
                sock.close()
            target = getattr(sock, case.sig.name)
        try:
            result = target(*args)
        except BaseException as exc:  # noqa: BLE001 - the outcome is the point
            outcome.update(raised=True, mro=[c.__name__ for c in type(exc).__mro__],
                           message=str(exc), errno=getattr(exc, "errno", None))
        else:
            outcome.update(raised=False, result=_describe(result))
            if case.sig.name == "detach" and isinstance(result, int) and result >= 0:
                os.close(result)
            elif hasattr(result, "close") and result not in sockets.opened:
                result.close()
            elif isinstance(result, tuple) and result and hasattr(result[0], "close"):
                result[0].close()
    finally:
        sockets.close_all()
        gc.collect()
    outcome["leaked_fds"] = _fd_count() - before
    return outcome
