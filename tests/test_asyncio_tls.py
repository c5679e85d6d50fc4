"""TLS streams of MicroPython's asyncio over Kiln sockets (``ssl=`` in ``open_connection`` and
``start_server``): the handshake runs through the event loop (no thread, no blocking), content
survives both ways, failures reach the caller, and nothing is left open.

Peers: Kiln's own server and client, and CPython's ``ssl`` on the other end of each.  The test
PKI (a CA, a server certificate for localhost/127.0.0.1) is made at test time with the
``openssl`` command.
"""
from __future__ import annotations

import hashlib
import os
import socket
import ssl
import subprocess
import threading

import pytest

import uasyncio as asyncio
from kiln.net import utls, ussl


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")

    def run(*args):
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Kiln asyncio test CA")
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", "srv.key", "-out", "srv.csr", "-subj", "/CN=localhost")
    (d / "ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run("x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "srv.pem", "-days", "2", "-extfile", "ext")
    return d


def _fds():
    return len(os.listdir("/proc/self/fd"))


def _server_context(pki):
    ctx = utls.SSLContext(utls.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(pki / "srv.pem"), str(pki / "srv.key"))
    return ctx


def _client_context(pki):
    ctx = utls.SSLContext(utls.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile=str(pki / "ca.pem"))
    return ctx


def test_echo_kiln_server_and_clients(pki):
    """20 concurrent TLS clients against a TLS server, both Kiln asyncio streams, 64 KiB each
    way per client with a hash; every fd closed afterwards."""
    before = _fds()
    payloads = [os.urandom(65536 + i) for i in range(20)]

    async def handler(reader, writer):
        data = await reader.readexactly(int((await reader.readline()).strip()))
        writer.write(hashlib.sha256(data).hexdigest().encode() + b"\n")
        writer.write(data[::-1])
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    async def client(port, payload):
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=_client_context(pki), server_hostname="localhost")
        assert writer.s.cipher()[1].startswith("TLSv1.")
        writer.write(b"%d\n" % len(payload))
        writer.write(payload)
        await writer.drain()
        digest = (await reader.readline()).strip().decode()
        back = await reader.read(-1)
        writer.close()
        return digest, back

    async def main():
        server = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=_server_context(pki))
        port = server.sockets[0].getsockname()[1]
        results = await asyncio.gather(*(client(port, p) for p in payloads))
        server.close()
        await server.wait_closed()
        return results

    results = asyncio.run(main())
    for payload, (digest, back) in zip(payloads, results):
        assert digest == hashlib.sha256(payload).hexdigest()
        assert back == payload[::-1]
    assert _fds() == before


def test_client_against_cpython_server_and_verification_failure(pki):
    """A Kiln asyncio TLS client against CPython's ssl server; the wrong name fails the
    handshake inside open_connection with the cause named, leaving no fd."""
    before = _fds()
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(pki / "srv.pem", pki / "srv.key")
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve():
        for _ in range(2):
            conn, _ = listener.accept()
            try:
                with sctx.wrap_socket(conn, server_side=True) as s:
                    s.sendall(b"hello " + s.recv(100))
            except (ssl.SSLError, OSError):
                pass

    t = threading.Thread(target=serve, daemon=True)
    t.start()

    async def main():
        reader, writer = await asyncio.open_connection(
            "localhost", port, ssl=_client_context(pki))
        writer.write(b"kiln")
        await writer.drain()
        got = await reader.read(-1)
        writer.close()
        with pytest.raises(utls.SSLCertVerificationError, match="name mismatch"):
            await asyncio.open_connection("127.0.0.1", port, ssl=_client_context(pki),
                                          server_hostname="example.com")
        return got

    assert asyncio.run(main()) == b"hello kiln"
    t.join(10)
    listener.close()
    assert _fds() == before


def test_server_against_cpython_client_and_failed_handshake(pki):
    """A Kiln asyncio TLS server answers CPython's ssl client; a client that is not TLS is
    dropped (reported to the loop's exception handler) and the server keeps serving."""
    reported = []

    async def handler(reader, writer):
        line = await reader.readline()
        writer.write(b"got " + line)
        await writer.drain()
        writer.close()

    def cpython_client(port, out):
        cctx = ssl.create_default_context(cafile=str(pki / "ca.pem"))
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with cctx.wrap_socket(raw, server_hostname="localhost") as s:
                s.sendall(b"ping\n")
                out.append(s.recv(100))

    def plain_client(port):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            raw.sendall(b"GET / HTTP/1.0\r\n\r\n")
            try:
                raw.recv(100)           # the server's alert, then its close
            except ConnectionResetError:
                pass

    async def main():
        loop = asyncio.get_event_loop()
        loop.set_exception_handler(lambda loop, context: reported.append(context))
        server = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=_server_context(pki))
        port = server.sockets[0].getsockname()[1]
        out = []
        for target in (plain_client, lambda p: cpython_client(p, out)):
            t = threading.Thread(target=target, args=(port,), daemon=True)
            t.start()
            while t.is_alive():
                await asyncio.sleep_ms(5)
        server.close()
        await server.wait_closed()
        return out

    assert asyncio.run(main()) == [b"got ping\n"]
    assert any("TLS handshake failed" in c["message"] for c in reported), reported


def test_ssl_true_uses_the_unverified_default_and_warns(pki, capfd):
    """``ssl=True`` is MicroPython's ``ssl.SSLContext(PROTOCOL_TLS_CLIENT)``: no verification,
    one warning line; a server refuses ``ssl=True`` (no certificate to serve)."""
    import kiln.net.utls as module
    module._warned = False

    async def handler(reader, writer):
        writer.write(b"ok")
        await writer.drain()
        writer.close()

    async def main():
        server = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=_server_context(pki))
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=True)
        got = await reader.read(-1)
        writer.close()
        with pytest.raises(ValueError, match="no certificate"):
            await asyncio.start_server(handler, "127.0.0.1", 0, ssl=True)
        server.close()
        await server.wait_closed()
        return got

    assert asyncio.run(main()) == b"ok"
    assert capfd.readouterr().err.count("does not verify the server") == 1
    assert isinstance(ussl.SSLContext(ussl.PROTOCOL_TLS_CLIENT), utls.SSLContext)
