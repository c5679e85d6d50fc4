"""CPython's own asyncio with Kiln sockets (``--api cpython`` programs): the selector loop's
``sock_connect``/``sock_accept``/``sock_sendall``/``sock_recv``/``sock_recv_into``,
``add_reader``/``add_writer``, and streams/transports built on a Kiln socket (``sock=``), for both
faces, in debug mode (which checks that the sockets are non-blocking).  A socket holding bytes
Kiln took before (a read that timed out) gives them to ``sock_recv`` first.
"""
from __future__ import annotations

import asyncio
import errno
import hashlib
import random
import subprocess
import sys
import textwrap

import pytest

import usocket
from networking import socket as zsocket

pytestmark = pytest.mark.usefixtures("watchdog", "no_fd_leak")

FACES = {"zerynth": zsocket, "usocket": usocket}


@pytest.fixture(params=sorted(FACES))
def face(request):
    return FACES[request.param]


def _listener(face):
    srv = face.socket(face.AF_INET, face.SOCK_STREAM)
    srv.setsockopt(face.SOL_SOCKET, face.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(128)
    srv.setblocking(False)
    return srv


def _run(coro):
    return asyncio.run(coro, debug=True)


def test_sock_methods_with_kiln_sockets(face):
    data = random.Random(1).randbytes(1 << 20)

    async def main():
        loop = asyncio.get_running_loop()
        srv = _listener(face)
        client = face.socket()
        client.setblocking(False)
        accepting = asyncio.create_task(loop.sock_accept(srv))
        await loop.sock_connect(client, srv.getsockname())
        conn, addr = await accepting
        assert isinstance(conn, face.socket) and addr == client.getsockname()
        assert conn.gettimeout() == 0                # sock_accept made it non-blocking

        async def receive(n):
            got = bytearray()
            while len(got) < n:
                chunk = await loop.sock_recv(conn, 65536)
                assert chunk, "EOF too early"
                got += chunk
            return bytes(got)

        receiving = asyncio.create_task(receive(len(data)))
        await loop.sock_sendall(client, data)       # more than the kernel buffers at once
        assert hashlib.sha256(await receiving).digest() == hashlib.sha256(data).digest()

        buf = bytearray(10)
        await loop.sock_sendall(conn, b"0123456789")
        n = 0
        while n < 10:
            n += await loop.sock_recv_into(client, memoryview(buf)[n:])
        assert buf == b"0123456789"
        for s in (client, conn, srv):
            s.close()

    _run(main())


def test_sock_connect_refused(face):
    async def main():
        loop = asyncio.get_running_loop()
        srv = _listener(face)
        port = srv.getsockname()[1]
        srv.close()                                   # nothing listens any more
        client = face.socket()
        client.setblocking(False)
        with pytest.raises(ConnectionRefusedError):
            await loop.sock_connect(client, ("127.0.0.1", port))
        client.close()

    _run(main())


def test_sock_recv_returns_held_bytes_first(face):
    """A read that timed out left bytes in the Kiln socket; the kernel has nothing more.
    ``sock_recv`` tries the socket before waiting, so it returns them at once."""
    async def main():
        loop = asyncio.get_running_loop()
        srv = _listener(face)
        client = face.socket()
        client.setblocking(False)
        accepting = asyncio.create_task(loop.sock_accept(srv))
        await loop.sock_connect(client, srv.getsockname())
        conn, _ = await accepting
        await loop.sock_sendall(conn, b"held by Kiln")
        await asyncio.sleep(0.01)
        client.settimeout(50 if face is zsocket else 0.05)
        with pytest.raises(OSError) as info:
            if face is zsocket:
                client.recv(100)                      # waits for 100 bytes
            else:
                client.read(100)
        assert info.value.errno == errno.ETIMEDOUT
        assert client.pending() == 12
        client.setblocking(False)
        got = await asyncio.wait_for(loop.sock_recv(client, 5), 5)
        got += await asyncio.wait_for(loop.sock_recv(client, 100), 5)
        assert bytes(got) == b"held by Kiln"
        for s in (client, conn, srv):
            s.close()

    _run(main())


def test_add_reader_and_add_writer(face):
    async def main():
        loop = asyncio.get_running_loop()
        srv = _listener(face)
        client = face.socket()
        client.setblocking(False)
        accepting = asyncio.create_task(loop.sock_accept(srv))
        await loop.sock_connect(client, srv.getsockname())
        conn, _ = await accepting

        readable = loop.create_future()
        loop.add_reader(conn.fileno(), lambda: readable.done() or readable.set_result(True))
        await asyncio.sleep(0.01)
        assert not readable.done()
        client.send(b"ping")
        assert await asyncio.wait_for(readable, 5)
        assert loop.remove_reader(conn.fileno())
        assert bytes(conn.recv(4)) == b"ping"

        writable = loop.create_future()
        loop.add_writer(client, lambda: writable.done() or writable.set_result(True))
        assert await asyncio.wait_for(writable, 5)     # the object itself works too
        assert loop.remove_writer(client)
        for s in (client, conn, srv):
            s.close()

    _run(main())


def test_cpython_streams_and_server_on_kiln_sockets(face):
    """open_connection(sock=...) and start_server(sock=...) on Kiln sockets: the transports use
    the socket's own recv/send; 50 concurrent clients echo lines."""
    async def main():
        async def echo(reader, writer):
            while line := await reader.readline():
                writer.write(line)
                await writer.drain()
            writer.close()
            await writer.wait_closed()

        srv_sock = _listener(face)
        port = srv_sock.getsockname()[1]
        server = await asyncio.start_server(echo, sock=srv_sock)

        async def client(i):
            s = face.socket()
            s.setblocking(False)
            await asyncio.get_running_loop().sock_connect(s, ("127.0.0.1", port))
            reader, writer = await asyncio.open_connection(sock=s)
            lines = [b"%d-%d %s\n" % (i, k, b"y" * (k * 313)) for k in range(10)]
            for line in lines:
                writer.write(line)
            await writer.drain()
            got = [await reader.readline() for _ in lines]
            writer.close()
            await writer.wait_closed()
            return got == lines

        assert await asyncio.gather(*[client(i) for i in range(50)]) == [True] * 50
        server.close()
        await server.wait_closed()

    _run(main())


def test_cpython_app_uses_asyncio_with_usocket(tmp_path):
    (tmp_path / "main.py").write_text(textwrap.dedent("""
        import asyncio
        import usocket

        async def main():
            loop = asyncio.get_running_loop()
            srv = usocket.socket()
            srv.bind(("127.0.0.1", 0))
            srv.listen(5)
            srv.setblocking(False)
            c = usocket.socket()
            c.setblocking(False)
            accepting = asyncio.create_task(loop.sock_accept(srv))
            await loop.sock_connect(c, srv.getsockname())
            conn, _ = await accepting
            await loop.sock_sendall(c, b"over CPython's loop")
            print(asyncio.__name__, await loop.sock_recv(conn, 100))
            for s in (c, conn, srv):
                s.close()

        asyncio.run(main())
    """))
    r = subprocess.run([sys.executable, "-m", "kiln.app", "--api", "cpython",
                        str(tmp_path / "main.py")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["asyncio b\"over CPython's loop\""]
