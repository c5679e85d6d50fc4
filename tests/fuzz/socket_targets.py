"""Fuzz targets for the argument handling of Kiln's socket core, compared against CPython.

Each target takes the fuzzer's bytes, builds structured arguments from them (atheris'
``FuzzedDataProvider``), calls Kiln and -- where the semantics are the same -- CPython's ``socket``
with the same arguments, and raises ``AssertionError`` when:

- Kiln raises anything but a documented exception (``TypeError``/``ValueError``/``OverflowError``
  naming the function and the argument, ``OSError`` from the kernel, ``ResolveError``), or
- Kiln and CPython disagree: one accepts what the other refuses, or both accept with different
  results (the parsed address as the kernel reports it, packed bytes, resolved tuples).

Targets:

- ``address``  address objects of every family for ``connect``/``bind``/``sendto`` (UDP: connect
  sends nothing; AF_UNIX paths are relative names in a private directory or abstract names);
- ``inet``     ``inet_pton``/``inet_ntop``;
- ``getaddrinfo`` numeric hosts only (``AI_NUMERICHOST | AI_NUMERICSERV`` is always set).

Run them only inside a private network namespace with nothing but loopback
(:func:`enter_private_netns`): whatever address the fuzzer makes up, no packet can leave.
"""
from __future__ import annotations

import ctypes
import fcntl
import os
import socket as std
import struct
from typing import Any, Callable

import atheris

import networking.socket as zsocket
import usocket

CLONE_NEWNET = 0x40000000
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1


