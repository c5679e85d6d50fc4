"""MicroPython's asyncio over Kiln sockets (``uasyncio``; ``import asyncio`` under
``--api micropython``).

Streams: echo servers and clients with 100 concurrent connections (Kiln on both ends, Kiln
against CPython peers, the published ``uaiohttpclient`` against CPython's HTTP server), content
checked byte for byte, no descriptor left open and no thread started; cancellation, timeouts,
``wait_for`` on a stalled peer with the bytes already received kept, server close with clients
attached, closing a stream under a waiting reader.  The core: every documented call of
MicroPython's asyncio (tasks, sleep, gather, wait_for, Event, ThreadSafeFlag, Lock, Loop) and its
bad input.  An app run by the launcher with ``--api micropython``.
"""
from __future__ import annotations

import gc
import hashlib
import http.server
import os
import random
import shutil
import socket as std
import struct
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

import uasyncio as asyncio
import usocket
from socket_faults import queued_bytes

pytestmark = pytest.mark.usefixtures("watchdog", "no_fd_leak", "fresh_loop")

FIXTURES = Path(__file__).parent / "fixtures" / "micropython-lib"


@pytest.fixture
def fresh_loop():
    asyncio.new_event_loop()
    asyncio.Loop.set_exception_handler(None)
    yield
    asyncio.new_event_loop()
    asyncio.Loop.set_exception_handler(None)


def open_fds() -> set[tuple[str, str]]:
    """Open descriptors as ``(number, target)`` pairs (a reused number has another target)."""
    fds = set()
    for name in os.listdir("/proc/self/fd"):
        try:
            fds.add((name, os.readlink(f"/proc/self/fd/{name}")))
        except FileNotFoundError:       # the listdir handle itself
            pass
    return fds


class NoLeaks:
    """Descriptors and threads before and after: nothing may be left open, nothing started.
    (No garbage collection first: a socket only a collection would close counts as left.)"""

    def __enter__(self):
        self.fds = open_fds()
        self.threads = threading.active_count()
        return self

    def __exit__(self, *exc):
        if exc[0] is None:
            left = open_fds() - self.fds
            assert not left, f"descriptors left open: {sorted(left)}"
            assert threading.active_count() == self.threads


