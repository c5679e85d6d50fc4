"""tls_bench client variant: CPython's ``ssl`` over ``socket``.

Idioms: ``ssl.SSLContext(PROTOCOL_TLS_CLIENT)`` with the CA, ``wrap_socket(socket.create_connection
(...), server_hostname=...)`` then ``close()``; bulk ``s.sendall(chunk)`` / ``s.recv_into`` until
the 64 KiB buffer is full (CPython returns one TLS record per call).  CPython has no kernel-TLS
switch: ``ktls`` is ignored (OpenSSL 3 as CPython configures it: kernel TLS off).
"""
import socket
import ssl

import tls_harness

CHUNK = b"b" * 65536


def _context(cafile):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=cafile)
    return ctx


def _connect(ctx, port):
    return ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)),
                           server_hostname="localhost")


def handshake(port, batch, cafile, ktls):
    ctx = _context(cafile)
    while True:
        for _ in range(batch):
            ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)),
                            server_hostname="localhost").close()
        yield batch


def bulk_send(port, batch, cafile, ktls):
    with _connect(_context(cafile), port) as s:
        tls_harness.INFO["ktls"] = (False, False)
        chunk = CHUNK
        while True:
            for _ in range(batch):
                s.sendall(chunk)
            yield batch * len(chunk)


def bulk_recv(port, batch, cafile, ktls):
    with _connect(_context(cafile), port) as s:
        tls_harness.INFO["ktls"] = (False, False)
        buf = bytearray(65536)
        view = memoryview(buf)
        while True:
            total = 0
            for _ in range(batch):
                got = 0
                while got < 65536:
                    n = s.recv_into(view[got:])
                    if not n:
                        raise RuntimeError("peer closed the connection during bulk receive")
                    got += n
                total += got
            yield total


if __name__ == "__main__":
    import sys
    tls_harness.main(sys.modules[__name__])
