"""A small rtnetlink (NETLINK_ROUTE) client: links, IPv4 addresses, default routes, events.

Stdlib only (``_socket.AF_NETLINK`` + ``struct``), so it runs on the image's bare python3.11.  It
uses CPython's C module ``_socket`` directly, not ``socket.py``: the launcher imports this module
before the app's first line, and ``socket.py``'s enum conversions of every constant took 160 ms
of an instrumented qemu-aarch64 boot (docs/performance.md); nothing here needs them.

Why not pyroute2 (measured 2026-11-21 on the development host, x86_64, CPython 3.11.7, pyroute2
0.9.7 from PyPI, same interpreter, bytecode precompiled, load average ~6 so times are noisy):

==============================  ======================  =====================
                                pyroute2                this module
==============================  ======================  =====================
installed size                  4.4 MB (.py + .pyc)     16 kB .py + 28 kB .pyc
gzipped (image cost)            1.29 MB                 16 kB
``-X importtime`` (cumulative)  156-509 ms              18-54 ms (mostly stdlib
                                                        ``socket``/``typing``)
process: import + link lookup   0.30-0.62 s, 33 MB RSS  0.05-0.07 s, 11.4 MB RSS
bare interpreter                0.01-0.04 s, 8.7 MB     (same)
==============================  ======================  =====================

pyroute2 would cost a sixth of the 8 MB compressed image budget and up to a fifth of the 3 s
boot-to-app budget on this host (more on an emulated ARM core); Kiln needs a dozen rtnetlink
requests, which this module implements in ~350 lines.

Contract of every request method: it blocks until the kernel acknowledges (microseconds), raises
``OSError`` with the kernel's errno on failure (``EPERM`` without CAP_NET_ADMIN, ``ENODEV`` for a
vanished interface, ``EEXIST``/``ESRCH`` as the kernel reports them) and is safe to call from one
thread at a time per :class:`Rtnl` object.
"""
from __future__ import annotations

import errno
import os
import _socket
import struct
from typing import NamedTuple
from collections.abc import Iterator

# --- netlink / rtnetlink constants (linux/netlink.h, linux/rtnetlink.h, linux/if_link.h) -------
NLMSG_NOOP, NLMSG_ERROR, NLMSG_DONE = 1, 2, 3
NLM_F_REQUEST, NLM_F_MULTI, NLM_F_ACK = 0x1, 0x2, 0x4
NLM_F_DUMP = 0x300
NLM_F_REPLACE, NLM_F_EXCL, NLM_F_CREATE = 0x100, 0x200, 0x400

RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK, RTM_SETLINK = 16, 17, 18, 19
RTM_NEWADDR, RTM_DELADDR, RTM_GETADDR = 20, 21, 22
RTM_NEWROUTE, RTM_DELROUTE, RTM_GETROUTE = 24, 25, 26

IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_OPERSTATE, IFLA_CARRIER = 1, 3, 4, 16, 33
IFA_ADDRESS, IFA_LOCAL, IFA_BROADCAST = 1, 2, 4
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_PRIORITY, RTA_TABLE = 1, 4, 5, 6, 15

IFF_UP, IFF_RUNNING, IFF_LOWER_UP = 0x1, 0x40, 0x10000
ARPHRD_ETHER, ARPHRD_LOOPBACK = 1, 772
RT_TABLE_MAIN, RTPROT_STATIC, RT_SCOPE_UNIVERSE, RTN_UNICAST = 254, 4, 0, 1

#: Multicast groups (bit masks for ``bind``): link, IPv4 address and IPv4 route changes.
RTMGRP_LINK, RTMGRP_IPV4_IFADDR, RTMGRP_IPV4_ROUTE = 0x1, 0x10, 0x40

#: IFLA_OPERSTATE values (RFC 2863), by number.
OPERSTATES = {0: "unknown", 1: "notpresent", 2: "down", 3: "lowerlayerdown", 4: "testing",
              5: "dormant", 6: "up"}

_NLMSGHDR = struct.Struct("=IHHII")      # len, type, flags, seq, pid
_IFINFOMSG = struct.Struct("=BxHiII")    # family, type, index, flags, change
_IFADDRMSG = struct.Struct("=BBBBI")     # family, prefixlen, flags, scope, index
# rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags
_RTMSG = struct.Struct("=BBBBBBBBI")
_RTATTR = struct.Struct("=HH")           # len, type
_ERRMSG = struct.Struct("=i")


def _align(n: int) -> int:
    return (n + 3) & ~3


def _attr(kind: int, payload: bytes) -> bytes:
    length = _RTATTR.size + len(payload)
    return _RTATTR.pack(length, kind) + payload + b"\0" * (_align(length) - length)


