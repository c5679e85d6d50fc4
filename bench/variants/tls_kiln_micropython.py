"""tls_bench client variant: Kiln's MicroPython face, ``import usocket`` + ``import tls``.

Idioms: a handshake is ``tls.SSLContext.wrap_socket(usocket.socket() connected,
server_hostname=...)`` then ``close()``; bulk ``s.write(chunk)`` / ``s.readinto(buf)`` (fills the
64 KiB buffer).  ``ktls`` off sets the context's kernel-TLS switch (``Context.ktls``).
"""
import usocket
from kiln.net import utls as tls

import tls_harness

CHUNK = b"b" * 65536


def _context(cafile, ktls):
    ctx = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=cafile)
    ctx._context.ktls = ktls
    return ctx


def _connect(ctx, port):
    s = usocket.socket()
    s.connect(("127.0.0.1", port))
    return ctx.wrap_socket(s, server_hostname="localhost")


def handshake(port, batch, cafile, ktls):
    ctx = _context(cafile, ktls)
    while True:
        for _ in range(batch):
            s = usocket.socket()
            s.connect(("127.0.0.1", port))
            ctx.wrap_socket(s, server_hostname="localhost").close()
        yield batch


def bulk_send(port, batch, cafile, ktls):
    with _connect(_context(cafile, ktls), port) as s:
        tls_harness.INFO["ktls"] = s.ktls()
        chunk = CHUNK
        while True:
            for _ in range(batch):
                s.write(chunk)
            yield batch * len(chunk)


def bulk_recv(port, batch, cafile, ktls):
    with _connect(_context(cafile, ktls), port) as s:
        tls_harness.INFO["ktls"] = s.ktls()
        buf = bytearray(65536)
        while True:
            got = 0
            for _ in range(batch):
                got += s.readinto(buf)
            if got != batch * len(buf):
                raise RuntimeError("peer closed the connection during bulk receive")
            yield got


if __name__ == "__main__":
    import sys
    tls_harness.main(sys.modules[__name__])