def enter_private_netns() -> None:
    """Move this process into a new network namespace with only ``lo``, and bring it up.

    Raises OSError when that is not allowed (it needs root or CAP_SYS_ADMIN): the fuzzers refuse
    to run outside one rather than risk sending made-up addresses anywhere.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"unshare(CLONE_NEWNET): {os.strerror(err)} (the socket fuzzers run "
                           "as root, in a private network namespace)")
    with std.socket(std.AF_INET, std.SOCK_DGRAM) as s:
        req = struct.pack("16sh", b"lo", 0)
        flags = struct.unpack("16sh", fcntl.ioctl(s, SIOCGIFFLAGS, req))[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sh", b"lo", flags | IFF_UP))
    names = sorted(name for _, name in std.if_nameindex())
    assert names == ["lo"], f"private namespace has interfaces {names}"


# ---- generators ------------------------------------------------------------------------------
EDGE_INTS = [0, 1, -1, 9, 80, 65535, 65536, 0xfffff, 0x100000, 2**31 - 1, 2**31, 2**32 - 1,
             2**32, 2**63, 2**64, -2**31 - 1]
SCOPES = ["lo", "1", "0", "4294967295", "4294967296", "", "\u00b2", "\u0663", "lo\0junk",
          "eth0", "x" * 20]


def _int(fdp: atheris.FuzzedDataProvider) -> int:
    if fdp.ConsumeBool():
        return fdp.PickValueInList(EDGE_INTS)
    return fdp.ConsumeIntInRange(-70000, 70000)


def _ipv4_text(fdp: atheris.FuzzedDataProvider) -> str:
    parts = [str(fdp.ConsumeIntInRange(0, 300)) for _ in range(fdp.ConsumeIntInRange(1, 5))]
    text = ".".join(parts)
    if fdp.ConsumeProbability() < 0.1:
        text = "0" + text
    return text


def _ipv6_text(fdp: atheris.FuzzedDataProvider) -> str:
    groups = [format(fdp.ConsumeIntInRange(0, 0x1ffff), "x") for _ in
              range(fdp.ConsumeIntInRange(0, 9))]
    if fdp.ConsumeBool() and len(groups) < 8:
        cut = fdp.ConsumeIntInRange(0, len(groups))
        text = ":".join(groups[:cut]) + "::" + ":".join(groups[cut:])
    else:
        text = ":".join(groups)
    if fdp.ConsumeProbability() < 0.2:
        text += ":" + _ipv4_text(fdp)
    if fdp.ConsumeProbability() < 0.3:
        text += "%" + fdp.PickValueInList(SCOPES)
    return text


def _host_text(fdp: atheris.FuzzedDataProvider) -> str:
    pick = fdp.ConsumeIntInRange(0, 9)
    if pick <= 3:
        return _ipv4_text(fdp)
    if pick <= 7:
        return _ipv6_text(fdp)
    if pick == 8:
        return fdp.PickValueInList(["", "<broadcast>", "255.255.255.255", "::", "::1",
                                    "127.0.0.1", "localhost", "::ffff:127.0.0.1"])
    return fdp.ConsumeUnicode(fdp.ConsumeIntInRange(0, 40))


def _value(fdp: atheris.FuzzedDataProvider, depth: int = 0) -> Any:
    """Any kind of Python value, nested at most twice."""
    pick = fdp.ConsumeIntInRange(0, 10)
    if pick == 0:
        return _int(fdp)
    if pick == 1:
        return fdp.ConsumeRegularFloat() if fdp.ConsumeBool() else float(_int(fdp))
    if pick == 2:
        return _host_text(fdp)
    if pick == 3:
        return fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 20))
    if pick == 4:
        return None
    if pick == 5:
        return fdp.ConsumeBool()
    if pick == 6 and depth < 2:
        return tuple(_value(fdp, depth + 1) for _ in range(fdp.ConsumeIntInRange(0, 5)))
    if pick == 7 and depth < 2:
        return [_value(fdp, depth + 1) for _ in range(fdp.ConsumeIntInRange(0, 3))]
    if pick == 8:
        return fdp.ConsumeUnicode(fdp.ConsumeIntInRange(0, 10))
    return bytearray(fdp.ConsumeBytes(4))


def _ip_address(fdp: atheris.FuzzedDataProvider, family: str) -> Any:
    """An (ip, port[, flowinfo[, scope_id]]) tuple, usually nearly valid, sometimes anything."""
    if fdp.ConsumeProbability() < 0.15:
        return _value(fdp)
    host = _host_text(fdp) if fdp.ConsumeProbability() < 0.9 else _value(fdp)
    port = _int(fdp) if fdp.ConsumeProbability() < 0.9 else _value(fdp)
    items = [host, port]
    extra = fdp.ConsumeIntInRange(0, 3) if family == "inet6" else (
        1 if fdp.ConsumeProbability() < 0.05 else 0)
    for _ in range(extra):
        items.append(_int(fdp) if fdp.ConsumeProbability() < 0.9 else _value(fdp))
    return tuple(items)


def _unix_address(fdp: atheris.FuzzedDataProvider) -> Any:
    """A relative name (inside the private working directory) or an abstract name."""
    pick = fdp.ConsumeIntInRange(0, 5)
    if pick == 0:
        return _value(fdp)
    name = fdp.ConsumeUnicode(fdp.ConsumeIntInRange(0, 120)).replace("/", "_")
    if pick == 1:
        return "\0" + name
    if pick == 2:
        return os.fsencode(name.encode("utf-8", "surrogatepass").decode("utf-8", "replace"))
    if pick == 3:
        return b"\0" + fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 120))
    return name


# ---- outcome classification --------------------------------------------------------------------
KILN_REFUSALS = (TypeError, ValueError, OverflowError)


def kiln_outcome(call: Callable[[], Any], what: str) -> tuple:
    """Run a Kiln call: ("ok", result), ("refused", type name, errno) or ("oserror", errno).

    A refusal must name the call and an argument; anything else that escapes is a finding.
    """
    try:
        return "ok", call()
    except KILN_REFUSALS as exc:
        if isinstance(exc, OSError) and not isinstance(exc, ValueError):
            return "oserror", exc.errno
        message = str(exc)
        assert f"{what}()" in message and "argument '" in message, (
            f"{type(exc).__name__} from {what}() does not name the call and argument: "
            f"{message!r}")
        return "refused", type(exc).__name__, getattr(exc, "errno", None)
    except OSError as exc:
        return "oserror", exc.errno if exc.errno is not None else exc.args[0]


def cpython_outcome(call: Callable[[], Any]) -> tuple:
    try:
        return "ok", call()
    except (TypeError, ValueError, OverflowError, UnicodeError) as exc:
        if isinstance(exc, OSError) and not isinstance(exc, ValueError):
            return "oserror", exc.errno
        return "refused", type(exc).__name__, None
    except OSError as exc:
        return "oserror", exc.errno


def same(kiln: tuple, cpython: tuple, context: str) -> None:
    """Kiln and CPython agree: same result, same errno, or both refuse.  Kiln's refusal matches
    CPython's bare ``OSError(message)`` for a bad argument, its AddressError (an OSError and a
    ValueError) CPython's OSError with the same errno, and a value Kiln refuses before calling
    the resolver CPython's resolver error for it."""
    if kiln == cpython or (kiln[0] == "refused" and cpython[0] == "refused"):
        return
    if kiln[0] == "oserror" and isinstance(kiln[1], int) and kiln[1] < 0 and \
            cpython[0] == "refused":
        return          # CPython IDNA-encodes every str host ("." fails there, in the resolver here)
    if kiln[0] == "refused" and cpython[0] == "oserror":
        if cpython[1] is None:        # CPython refuses some bad arguments with a bare OSError
            return
        if kiln[1] == "AddressError" and cpython[1] == kiln[2]:
            return
        if isinstance(cpython[1], int) and cpython[1] < 0:      # any EAI_* code
            return
    raise AssertionError(f"Kiln {kiln} != CPython {cpython} for {context}")