def payload(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


async def echo_framed(reader, writer):
    """Server side: 4-byte big-endian length + data, echoed until EOF."""
    try:
        while True:
            try:
                head = await reader.readexactly(4)
            except EOFError:
                break
            (n,) = struct.unpack(">I", head)
            data = await reader.readexactly(n)
            writer.write(head)
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()
        await writer.wait_closed()


async def framed_client(port: int, seed: int, sizes: list[int]) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    total = 0
    try:
        for k, size in enumerate(sizes):
            data = payload(size, seed * 1000 + k)
            writer.write(struct.pack(">I", size) + data)
            await writer.drain()
            head = await reader.readexactly(4)
            assert struct.unpack(">I", head)[0] == size
            got = await reader.readexactly(size)
            assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest(), \
                f"client {seed} message {k}: content differs"
            total += size
    finally:
        writer.close()
        await writer.wait_closed()
    return total


def sizes_for(seed: int) -> list[int]:
    rng = random.Random(seed)
    return [rng.choice([0, 1, 7, 100, 1500, 65536, 300_000]) for _ in range(4)]


# ---- streams: echo with many connections ------------------------------------------------------

def test_echo_100_concurrent_connections_kiln_both_ends():
    async def main():
        srv = await asyncio.start_server(echo_framed, "127.0.0.1", 0, backlog=128)
        port = srv.sockets[0].getsockname()[1]
        threads = threading.active_count()
        totals = await asyncio.gather(*[framed_client(port, i, sizes_for(i))
                                        for i in range(100)])
        assert threading.active_count() == threads          # no thread per socket
        srv.close()
        await srv.wait_closed()
        return totals

    with NoLeaks():
        totals = asyncio.run(main())
    assert totals == [sum(sizes_for(i)) for i in range(100)]


def test_readline_echo_100_clients():
    async def handler(reader, writer):
        while True:
            line = await reader.readline()
            if not line:
                break
            writer.write(line.upper())
            await writer.drain()
        writer.close()

    async def client(port, i):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        lines = [b"client %d line %d %s\n" % (i, k, b"x" * (k * 997 % 5000)) for k in range(20)]
        for line in lines:
            writer.write(line)
        await writer.drain()
        got = [await reader.readline() for _ in lines]
        writer.close()
        await writer.wait_closed()
        return got == [line.upper() for line in lines]

    async def main():
        srv = await asyncio.start_server(handler, "127.0.0.1", 0, backlog=128)
        port = srv.sockets[0].getsockname()[1]
        ok = await asyncio.gather(*[client(port, i) for i in range(100)])
        srv.close()
        await srv.wait_closed()
        return ok

    with NoLeaks():
        assert asyncio.run(main()) == [True] * 100


def test_four_megabytes_through_one_stream():
    data = payload(4 << 20, 7)

    async def sink(reader, writer):
        got = await reader.read()                 # until EOF
        writer.write(hashlib.sha256(got).hexdigest().encode() + b" %d\n" % len(got))
        await writer.drain()
        writer.close()

    async def main():
        srv = await asyncio.start_server(sink, "127.0.0.1", 0)
        port = srv.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(data)                        # far more than the kernel takes at once
        await writer.drain()
        writer.s.shutdown(usocket.SHUT_WR)
        answer = await reader.readline()
        writer.close()
        srv.close()
        await srv.wait_closed()
        return answer

    with NoLeaks():
        answer = asyncio.run(main())
    assert answer == hashlib.sha256(data).hexdigest().encode() + b" %d\n" % len(data)


class CPythonEchoServer:
    """A real peer: CPython's socketserver echoing framed messages, one thread per client."""

    def __init__(self):
        import socketserver

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                f = self.request.makefile("rb")
                while True:
                    head = f.read(4)
                    if len(head) < 4:
                        break
                    n = struct.unpack(">I", head)[0]
                    self.request.sendall(head + f.read(n))
                f.close()

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = False
            block_on_close = True
            request_queue_size = 128

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def test_kiln_clients_against_a_cpython_server():
    peer = CPythonEchoServer()
    try:
        async def main():
            return await asyncio.gather(*[framed_client(peer.port, i, sizes_for(i))
                                          for i in range(100)])

        totals = asyncio.run(main())
    finally:
        peer.close()
    assert totals == [sum(sizes_for(i)) for i in range(100)]


def test_cpython_clients_against_a_kiln_server():
    results = {}

    def client(port, i):
        with std.create_connection(("127.0.0.1", port)) as c:
            f = c.makefile("rb")
            ok = True
            for k, size in enumerate(sizes_for(i)):
                data = payload(size, i * 1000 + k)
                c.sendall(struct.pack(">I", size) + data)
                head = f.read(4)
                ok &= struct.unpack(">I", head)[0] == size and f.read(size) == data
            f.close()
        results[i] = ok

    async def main():
        srv = await asyncio.start_server(echo_framed, "127.0.0.1", 0, backlog=128)
        port = srv.sockets[0].getsockname()[1]
        threads = [threading.Thread(target=client, args=(port, i)) for i in range(100)]
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            await asyncio.sleep_ms(5)
        for t in threads:
            t.join()
        srv.close()
        await srv.wait_closed()

    asyncio.run(main())
    assert results == {i: True for i in range(100)}


# ---- timeouts, cancellation, stalled peers -----------------------------------------------------

class StalledPeer:
    """A CPython server that accepts one connection and sends only what the test says."""

    def __init__(self):
        self.listener = std.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.port = self.listener.getsockname()[1]
        self.conn = None

    def accept(self):
        self.conn, _ = self.listener.accept()
        return self.conn

    def close(self):
        if self.conn is not None:
            self.conn.close()
        self.listener.close()


@pytest.mark.parametrize("how", ["readexactly", "readline", "read-all"])
def test_wait_for_on_a_stalled_peer_keeps_the_bytes_received(how):
    """The peer sends half a message and stalls: wait_for times out, and the half already taken
    from the socket is returned by the next read, before the rest."""
    peer = StalledPeer()
    first, rest = payload(5000, 1).replace(b"\n", b"."), payload(5000, 2).replace(b"\n", b".")
    whole = first + rest + (b"\n" if how == "readline" else b"")

    def read(reader):
        if how == "readexactly":
            return reader.readexactly(len(whole))
        if how == "readline":
            return reader.readline()
        return reader.read()

    async def main():
        reader, writer = await asyncio.open_connection("127.0.0.1", peer.port)
        conn = peer.accept()
        conn.sendall(first)
        while queued_bytes(writer.s.fileno()) < len(first):
            await asyncio.sleep_ms(1)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(read(reader), 0.1)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for_ms(read(reader), 50)
        conn.sendall(whole[len(first):])
        if how == "read-all":
            conn.shutdown(std.SHUT_WR)
        got = await asyncio.wait_for(read(reader), 10)
        writer.close()
        await writer.wait_closed()
        return got

    with NoLeaks():
        try:
            assert asyncio.run(main()) == whole
        finally:
            peer.close()


def test_cancel_a_task_waiting_to_read_then_read_on():
    peer = StalledPeer()

    async def main():
        reader, writer = await asyncio.open_connection("127.0.0.1", peer.port)
        conn = peer.accept()
        cancelled = []

        async def waiter():
            try:
                await reader.readexactly(10)
            except asyncio.CancelledError:
                cancelled.append(True)
                raise

        t = asyncio.create_task(waiter())
        await asyncio.sleep_ms(20)
        assert not t.done()
        assert t.cancel() is True
        with pytest.raises(asyncio.CancelledError):
            await t
        assert cancelled == [True] and t.done() and t.cancel() is False
        conn.sendall(b"0123456789")
        got = await reader.readexactly(10)        # the stream is still usable
        writer.close()
        return got

    with NoLeaks():
        try:
            assert asyncio.run(main()) == b"0123456789"
        finally:
            peer.close()


def test_cancel_closes_what_the_task_opened():
    """100 clients waiting on a silent server are cancelled: their finally blocks close every
    stream, the loop keeps nothing registered."""
    async def silent(reader, writer):
        await reader.read()                       # until the client goes away
        writer.close()

    async def client(port, started):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            started.append(1)
            await reader.read(1)
        finally:
            writer.close()

    async def main():
        srv = await asyncio.start_server(silent, "127.0.0.1", 0, backlog=128)
        port = srv.sockets[0].getsockname()[1]
        started = []
        tasks = [asyncio.create_task(client(port, started)) for _ in range(100)]
        while len(started) < 100:
            await asyncio.sleep_ms(2)
        await asyncio.sleep_ms(20)
        for t in tasks:
            t.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert all(isinstance(r, asyncio.CancelledError) for r in results)
        await asyncio.sleep_ms(50)                # the server's handlers see EOF and close
        srv.close()
        await srv.wait_closed()

    with NoLeaks():
        asyncio.run(main())
    from uasyncio import core
    assert core._io_queue.map == {} and len(core._io_queue.poller) == 0


def test_open_connection_cancelled_while_connecting_closes_its_socket():
    # A listener with a full backlog that never accepts keeps a connect pending.
    listener = std.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    fillers = []
    try:
        for _ in range(8):
            f = std.socket()
            f.setblocking(False)
            f.connect_ex(listener.getsockname())
            fillers.append(f)

        async def main():
            t = asyncio.create_task(asyncio.open_connection("127.0.0.1",
                                                            listener.getsockname()[1]))
            await asyncio.sleep_ms(30)
            t.cancel()
            with pytest.raises(asyncio.CancelledError):
                await t

        with NoLeaks():
            asyncio.run(main())
    finally:
        for f in fillers:
            f.close()
        listener.close()


def test_server_close_with_clients_attached():
    async def main():
        srv = await asyncio.start_server(echo_framed, "127.0.0.1", 0, backlog=128)
        port = srv.sockets[0].getsockname()[1]
        streams = [await asyncio.open_connection("127.0.0.1", port) for _ in range(10)]
        for reader, writer in streams:            # all attached and served
            writer.write(struct.pack(">I", 3) + b"abc")
            await writer.drain()
            assert await reader.readexactly(7) == struct.pack(">I", 3) + b"abc"
        srv.close()
        await srv.wait_closed()
        assert srv.sockets == ()
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection("127.0.0.1", port)
        # The connections already accepted go on, nothing lost.
        for i, (reader, writer) in enumerate(streams):
            data = payload(100_000, i)
            writer.write(struct.pack(">I", len(data)) + data)
            await writer.drain()
            assert await reader.readexactly(4 + len(data)) == struct.pack(">I", len(data)) + data
            writer.close()
            await writer.wait_closed()
        await asyncio.sleep_ms(20)                # the handlers see EOF and close

    with NoLeaks():
        asyncio.run(main())


def test_server_as_async_context_manager():
    async def main():
        async with await asyncio.start_server(echo_framed, "127.0.0.1", 0) as srv:
            port = srv.sockets[0].getsockname()[1]
            assert await framed_client(port, 1, [10, 20]) == 30
        assert srv.sockets == ()

    with NoLeaks():
        asyncio.run(main())


def test_closing_a_stream_wakes_its_waiting_reader():
    peer = StalledPeer()

    async def main():
        reader, writer = await asyncio.open_connection("127.0.0.1", peer.port)
        peer.accept()
        t = asyncio.create_task(reader.read(10))
        await asyncio.sleep_ms(20)
        writer.close()
        writer.close()                            # twice is harmless
        with pytest.raises(OSError) as info:
            await t
        assert info.value.errno == 9              # EBADF

    with NoLeaks():
        try:
            asyncio.run(main())
        finally:
            peer.close()


def test_close_hands_undrained_data_to_the_kernel():
    peer = StalledPeer()

    async def main():
        reader, writer = await asyncio.open_connection("127.0.0.1", peer.port)
        conn = peer.accept()
        writer.write(b"not drained")
        writer.close()
        conn.settimeout(5)
        assert conn.recv(100) == b"not drained"

    with NoLeaks():
        try:
            asyncio.run(main())
        finally:
            peer.close()


def test_open_connection_refused_leaks_nothing():
    with std.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]               # bound, not listening: refused

        async def main():
            with pytest.raises(ConnectionRefusedError):
                await asyncio.open_connection("127.0.0.1", port)

        with NoLeaks():
            asyncio.run(main())


