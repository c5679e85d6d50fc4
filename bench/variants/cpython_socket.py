"""socket_bench client variant: CPython's standard ``socket`` module (the baseline to beat).

Idioms: ping-pong ``s.send(msg); s.recv_into(buf)``; bulk ``s.sendall(chunk)`` /
``s.recv_into(buf)`` (may return short: the byte count is what is measured); EAGAIN
``try: s.recv(64) except BlockingIOError: pass`` after ``s.setblocking(False)``; create+close
``socket.socket().close()``.  Protocol of the generators: see ``harness``.
"""
import errno
import socket
import sys

import harness

PING = b"p" * 64
CHUNK = b"b" * 65536


def _connect(port, nodelay=False):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if nodelay:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.connect(("127.0.0.1", port))
    return s


def _finish_read(s, buf, got):
    """Complete a short ping-pong read (never seen on loopback, kept for correctness)."""
    view = memoryview(buf)
    while got < len(buf):
        n = s.recv_into(view[got:])
        if not n:
            raise RuntimeError("peer closed the connection during ping-pong")
        got += n


def pingpong(port, batch):
    with _connect(port, nodelay=True) as s:
        msg, buf = PING, bytearray(64)
        while True:
            for _ in range(batch):
                s.send(msg)
                n = s.recv_into(buf)
                if n != 64:
                    _finish_read(s, buf, n)
            if buf != msg:
                raise RuntimeError("ping-pong echo came back different")
            yield batch


def bulk_send(port, batch):
    with _connect(port) as s:
        chunk = CHUNK
        while True:
            for _ in range(batch):
                s.sendall(chunk)
            yield batch * len(chunk)


def bulk_recv(port, batch):
    with _connect(port) as s:
        buf = bytearray(65536)
        while True:
            got = 0
            for _ in range(batch):
                got += s.recv_into(buf)
            if not got:
                raise RuntimeError("peer closed the connection during bulk receive")
            yield got


def eagain(port, batch):
    with _connect(port) as s:
        s.setblocking(False)
        try:
            s.recv(64)
            raise RuntimeError("recv on the idle connection returned data; expected EAGAIN")
        except BlockingIOError as exc:
            if exc.errno != errno.EAGAIN:
                raise
        while True:
            for _ in range(batch):
                try:
                    s.recv(64)
                except BlockingIOError:
                    pass
            yield batch


def create_close(port, batch):
    while True:
        for _ in range(batch):
            socket.socket().close()
        yield batch


if __name__ == "__main__":
    harness.main(sys.modules[__name__])
