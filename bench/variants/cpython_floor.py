"""socket_bench client variant: the thinnest client CPython can run, as a floor for Python clients.

Not a socket API anyone should use: it talks to the socket's fd through ``os`` functions and
creates sockets with the C type ``_socket.socket``, skipping ``socket.socket``'s Python layer.
Idioms: ping-pong ``os.write(fd, msg); os.readv(fd, [buf])``; bulk ``os.write(fd, chunk)`` (the
rest re-sent if short) / ``os.readv(fd, [buf])``; EAGAIN ``try: os.read(fd, 64) except OSError:
pass`` on an ``O_NONBLOCK`` fd; create+close ``_socket.socket().close()``.  Protocol of the
generators: see ``harness``.
"""
import _socket
import errno
import os
import sys

import harness

PING = b"p" * 64
CHUNK = b"b" * 65536


def _connect(port, nodelay=False):
    s = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
    if nodelay:
        s.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
    s.connect(("127.0.0.1", port))
    return s


def _write_rest(fd, data, sent):
    view = memoryview(data)
    while sent < len(data):
        sent += os.write(fd, view[sent:])


def pingpong(port, batch):
    s = _connect(port, nodelay=True)
    try:
        fd, msg, buf = s.fileno(), PING, bytearray(64)
        bufs = [buf]
        while True:
            for _ in range(batch):
                os.write(fd, msg)
                if os.readv(fd, bufs) != 64:
                    raise RuntimeError("short ping-pong read (or the peer closed)")
            if buf != msg:
                raise RuntimeError("ping-pong echo came back different")
            yield batch
    finally:
        s.close()


def bulk_send(port, batch):
    s = _connect(port)
    try:
        fd, chunk = s.fileno(), CHUNK
        while True:
            for _ in range(batch):
                n = os.write(fd, chunk)
                if n != 65536:
                    _write_rest(fd, chunk, n)
            yield batch * len(chunk)
    finally:
        s.close()


def bulk_recv(port, batch):
    s = _connect(port)
    try:
        fd, bufs = s.fileno(), [bytearray(65536)]
        while True:
            got = 0
            for _ in range(batch):
                got += os.readv(fd, bufs)
            if not got:
                raise RuntimeError("peer closed the connection during bulk receive")
            yield got
    finally:
        s.close()


def eagain(port, batch):
    s = _connect(port)
    try:
        fd = s.fileno()
        os.set_blocking(fd, False)
        try:
            os.read(fd, 64)
            raise RuntimeError("read on the idle connection returned data; expected EAGAIN")
        except OSError as exc:
            if exc.errno != errno.EAGAIN:
                raise
        while True:
            for _ in range(batch):
                try:
                    os.read(fd, 64)
                except OSError:
                    pass
            yield batch
    finally:
        s.close()


def create_close(port, batch):
    while True:
        for _ in range(batch):
            _socket.socket().close()
        yield batch


if __name__ == "__main__":
    harness.main(sys.modules[__name__])