def test_stream_over_a_socket_holding_bytes():
    """A Kiln socket that timed out holding bytes, handed to a Stream: the bytes come first."""
    peer = StalledPeer()
    try:
        s = usocket.socket()
        s.connect(("127.0.0.1", peer.port))
        conn = peer.accept()
        conn.sendall(b"kept by Kiln|")
        s.settimeout(0.05)
        with pytest.raises(OSError):
            s.read(100)
        assert s.pending() == 13
        s.setblocking(False)
        stream = asyncio.Stream(s)

        async def main():
            first = await asyncio.wait_for(stream.read(100), 5)
            conn.sendall(b"then more\n")
            second = await asyncio.wait_for(stream.readline(), 5)
            stream.close()
            return first, second

        assert asyncio.run(main()) == (b"kept by Kiln|", b"then more\n")
    finally:
        peer.close()


def test_stream_methods_and_extra_info():
    async def handler(reader, writer):
        peer = writer.get_extra_info("peername")
        writer.write(b"%s:%d\n" % (peer[0].encode(), peer[1]))
        writer.write("str is UTF-8 \u00e9\n")
        writer.write(bytearray(b"bytearray\n"))
        writer.write(memoryview(b"xxmemoryview\n")[2:])
        await writer.awrite(b"--awrite--\n", 2, 9)
        await writer.drain()
        buf = bytearray(5)
        n = await reader.readinto(buf)
        writer.write(bytes(buf[:n]) + b"\n")
        await writer.drain()
        await writer.aclose()

    async def main():
        srv = await asyncio.start_server(handler, "127.0.0.1", 0)
        port = srv.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert writer.get_extra_info("peername") == ("127.0.0.1", port)
        assert asyncio.StreamReader is asyncio.StreamWriter is asyncio.Stream
        here = writer.s.getsockname()
        lines = [await reader.readline() for _ in range(5)]
        writer.write(b"hello")
        await writer.drain()
        lines.append(await reader.readline())
        assert await reader.read(10) == b""       # EOF
        assert await reader.readline() == b""
        assert await reader.read() == b""
        with pytest.raises(EOFError):
            await reader.readexactly(1)
        writer.close()
        srv.close()
        await srv.wait_closed()
        return here, lines

    with NoLeaks():
        here, lines = asyncio.run(main())
    assert lines == [b"%s:%d\n" % (here[0].encode(), here[1]), "str is UTF-8 \u00e9\n".encode(),
                     b"bytearray\n", b"memoryview\n", b"awrite--\n", b"hello\n"]