# ---- target: addresses --------------------------------------------------------------------------
FAMILIES = {"inet": std.AF_INET, "inet6": std.AF_INET6, "unix": std.AF_UNIX}


def _numeric(family: str, host: Any) -> bool:
    """CPython takes ``host`` as a numeric address without resolving it (same rule as Kiln)."""
    if not isinstance(host, str) or not host.isascii() or "%" in host or "\0" in host:
        return False
    if host == "" or (family == "inet" and host == "<broadcast>"):
        return True
    try:
        std.inet_pton(FAMILIES[family], host)
        return True
    except OSError:
        return False


def comparable_address(family: str, address: Any) -> bool:
    """Kiln's and CPython's rules match for ``address``: no host names (CPython resolves them),
    no ``%scope`` text (CPython ignores it), no integers CPython wraps, no 108-byte AF_UNIX path
    (CPython leaves out the terminating NUL, Kiln keeps room for it)."""
    if family == "unix":
        if isinstance(address, str):
            try:
                return len(os.fsencode(address)) != 108
            except UnicodeError:
                return True
        return not isinstance(address, (bytes, bytearray)) or len(address) != 108
    if not isinstance(address, tuple) or len(address) < 2:
        return True
    host = address[0]
    if isinstance(host, (str, bytes, bytearray)) and not _numeric(family, host):
        return False
    return all(not isinstance(extra, int) or 0 <= extra < 2**32 for extra in address[2:])


def _kernel_view(sock: Any, op: str) -> Any:
    if op == "bind":
        name = sock.getsockname()
    else:
        try:
            name = sock.getpeername()
        except OSError as exc:
            return ("no peer", exc.errno)
    return tuple(name) if isinstance(name, (tuple, list)) else name