def _parse_attrs(data: bytes, offset: int) -> dict[int, bytes]:
    attrs: dict[int, bytes] = {}
    while offset + _RTATTR.size <= len(data):
        length, kind = _RTATTR.unpack_from(data, offset)
        if length < _RTATTR.size:
            break
        attrs[kind & 0x3FFF] = data[offset + _RTATTR.size:offset + length]
        offset += _align(length)
    return attrs


def _ipv4(text: str) -> bytes:
    try:
        return _socket.inet_pton(_socket.AF_INET, text)
    except (OSError, TypeError):
        raise ValueError(f"invalid IPv4 address {text!r}") from None


class Link(NamedTuple):
    """One network interface as the kernel reports it (RTM_NEWLINK)."""

    index: int
    name: str
    kind: int            # ARPHRD_* hardware type
    flags: int           # IFF_* flags
    mac: str             # "aa:bb:cc:dd:ee:ff" ("" if the link has none)
    operstate: str       # "up", "down", "lowerlayerdown", ...
    deleted: bool = False  # True for an RTM_DELLINK event

    @property
    def admin_up(self) -> bool:
        """The interface is administratively up (IFF_UP)."""
        return bool(self.flags & IFF_UP)

    @property
    def carrier(self) -> bool:
        """The physical layer reports carrier (IFF_LOWER_UP)."""
        return bool(self.flags & IFF_LOWER_UP)


class Address(NamedTuple):
    """One IPv4 address of an interface (RTM_NEWADDR / RTM_DELADDR)."""

    index: int
    ip: str
    prefixlen: int
    deleted: bool = False


class Route(NamedTuple):
    """One IPv4 route of the main table (only the fields Kiln uses)."""

    dst: str             # "0.0.0.0" for the default route
    dst_len: int
    gateway: str         # "" if none
    oif: int             # output interface index (0 if none)
    deleted: bool = False  # True for an RTM_DELROUTE event

    @property
    def is_default(self) -> bool:
        """True for a default route (0.0.0.0/0)."""
        return self.dst_len == 0


def prefix_to_mask(prefixlen: int) -> str:
    """``24`` -> ``"255.255.255.0"``; raises ValueError outside 0-32."""
    if not isinstance(prefixlen, int) or not 0 <= prefixlen <= 32:
        raise ValueError(f"IPv4 prefix length must be an int in 0-32, got {prefixlen!r}")
    bits = (0xFFFFFFFF << (32 - prefixlen)) & 0xFFFFFFFF
    return _socket.inet_ntoa(struct.pack("!I", bits))


def mask_to_prefix(mask: str) -> int:
    """``"255.255.255.0"`` -> ``24``; raises ValueError for a non-contiguous or invalid mask."""
    (bits,) = struct.unpack("!I", _ipv4(mask))
    prefixlen = bin(bits).count("1")
    if bits != (0xFFFFFFFF << (32 - prefixlen)) & 0xFFFFFFFF:
        raise ValueError(f"invalid IPv4 netmask {mask!r} (its one bits must be contiguous)")
    return prefixlen