# ---- the core ----------------------------------------------------------------------------------

def test_run_create_task_await_and_current_task():
    order = []

    async def child(n):
        order.append(("child", n, asyncio.current_task() is not None))
        await asyncio.sleep_ms(n)
        return n * 2

    async def main():
        me = asyncio.current_task()
        assert isinstance(me, asyncio.Task)
        t1 = asyncio.create_task(child(20))
        t2 = asyncio.create_task(child(5))
        assert not t1.done()
        assert await t1 == 40 and await t2 == 10
        assert t1.done() and await t1 == 40       # awaiting twice is fine
        with pytest.raises(RuntimeError, match="can't cancel self"):
            me.cancel()
        return "main done"

    assert asyncio.run(main()) == "main done"
    with pytest.raises(RuntimeError):
        asyncio.current_task()
    assert order == [("child", 20, True), ("child", 5, True)]


def test_sleep_orders_tasks_by_time():
    woke = []

    async def sleeper(name, t, fn):
        await fn(t)
        woke.append(name)

    async def main():
        await asyncio.gather(sleeper("c", 60, asyncio.sleep_ms),
                             sleeper("a", 0.01, asyncio.sleep),
                             sleeper("b", 30, asyncio.sleep_ms),
                             sleeper("z", 0, asyncio.sleep))

    asyncio.run(main())
    assert woke == ["z", "a", "b", "c"]


