"""tls_bench client variant: Kiln's Zerynth face (``networking.socket`` + ``ssl``).

Idioms: ``ssl.sslsocket(ctx=ssl.create_ssl_context(cacert=..., hostname=..., options=
CERT_REQUIRED | SERVER_AUTH))``, ``connect()`` (TCP + handshake), ``close()``; bulk
``s.sendall(chunk)`` / ``s.recv_into(buf)`` (waits until the 64 KiB buffer is full).
"""
from kiln.net import zssl as ssl

import tls_harness

CHUNK = b"b" * 65536


def _ctx(cafile, ktls):
    with open(cafile, "rb") as f:
        ctx = ssl.create_ssl_context(cacert=f.read(), hostname="localhost",
                                     options=ssl.CERT_REQUIRED | ssl.SERVER_AUTH)
    ssl._context(ctx).ktls = ktls
    return ctx


def _connect(ctx, port):
    s = ssl.sslsocket(ctx=ctx)
    s.connect(("127.0.0.1", port))
    return s


def handshake(port, batch, cafile, ktls):
    ctx = _ctx(cafile, ktls)
    while True:
        for _ in range(batch):
            s = ssl.sslsocket(ctx=ctx)
            s.connect(("127.0.0.1", port))
            s.close()
        yield batch


def bulk_send(port, batch, cafile, ktls):
    with _connect(_ctx(cafile, ktls), port) as s:
        tls_harness.INFO["ktls"] = s.ktls()
        chunk = CHUNK
        while True:
            for _ in range(batch):
                s.sendall(chunk)
            yield batch * len(chunk)


def bulk_recv(port, batch, cafile, ktls):
    with _connect(_ctx(cafile, ktls), port) as s:
        tls_harness.INFO["ktls"] = s.ktls()
        buf = bytearray(65536)
        while True:
            got = 0
            for _ in range(batch):
                got += s.recv_into(buf)
            if got != batch * len(buf):
                raise RuntimeError("peer closed the connection during bulk receive")
            yield got


if __name__ == "__main__":
    import sys
    tls_harness.main(sys.modules[__name__])
