"""socket_bench client variant: Kiln's Zerynth face, ``from networking import socket``.

Idioms: ping-pong ``s.send(msg); s.recv_into(buf)`` (a Zerynth stream recv_into fills all 64
bytes); bulk ``s.sendall(chunk)`` / ``s.recv_into(buf)`` (fills the whole 64 KiB buffer);
EAGAIN ``try: s.recv(64) except OSError: pass`` after ``s.settimeout(0)``; create+close
``socket.socket().close()``.  Protocol of the generators: see ``harness``.
"""
import errno
import sys

from networking import socket

import harness

PING = b"p" * 64
CHUNK = b"b" * 65536


def _connect(port, nodelay=False):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if nodelay:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.connect(("127.0.0.1", port))
    return s


def pingpong(port, batch):
    with _connect(port, nodelay=True) as s:
        msg, buf = PING, bytearray(64)
        while True:
            for _ in range(batch):
                s.send(msg)
                s.recv_into(buf)
            if buf != msg:
                raise RuntimeError("ping-pong echo came back different (or the peer closed)")
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
            if got != batch * len(buf):
                raise RuntimeError("peer closed the connection during bulk receive")
            yield got


def eagain(port, batch):
    with _connect(port) as s:
        s.settimeout(0)
        try:
            s.recv(64)
            raise RuntimeError("recv on the idle connection returned data; expected EAGAIN")
        except OSError as exc:
            if exc.errno != errno.EAGAIN:
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
            socket.socket().close()
        yield batch


if __name__ == "__main__":
    harness.main(sys.modules[__name__])