def test_sleep_lets_others_run_and_exceptions_propagate():
    async def boom():
        await asyncio.sleep(0)
        raise ValueError("boom")

    async def main():
        t = asyncio.create_task(boom())
        with pytest.raises(ValueError, match="boom"):
            await t
        with pytest.raises(ValueError, match="boom"):
            await t

    asyncio.run(main())
    with pytest.raises(KeyError):
        asyncio.run(_raise(KeyError("main raised")))


async def _raise(exc):
    raise exc


def test_unretrieved_task_exception_goes_to_the_exception_handler(capsys):
    seen = []

    async def bad():
        raise ZeroDivisionError("detached")

    async def main():
        asyncio.create_task(bad())
        await asyncio.sleep_ms(10)

    loop = asyncio.get_event_loop()
    assert loop is asyncio.Loop and loop.get_exception_handler() is None
    asyncio.run(main())
    err = capsys.readouterr().err
    assert "Task exception wasn't retrieved" in err and "ZeroDivisionError: detached" in err
    loop.set_exception_handler(lambda lp, ctx: seen.append((lp, ctx["message"],
                                                            type(ctx["exception"]))))
    assert loop.get_exception_handler() is not None
    asyncio.run(main())
    assert seen == [(asyncio.Loop, "Task exception wasn't retrieved", ZeroDivisionError)]


