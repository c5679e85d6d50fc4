"""Abort the TCP sockets that use an address an interface is giving up (``SOCK_DESTROY``).

When Zerynth stops an interface it closes every socket on it; on Linux, a TCP socket whose local
address disappears would otherwise sit in ``recv``/``send`` until its own timeout.  The IP layer
calls :func:`destroy_tcp` before removing an address: the kernel aborts each matching socket
(``ECONNABORTED`` to a blocked call, at once), the way Android drops sockets on a lost network.
This needs ``CONFIG_INET_DIAG_DESTROY`` and the ``tcp_diag`` module (Debian's kernels have
both); without them nothing is destroyed and :func:`destroy_tcp` returns 0.
"""
from __future__ import annotations

import errno
import os
import _socket
import struct

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
SOCK_DESTROY = 21
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP = 0x1, 0x4, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3
_ALL_STATES = 0xFFFFFFFF & ~(1 << 10)      # every TCP state but LISTEN
_NLMSG = struct.Struct("=IHHII")
# struct inet_diag_req_v2: family, protocol, ext, pad, states, inet_diag_sockid
_REQ = struct.Struct("=BBBBI")
# struct inet_diag_sockid: sport, dport (be16), src[4], dst[4] (be32), if, cookie[2]
_SOCKID = struct.Struct("!HH16s16sI8s")
# struct inet_diag_msg: family, state, timer, retrans, sockid, expires, rqueue, wqueue, uid, inode
_MSG_HEAD = struct.Struct("=BBBB")


def _request(nl: _socket.socket, kind: int, flags: int, body: bytes, seq: int) -> None:
    nl.send(_NLMSG.pack(_NLMSG.size + len(body), kind, NLM_F_REQUEST | flags, seq, 0) + body)


def _sockids(nl: _socket.socket, family: int) -> list[bytes]:
    """Raw inet_diag_sockid of every non-listening TCP socket of ``family``."""
    _request(nl, SOCK_DIAG_BY_FAMILY, NLM_F_DUMP,
             _REQ.pack(family, _socket.IPPROTO_TCP, 0, 0, _ALL_STATES) + bytes(_SOCKID.size), 1)
    found = []
    while True:
        data = nl.recv(65536)
        offset = 0
        while offset < len(data):
            length, kind, _flags, _seq, _pid = _NLMSG.unpack_from(data, offset)
            if kind == NLMSG_DONE:
                return found
            if kind == NLMSG_ERROR:
                (code,) = struct.unpack_from("=i", data, offset + _NLMSG.size)
                raise OSError(-code, os.strerror(-code))
            start = offset + _NLMSG.size + _MSG_HEAD.size
            found.append(data[start:start + _SOCKID.size])
            offset += (length + 3) & ~3


def destroy_tcp(addresses: set[str]) -> int:
    """Abort every TCP connection whose local IPv4 address is in ``addresses``; return how many
    were destroyed.  Never raises for a missing kernel feature (returns 0)."""
    if not addresses:
        return 0
    wanted = {_socket.inet_aton(a) for a in addresses}
    try:
        nl = _socket.socket(_socket.AF_NETLINK, _socket.SOCK_RAW, NETLINK_SOCK_DIAG)
    except OSError:
        return 0
    destroyed = 0
    try:
        nl.settimeout(2.0)
        try:
            ids = _sockids(nl, _socket.AF_INET)
        except OSError:
            return 0
        for seq, sockid in enumerate(ids, start=2):
            if sockid[4:8] not in wanted:
                continue
            _request(nl, SOCK_DESTROY, NLM_F_ACK,
                     _REQ.pack(_socket.AF_INET, _socket.IPPROTO_TCP, 0, 0, _ALL_STATES) + sockid,
                     seq)
            reply = nl.recv(65536)
            length, kind, _f, _s, _p = _NLMSG.unpack_from(reply, 0)
            code = struct.unpack_from("=i", reply, _NLMSG.size)[0] if kind == NLMSG_ERROR else 0
            if code == 0:
                destroyed += 1
            elif -code in (errno.EOPNOTSUPP, errno.EPERM):
                break
    except OSError:
        pass
    finally:
        nl.close()
    return destroyed
