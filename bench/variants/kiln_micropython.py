"""socket_bench client variant: Kiln's MicroPython face, ``import usocket``.

Idioms (MicroPython recommends the stream methods on blocking sockets: no short reads/writes):
ping-pong ``s.write(msg); s.readinto(buf)``; bulk ``s.write(chunk)`` / ``s.readinto(buf)``
(fills the whole 64 KiB buffer); EAGAIN ``try: s.recv(64) except OSError: pass`` after
``s.setblocking(False)``; create+close ``usocket.socket().close()``.  Protocol of the generators:
see ``harness``.
"""
import errno
import sys

import usocket

import harness

PING = b"p" * 64
CHUNK = b"b" * 65536
# MicroPython ports do not all export TCP_NODELAY; Linux's value is 1 (netinet/tcp.h).
TCP_NODELAY = getattr(usocket, "TCP_NODELAY", 1)


def _connect(port, nodelay=False):
    s = usocket.socket(usocket.AF_INET, usocket.SOCK_STREAM)
    if nodelay:
        s.setsockopt(usocket.IPPROTO_TCP, TCP_NODELAY, 1)
    s.connect(("127.0.0.1", port))
    return s


def pingpong(port, batch):
    with _connect(port, nodelay=True) as s:
        msg, buf = PING, bytearray(64)
        while True:
            for _ in range(batch):
                s.write(msg)
                s.readinto(buf)
            if buf != msg:
                raise RuntimeError("ping-pong echo came back different (or the peer closed)")
            yield batch


def bulk_send(port, batch):
    with _connect(port) as s:
        chunk = CHUNK
        while True:
            for _ in range(batch):
                s.write(chunk)
            yield batch * len(chunk)


def bulk_recv(port, batch):
    with _connect(port) as s:
        buf = bytearray(65536)
        while True:
            got = 0
            for _ in range(batch):
                got += s.readinto(buf)
            if got != batch * len(buf):
                raise RuntimeError("peer closed the connection during bulk receive")
            yield got


def eagain(port, batch):
    with _connect(port) as s:
        s.setblocking(False)
        try:
            s.recv(64)
            raise RuntimeError("recv on the idle connection returned data; expected EAGAIN")
        except OSError as exc:
            if exc.args[0] != errno.EAGAIN:
                raise
        while True:
            for _ in range(batch):
                try:
                    s.recv(64)
                except OSError:
                    pass
            yield batch


def create_close(port, batch):
    while True:
        for _ in range(batch):
            usocket.socket().close()
        yield batch


if __name__ == "__main__":
    harness.main(sys.modules[__name__])