def test_loop_methods():
    loop = asyncio.new_event_loop()
    assert asyncio.get_event_loop() is loop
    ran = []

    async def work(n):
        ran.append(n)
        if n == 3:
            loop.stop()
        return n

    assert loop.run_until_complete(work(1)) == 1
    t = loop.create_task(work(2))
    assert loop.run_until_complete(t) == 2

    async def later():
        await asyncio.sleep_ms(20)
        await work(3)

    loop.create_task(later())
    loop.run_forever()                           # until stop()
    loop.close()
    assert ran == [1, 2, 3]


def test_new_event_loop_drops_scheduled_tasks():
    ran = []

    async def never():
        ran.append(1)

    async def main():
        pass

    coro = never()
    asyncio.create_task(coro)
    asyncio.new_event_loop()
    asyncio.run(main())
    coro.close()
    assert ran == []


def test_wait_for_and_wait_for_ms():
    async def slow(t):
        await asyncio.sleep_ms(t)
        return t

    async def failing():
        await asyncio.sleep_ms(1)
        raise OSError(5, "io")

    async def main():
        assert await asyncio.wait_for(slow(5), 1) == 5
        assert await asyncio.wait_for(slow(5), None) == 5
        assert await asyncio.wait_for_ms(slow(5), 1000) == 5
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(slow(1000), 0.02)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for_ms(slow(1000), 20)
        with pytest.raises(OSError):
            await asyncio.wait_for(failing(), 1)
        # The task given is cancelled at the timeout.
        t = asyncio.create_task(slow(1000))
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(t, 0.01)
        assert t.done()
        with pytest.raises(asyncio.CancelledError):
            await t

    asyncio.run(main())


def test_wait_for_cancelled_from_outside_cancels_its_awaitable():
    inner = []

    async def slow():
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            inner.append("cancelled")
            raise

    async def main():
        t = asyncio.create_task(asyncio.wait_for(slow(), 5))
        await asyncio.sleep_ms(10)
        t.cancel()
        with pytest.raises(asyncio.CancelledError):
            await t
        await asyncio.sleep_ms(0)

    asyncio.run(main())
    assert inner == ["cancelled"]


def test_gather():
    async def value(v, t=1):
        await asyncio.sleep_ms(t)
        return v

    async def fail(t):
        await asyncio.sleep_ms(t)
        raise ValueError(t)

    async def main():
        assert await asyncio.gather() == []
        assert await asyncio.gather(value(1, 20), value(2), value(3, 5)) == [1, 2, 3]
        with pytest.raises(ValueError):
            await asyncio.gather(value(1), fail(5))
        res = await asyncio.gather(value(1), fail(2), return_exceptions=True)
        assert res[0] == 1 and isinstance(res[1], ValueError)
        # Cancelling the gather cancels what it still runs.
        t1 = asyncio.create_task(value(1, 1000))
        g = asyncio.create_task(asyncio.gather(t1, value(2, 1000)))
        await asyncio.sleep_ms(10)
        g.cancel()
        with pytest.raises(asyncio.CancelledError):
            await g
        await asyncio.sleep_ms(0)
        assert t1.done()
        # A task awaited elsewhere cannot be gathered.
        t2 = asyncio.create_task(value(1, 50))
        waiter = asyncio.create_task(_await(t2))
        await asyncio.sleep_ms(0)
        with pytest.raises(RuntimeError, match="can't gather"):
            await asyncio.gather(t2)
        assert await waiter == 1

    asyncio.run(main())


async def _await(aw):
    return await aw