def address_target(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    family = fdp.PickValueInList(list(FAMILIES))
    op = fdp.PickValueInList(["connect", "sendto", "bind", "tcp-connect"])
    face = zsocket if fdp.ConsumeBool() else usocket
    if family == "unix":
        address = _unix_address(fdp)
        if op == "bind" and not (isinstance(address, (str, bytes)) and address[:1] in ("\0", b"\0")):
            op = "connect"          # file-system binds stay out: only abstract names are bound
    else:
        address = _ip_address(fdp, family)
    fam = FAMILIES[family]
    stype = std.SOCK_STREAM if op == "tcp-connect" else std.SOCK_DGRAM

    def run(module: Any, sock: Any) -> Any:
        if op in ("connect", "tcp-connect"):
            sock.connect(address)
        elif op == "sendto":
            return sock.sendto(b"x", address)
        else:
            sock.bind(address)
        return _kernel_view(sock, op)

    with face.socket(fam, stype) as ks:
        ks.setblocking(False)
        kiln = kiln_outcome(lambda: run(face, ks), "sendto" if op == "sendto" else
                            "bind" if op == "bind" else "connect")
    if op == "tcp-connect" or (face is zsocket and op == "bind" and isinstance(address, int)):
        return                      # timing-dependent outcome / Zerynth-only form: no reference
    if not comparable_address(family, address):
        return
    with std.socket(fam, stype) as cs:
        cs.setblocking(False)
        cpython = cpython_outcome(lambda: run(std, cs))
    if op == "bind" and kiln[0] == cpython[0] == "ok" and family != "unix" and address[1] == 0:
        kiln = ("ok", kiln[1][:1] + kiln[1][2:])             # two ephemeral ports: drop them
        cpython = ("ok", cpython[1][:1] + cpython[1][2:])
    same(kiln, cpython, f"{op} {family} {address!r}")


# ---- target: inet_pton / inet_ntop ----------------------------------------------------------------
def inet_target(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    af = fdp.PickValueInList([std.AF_INET, std.AF_INET6, std.AF_INET, std.AF_INET6,
                              std.AF_UNIX, 0]) if fdp.ConsumeProbability() < 0.9 else _value(fdp)
    module = zsocket if fdp.ConsumeBool() else usocket
    if fdp.ConsumeBool():
        text = _host_text(fdp) if fdp.ConsumeProbability() < 0.9 else _value(fdp)
        kiln = kiln_outcome(lambda: module.inet_pton(af, text), "inet_pton")
        if not isinstance(text, bytes):            # bytes: accepted by Kiln only
            cpython = cpython_outcome(lambda: std.inet_pton(af, text))
            same(kiln, cpython, f"inet_pton({af!r}, {text!r})")
    else:
        packed = fdp.ConsumeBytes(fdp.PickValueInList([4, 16, 4, 16, 0, 3, 5, 17])) \
            if fdp.ConsumeProbability() < 0.9 else _value(fdp)
        kiln = kiln_outcome(lambda: module.inet_ntop(af, packed), "inet_ntop")
        cpython = cpython_outcome(lambda: std.inet_ntop(af, packed))
        same(kiln, cpython, f"inet_ntop({af!r}, {packed!r})")


# ---- target: getaddrinfo (numeric only) -------------------------------------------------------------
FORCED_FLAGS = std.AI_NUMERICHOST | std.AI_NUMERICSERV
FLAG_BITS = (std.AI_PASSIVE | std.AI_CANONNAME | std.AI_V4MAPPED | std.AI_ALL |
             std.AI_ADDRCONFIG)


def _normalize(results: list) -> list:
    out = []
    for family, stype, proto, canon, addr in results:
        addr = tuple(addr)
        addr = (addr[0].split("%", 1)[0],) + addr[1:]
        out.append((int(family), int(stype), int(proto), canon, addr))
    return out


def _has_nul(value: Any) -> bool:
    return (isinstance(value, str) and "\0" in value) or (
        isinstance(value, bytes) and b"\0" in value)


def getaddrinfo_target(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    host = _host_text(fdp) if fdp.ConsumeProbability() < 0.85 else (
        None if fdp.ConsumeBool() else _value(fdp))
    pick = fdp.ConsumeIntInRange(0, 5)
    port = (None if pick == 0 else fdp.ConsumeIntInRange(0, 65535) if pick <= 2 else
            str(_int(fdp)) if pick == 3 else _value(fdp))
    ints = [fdp.PickValueInList([0, std.AF_INET, std.AF_INET6, std.AF_UNIX]),
            fdp.PickValueInList([0, std.SOCK_STREAM, std.SOCK_DGRAM, std.SOCK_RAW]),
            fdp.PickValueInList([0, 6, 17, 255])]
    ints = [v if fdp.ConsumeProbability() < 0.9 else _int(fdp) if fdp.ConsumeBool()
            else _value(fdp) for v in ints]
    flags = (fdp.ConsumeInt(4) & FLAG_BITS) | FORCED_FLAGS
    module = zsocket if fdp.ConsumeBool() else usocket
    kiln = kiln_outcome(lambda: _normalize(module.getaddrinfo(host, port, *ints, flags)),
                        "getaddrinfo")
    if isinstance(host, bytearray) or isinstance(port, bool) or (
            isinstance(port, int) and not 0 <= port <= 65535) or _has_nul(host) or _has_nul(port):
        return    # accepted by Kiln only / refused by Kiln only (CPython cuts text at a NUL)
    cpython = cpython_outcome(lambda: _normalize(std.getaddrinfo(host, port, *ints, flags)))
    same(kiln, cpython, f"getaddrinfo({host!r}, {port!r}, {ints}, {flags:#x})")


TARGETS: dict[str, Callable[[bytes], None]] = {
    "address": address_target,
    "inet": inet_target,
    "getaddrinfo": getaddrinfo_target,
}