class Rtnl:
    """A NETLINK_ROUTE socket.  ``Rtnl()`` is for requests; ``Rtnl(groups=...)`` also receives
    the events of those multicast groups (read them with :meth:`events`).  Close it when done
    (it is a context manager).
    """

    def __init__(self, groups: int = 0) -> None:
        self._sock = _socket.socket(_socket.AF_NETLINK, _socket.SOCK_RAW, _socket.NETLINK_ROUTE)
        try:
            self._sock.bind((0, groups))
            self._sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_RCVBUF, 1 << 20)
        except BaseException:
            self._sock.close()
            raise
        self._seq = 0
        self._pending: list[tuple[int, int, int, bytes]] = []

    def fileno(self) -> int:
        """The socket's file descriptor (for ``select``/``poll`` on events)."""
        return self._sock.fileno()

    def close(self) -> None:
        """Close the socket (idempotent)."""
        self._sock.close()

    def __enter__(self) -> Rtnl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- transport ---------------------------------------------------------------------------
    def _messages(self, data: bytes) -> Iterator[tuple[int, int, int, bytes]]:
        offset = 0
        while offset + _NLMSGHDR.size <= len(data):
            length, kind, flags, seq, _pid = _NLMSGHDR.unpack_from(data, offset)
            if length < _NLMSGHDR.size:
                break
            yield kind, flags, seq, data[offset + _NLMSGHDR.size:offset + length]
            offset += _align(length)

    def _request(self, kind: int, flags: int, body: bytes) -> list[tuple[int, bytes]]:
        """Send one request; return the (type, payload) replies up to the ACK or NLMSG_DONE."""
        self._seq += 1
        seq = self._seq
        header = _NLMSGHDR.pack(_NLMSGHDR.size + len(body), kind, NLM_F_REQUEST | flags, seq, 0)
        self._sock.send(header + body)
        replies: list[tuple[int, bytes]] = []
        while True:
            data = self._sock.recv(1 << 16)
            for mkind, mflags, mseq, payload in self._messages(data):
                if mseq != seq:          # an event interleaved with our reply: keep it
                    self._pending.append((mkind, mflags, mseq, payload))
                    continue
                if mkind == NLMSG_ERROR:
                    (code,) = _ERRMSG.unpack_from(payload)
                    if code:
                        raise OSError(-code, os.strerror(-code))
                    return replies
                if mkind == NLMSG_DONE:
                    return replies
                replies.append((mkind, payload))
                if not mflags & NLM_F_MULTI and not flags & NLM_F_ACK:
                    return replies

    # --- decoding ----------------------------------------------------------------------------
    @staticmethod
    def _link(kind: int, payload: bytes) -> Link:
        _family, hwtype, index, flags, _change = _IFINFOMSG.unpack_from(payload)
        attrs = _parse_attrs(payload, _IFINFOMSG.size)
        mac = attrs.get(IFLA_ADDRESS, b"")
        oper = attrs.get(IFLA_OPERSTATE, b"\0")[0]
        return Link(index=index, name=attrs.get(IFLA_IFNAME, b"").rstrip(b"\0").decode(),
                    kind=hwtype, flags=flags, mac=":".join(f"{b:02x}" for b in mac),
                    operstate=OPERSTATES.get(oper, "unknown"), deleted=kind == RTM_DELLINK)

    @staticmethod
    def _address(kind: int, payload: bytes) -> Address | None:
        family, prefixlen, _flags, _scope, index = _IFADDRMSG.unpack_from(payload)
        if family != _socket.AF_INET:
            return None
        attrs = _parse_attrs(payload, _IFADDRMSG.size)
        raw = attrs.get(IFA_LOCAL) or attrs.get(IFA_ADDRESS)
        if raw is None:
            return None
        return Address(index=index, ip=_socket.inet_ntoa(raw), prefixlen=prefixlen,
                       deleted=kind == RTM_DELADDR)

    @staticmethod
    def _route(kind: int, payload: bytes) -> Route | None:
        family, dst_len, _src, _tos, table, _proto, _scope, rtype, _fl = _RTMSG.unpack_from(payload)
        attrs = _parse_attrs(payload, _RTMSG.size)
        if RTA_TABLE in attrs:
            table = struct.unpack("=I", attrs[RTA_TABLE])[0]
        if family != _socket.AF_INET or table != RT_TABLE_MAIN or rtype != RTN_UNICAST:
            return None
        return Route(
            dst=_socket.inet_ntoa(attrs.get(RTA_DST, b"\0\0\0\0")), dst_len=dst_len,
            gateway=_socket.inet_ntoa(attrs[RTA_GATEWAY]) if RTA_GATEWAY in attrs else "",
            oif=struct.unpack("=I", attrs[RTA_OIF])[0] if RTA_OIF in attrs else 0,
            deleted=kind == RTM_DELROUTE)

    def _decode(self, kind: int, payload: bytes) -> Link | Address | Route | None:
        if kind in (RTM_NEWLINK, RTM_DELLINK):
            return self._link(kind, payload)
        if kind in (RTM_NEWADDR, RTM_DELADDR):
            return self._address(kind, payload)
        if kind in (RTM_NEWROUTE, RTM_DELROUTE):
            return self._route(kind, payload)
        return None

    # --- links -------------------------------------------------------------------------------
    def links(self) -> list[Link]:
        """All interfaces of this network namespace."""
        body = _IFINFOMSG.pack(_socket.AF_UNSPEC, 0, 0, 0, 0)
        return [self._link(k, p) for k, p in self._request(RTM_GETLINK, NLM_F_DUMP, body)
                if k == RTM_NEWLINK]

    def link(self, name: str) -> Link:
        """The interface called ``name``; raises ``OSError(ENODEV)`` if there is none."""
        if not isinstance(name, str) or not name or len(name) > 15 or "/" in name:
            raise ValueError(f"invalid interface name {name!r} (1-15 characters, no '/')")
        body = _IFINFOMSG.pack(_socket.AF_UNSPEC, 0, 0, 0, 0) + _attr(IFLA_IFNAME,
                                                                    name.encode() + b"\0")
        replies = self._request(RTM_GETLINK, 0, body)
        if not replies:
            raise OSError(errno.ENODEV, f"no network interface named {name!r}")
        return self._link(*replies[0])

    def set_link_up(self, index: int, up: bool) -> None:
        """Set the interface administratively up (``up=True``) or down."""
        body = _IFINFOMSG.pack(_socket.AF_UNSPEC, 0, index, IFF_UP if up else 0, IFF_UP)
        self._request(RTM_NEWLINK, NLM_F_ACK, body)

    # --- IPv4 addresses ----------------------------------------------------------------------
    def addresses(self, index: int) -> list[Address]:
        """The IPv4 addresses of interface ``index``."""
        body = _IFADDRMSG.pack(_socket.AF_INET, 0, 0, 0, 0)
        found = (self._address(k, p) for k, p in self._request(RTM_GETADDR, NLM_F_DUMP, body)
                 if k == RTM_NEWADDR)
        return [a for a in found if a is not None and a.index == index]

    def add_address(self, index: int, ip: str, prefixlen: int) -> None:
        """Add ``ip/prefixlen`` (with its broadcast address) to interface ``index``."""
        raw = _ipv4(ip)
        mask = struct.unpack("!I", _ipv4(prefix_to_mask(prefixlen)))[0]
        brd = struct.pack("!I", struct.unpack("!I", raw)[0] | (~mask & 0xFFFFFFFF))
        body = (_IFADDRMSG.pack(_socket.AF_INET, prefixlen, 0, RT_SCOPE_UNIVERSE, index)
                + _attr(IFA_LOCAL, raw) + _attr(IFA_ADDRESS, raw) + _attr(IFA_BROADCAST, brd))
        self._request(RTM_NEWADDR, NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE, body)

    def flush_addresses(self, index: int) -> None:
        """Remove every IPv4 address of interface ``index`` (and with them their routes)."""
        for a in self.addresses(index):
            body = (_IFADDRMSG.pack(_socket.AF_INET, a.prefixlen, 0, 0, index)
                    + _attr(IFA_LOCAL, _ipv4(a.ip)))
            try:
                self._request(RTM_DELADDR, NLM_F_ACK, body)
            except OSError as exc:
                if exc.errno != errno.EADDRNOTAVAIL:   # already gone: that is the goal
                    raise

    # --- IPv4 routes -------------------------------------------------------------------------
    def routes(self) -> list[Route]:
        """The IPv4 routes of the main table."""
        body = _RTMSG.pack(_socket.AF_INET, 0, 0, 0, 0, 0, 0, 0, 0)
        found = (self._route(k, p) for k, p in self._request(RTM_GETROUTE, NLM_F_DUMP, body)
                 if k == RTM_NEWROUTE)
        return [r for r in found if r is not None]

    def default_gateway(self, index: int) -> str:
        """The gateway of the default route through interface ``index`` ("" if none)."""
        for r in self.routes():
            if r.dst_len == 0 and r.oif == index and r.gateway:
                return r.gateway
        return ""

    def _default_route(self, kind: int, flags: int, index: int, gateway: str) -> None:
        body = (_RTMSG.pack(_socket.AF_INET, 0, 0, 0, RT_TABLE_MAIN, RTPROT_STATIC,
                            RT_SCOPE_UNIVERSE, RTN_UNICAST, 0)
                + _attr(RTA_GATEWAY, _ipv4(gateway)) + _attr(RTA_OIF, struct.pack("=I", index)))
        self._request(kind, NLM_F_ACK | flags, body)

    def add_default_route(self, index: int, gateway: str) -> None:
        """Add (or replace) the default route via ``gateway`` through interface ``index``."""
        self._default_route(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, index, gateway)

    def delete_default_route(self, index: int, gateway: str) -> None:
        """Delete the default route via ``gateway`` through ``index`` (no error if absent)."""
        try:
            self._default_route(RTM_DELROUTE, 0, index, gateway)
        except OSError as exc:
            if exc.errno != errno.ESRCH:
                raise

    # --- events ------------------------------------------------------------------------------
    def events(self) -> list[Link | Address | Route]:
        """Decode the event messages waiting on the socket without blocking (``[]`` if none).

        Only meaningful on an ``Rtnl(groups=...)``; poll :meth:`fileno` to wait for them.
        Raises ``OSError(ENOBUFS)`` if the kernel dropped events (the caller should resync).
        """
        raw, self._pending = self._pending, []
        while True:
            try:
                data = self._sock.recv(1 << 16, _socket.MSG_DONTWAIT)
            except BlockingIOError:
                break
            raw.extend(self._messages(data))
        decoded = (self._decode(kind, payload) for kind, _flags, _seq, payload in raw)
        return [e for e in decoded if e is not None]