def test_event():
    async def main():
        ev = asyncio.Event()
        assert not ev.is_set()
        woke = []

        async def waiter(i):
            assert await ev.wait() is True
            woke.append(i)

        tasks = [asyncio.create_task(waiter(i)) for i in range(5)]
        await asyncio.sleep_ms(5)
        assert woke == []
        ev.set()
        assert ev.is_set()
        await asyncio.gather(*tasks)
        assert woke == [0, 1, 2, 3, 4]
        assert await ev.wait() is True            # set: at once
        ev.clear()
        assert not ev.is_set()
        t = asyncio.create_task(ev.wait())
        await asyncio.sleep_ms(5)
        t.cancel()                                # a cancelled waiter leaves the queue
        with pytest.raises(asyncio.CancelledError):
            await t
        ev.set()

    asyncio.run(main())


def test_thread_safe_flag_set_from_another_thread():
    async def main():
        flag = asyncio.ThreadSafeFlag()
        flag.set()
        await flag.wait()                         # set: at once, and clears
        timer = threading.Timer(0.05, flag.set)
        timer.start()
        await flag.wait()                         # the loop sleeps in poll until the thread
        timer.join()
        flag.set()
        flag.clear()
        assert await asyncio.wait_for_ms(_flag_wait_or_timeout(flag), 30) == "timeout"
        return flag

    flag = asyncio.run(main())
    fd = flag.fileno()
    del flag                                      # its eventfd goes with it (a cancelled
    gc.collect()                                  # wait leaves a traceback cycle behind)
    assert not os.path.exists(f"/proc/self/fd/{fd}") or \
        "eventfd" not in os.readlink(f"/proc/self/fd/{fd}")


async def _flag_wait_or_timeout(flag):
    try:
        await asyncio.wait_for_ms(flag.wait(), 10)
    except asyncio.TimeoutError:
        return "timeout"
    return "set"


def test_lock():
    async def main():
        lock = asyncio.Lock()
        assert not lock.locked()
        order = []

        async def worker(i):
            async with lock:
                order.append(("in", i))
                await asyncio.sleep_ms(2)
                order.append(("out", i))

        await asyncio.gather(*[worker(i) for i in range(4)])
        assert order == [(w, i) for i in range(4) for w in ("in", "out")]
        assert await lock.acquire() is True and lock.locked()
        t = asyncio.create_task(lock.acquire())
        await asyncio.sleep_ms(2)
        t.cancel()                                # a cancelled waiter does not get the lock
        with pytest.raises(asyncio.CancelledError):
            await t
        lock.release()
        assert not lock.locked()
        with pytest.raises(RuntimeError, match="not acquired"):
            lock.release()

    asyncio.run(main())


# ---- bad input ----------------------------------------------------------------------------

def test_bad_arguments():
    async def main():
        with pytest.raises(TypeError, match="coro"):
            asyncio.create_task(5)
        for fn in (asyncio.sleep, asyncio.sleep_ms):
            for bad in ("1", None, True, [1]):
                with pytest.raises(TypeError, match="argument 't'"):
                    fn(bad)
            with pytest.raises(ValueError, match="nan"):
                fn(float("nan"))
        with pytest.raises(TypeError, match="argument 't'"):
            await asyncio.wait_for(asyncio.sleep(0), "1")
        with pytest.raises(TypeError, match="'cb'"):
            await asyncio.start_server(5, "127.0.0.1", 0)
        with pytest.raises(TypeError, match="'ssl'"):
            await asyncio.open_connection("127.0.0.1", 1, ssl=object())
        with pytest.raises(ValueError, match="'ssl': True gives no certificate"):
            await asyncio.start_server(_raise, "127.0.0.1", 0, ssl=True)
        import ssl
        srv = await asyncio.start_server(echo_framed, "127.0.0.1", 0)
        port = srv.sockets[0].getsockname()[1]
        with pytest.raises(TypeError, match="CPython's ssl"):
            await asyncio.open_connection("127.0.0.1", port,
                                          ssl=ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        with pytest.raises(TypeError, match="argument 'n'"):
            await reader.read("10")
        with pytest.raises(TypeError, match="argument 'n'"):
            await reader.readexactly(1.5)
        with pytest.raises(ValueError, match="argument 'n'"):
            await reader.readexactly(-1)
        with pytest.raises(TypeError, match="argument 'buf'"):
            writer.write(5)
        with pytest.raises(TypeError):
            await reader.readinto(b"read-only")
        writer.close()
        srv.close()
        await srv.wait_closed()

    with NoLeaks():
        asyncio.run(main())


def test_awaiting_another_loops_future_is_refused():
    import asyncio as cpython_asyncio

    async def main():
        fut = cpython_asyncio.Future(loop=cpython_asyncio.new_event_loop())
        try:
            with pytest.raises(RuntimeError, match="not from Kiln's MicroPython asyncio"):
                await fut
        finally:
            fut.get_loop().close()

    asyncio.run(main())


def test_awaitables_outside_a_running_loop():
    with pytest.raises(RuntimeError, match="no running event loop"):
        asyncio.sleep(0).send(None)
    flag = asyncio.ThreadSafeFlag()
    with pytest.raises(RuntimeError, match="no running event loop"):
        flag.wait().send(None)


# ---- apps ------------------------------------------------------------------------------------

def _run_app(app_dir: Path, source: str):
    (app_dir / "main.py").write_text(textwrap.dedent(source))
    return subprocess.run([sys.executable, "-m", "kiln.app", "--api", "micropython",
                           str(app_dir / "main.py")], capture_output=True, text=True,
                          timeout=120)


def test_micropython_app_with_an_asyncio_server_and_clients(tmp_path):
    r = _run_app(tmp_path, """
        import asyncio, uasyncio, socket, select
        print(asyncio is uasyncio, asyncio.__name__)

        async def echo(reader, writer):
            while True:
                line = await reader.readline()
                if not line:
                    break
                writer.write(line)
                await writer.drain()
            writer.close()
            await writer.wait_closed()

        async def client(port, i):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"hello %d\\n" % i)
            await writer.drain()
            line = await reader.readline()
            writer.close()
            await writer.wait_closed()
            return line

        async def main():
            server = await asyncio.start_server(echo, "127.0.0.1", 0)
            port = server.sockets[0].getsockname()[1]
            lines = await asyncio.gather(*[client(port, i) for i in range(20)])
            print(lines == [b"hello %d\\n" % i for i in range(20)])
            try:
                await asyncio.wait_for_ms(asyncio.sleep_ms(1000), 10)
            except asyncio.TimeoutError:
                print("timeout")
            server.close()
            await server.wait_closed()

        asyncio.run(main())
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["True uasyncio", "True", "timeout"]


class _Handler(http.server.BaseHTTPRequestHandler):
    body = payload(50_000, 3).hex().encode()

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.path.encode() + b"|" + self.body)

    def log_message(self, *args):
        pass


def test_published_uaiohttpclient_against_cpython_http_server(tmp_path):
    """micropython-lib's uaiohttpclient, unmodified, in the app's directory, fetching from
    CPython's HTTP server (concurrent requests, content checked)."""
    shutil.copy(FIXTURES / "uaiohttpclient.py", tmp_path / "uaiohttpclient.py")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        r = _run_app(tmp_path, f"""
            import asyncio
            import hashlib
            import uaiohttpclient as aiohttp

            async def fetch(i):
                resp = await aiohttp.request("GET", "http://127.0.0.1:{server.server_port}/n%d" % i)
                body = await resp.read()
                return resp.status, body

            async def main():
                results = await asyncio.gather(*[fetch(i) for i in range(10)])
                for i, (status, body) in enumerate(results):
                    path, _, data = body.partition(b"|")
                    print(status, path.decode(), len(data), hashlib.sha256(data).hexdigest())

            asyncio.run(main())
        """)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert r.returncode == 0, r.stderr
    digest = hashlib.sha256(_Handler.body).hexdigest()
    assert r.stdout.splitlines() == [f"200 /n{i} {len(_Handler.body)} {digest}"
                                     for i in range(10)]
