"""TCP streams over Kiln sockets: ``Stream``, ``open_connection``, ``start_server``, ``Server``.

Adapted from MicroPython's ``extmod/asyncio/stream.py`` (MIT license; Copyright (c) 2019-2020
Damien P. George; the license text is in ``uasyncio/__init__.py``).  Differences: reads and
writes are tried before waiting (a poll only when the socket has nothing); bytes a read took
before it was cancelled or failed (``readexactly``, ``readline``, ``read()``) are kept for the
next read; ``close()`` closes the socket at once (after handing the kernel what it takes of
undrained data) and wakes the tasks waiting on it; ``open_connection`` reports a failed
connection (``OSError``) instead of leaving it to the first read.

The socket a stream drives is any object with MicroPython's non-blocking stream methods: ``read``,
``readinto``, ``readline`` and ``write`` (returning None when they would block), ``close``,
``fileno`` and ``pending`` (bytes held above the descriptor) -- a Kiln ``usocket`` socket, or a
TLS socket offering the same methods (``ssl=``).
"""
import errno
import os
import types

from uasyncio import core


def _size_arg(n, func):
    """A byte count for ``func``: an int (None or negative: everything, for ``read``)."""
    if n is None:
        return -1
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"{func}() argument 'n' must be an int, not {type(n).__name__}")
    return n


def _bytes_arg(buf, func):
    """Data to write as bytes: bytes-like objects are copied (the caller may reuse them), str is
    UTF-8."""
    if isinstance(buf, str):
        return buf.encode()
    try:
        with memoryview(buf) as view:
            return view.tobytes()
    except TypeError:
        raise TypeError(f"{func}() argument 'buf' must be a bytes-like object or str, not "
                        f"{type(buf).__name__}") from None


class Stream:
    """A TCP stream connection, reader and writer in one (``StreamReader`` and ``StreamWriter``
    are this class).  ``s`` is the non-blocking socket it drives; ``e`` the extra information
    ``get_extra_info`` returns (``peername``)."""

    def __init__(self, s, e=None):
        self.s = s
        self.e = {} if e is None else e
        self.out_buf = b""
        self._rbuf = b""    # bytes a cut-short read took from the socket: returned first

    def get_extra_info(self, v):
        """Extra information about the stream: ``"peername"`` (the peer's address)."""
        return self.e[v]

    def close(self):
        """Close the stream's socket now (closing twice is harmless).  Data written but not
        drained is handed to the kernel as far as it takes it without waiting; use ``drain()``
        before ``close()`` to be sure everything is sent.  Tasks waiting on the stream wake up
        and get ``OSError(EBADF)``."""
        s = self.s
        if s.fileno() < 0:
            return
        if self.out_buf:
            try:
                s.write(self.out_buf)
            except OSError:
                pass
            self.out_buf = b""
        core._io_queue.discard(s)
        self._rbuf = b""
        s.close()

    async def wait_closed(self):
        """Close the stream (if not yet) and wait until it is closed.  A coroutine."""
        self.close()

    def _unread(self, data):
        if data:
            self._rbuf = data + self._rbuf

    def _take(self, n):
        data = self._rbuf
        if n >= len(data):
            self._rbuf = b""
            return data
        self._rbuf = data[n:]
        return data[:n]

    @types.coroutine
    def read(self, n=-1):
        """Read up to ``n`` bytes (what is there once something is); with ``n`` -1 (or omitted)
        read until EOF.  b"" at EOF.  A coroutine."""
        if n.__class__ is not int:
            n = _size_arg(n, "read")
        if n < 0:
            return (yield from self._read_all())
        if self._rbuf:
            return self._take(n)
        s = self.s
        while True:
            r = s.read(n)
            if r is not None:
                return r
            yield core._io_queue.queue_read(s)

    def _read_all(self):
        r = self._take(len(self._rbuf))
        s = self.s
        try:
            while True:
                r2 = s.read()
                if r2 is None:
                    yield core._io_queue.queue_read(s)
                elif not r2:
                    return r
                else:
                    r += r2
        except BaseException:
            self._unread(r)
            raise

    @types.coroutine
    def readinto(self, buf):
        """Read up to ``len(buf)`` bytes into ``buf``; return the count (0 at EOF).  A
        coroutine (a MicroPython extension)."""
        if self._rbuf:
            with memoryview(buf) as view:
                with view.cast("B") as out:
                    n = min(len(out), len(self._rbuf))
                    out[:n] = self._take(n)
                    return n
        s = self.s
        while True:
            r = s.readinto(buf)
            if r is not None:
                return r
            yield core._io_queue.queue_read(s)

    @types.coroutine
    def readexactly(self, n):
        """Read exactly ``n`` bytes; EOFError if the stream ends first (the bytes read so far
        stay for the next read).  A coroutine."""
        if n.__class__ is not int:
            n = _size_arg(n, "readexactly")
        if n < 0:
            raise ValueError(f"readexactly() argument 'n' must be >= 0, got {n}")
        r = self._take(n) if self._rbuf else b""
        s = self.s
        try:
            while len(r) < n:
                r2 = s.read(n - len(r))
                if r2 is None:
                    yield core._io_queue.queue_read(s)
                elif not r2:
                    raise EOFError(f"readexactly(): the stream ended after {len(r)} of {n} bytes")
                else:
                    r += r2
        except BaseException:
            self._unread(r)
            raise
        return r

    @types.coroutine
    def readline(self):
        """Read one line, through b"\\n" or EOF (b"" at EOF).  A coroutine."""
        line = b""
        if self._rbuf:
            i = self._rbuf.find(b"\n")
            if i >= 0:
                return self._take(i + 1)
            line = self._take(len(self._rbuf))
        s = self.s
        try:
            while True:
                more = s.readline()  # may do multiple reads but won't block
                if more is None:
                    yield core._io_queue.queue_read(s)
                    continue
                line += more
                if not more or line[-1] == 10:  # \n
                    return line
        except BaseException:
            self._unread(line)
            raise

    def write(self, buf):
        """Queue ``buf`` (bytes-like or str) for sending, sending what the kernel takes now;
        ``drain()`` sends the rest."""
        if buf.__class__ is not bytes:
            buf = _bytes_arg(buf, "write")
        if not self.out_buf:
            # Try to write immediately to the underlying stream.
            ret = self.s.write(buf)
            if ret == len(buf):
                return
            if ret:
                buf = buf[ret:]
        self.out_buf += buf

    @types.coroutine
    def drain(self):
        """Send everything written so far; always lets other tasks run once.  A coroutine."""
        if not self.out_buf:
            # Drain must always yield, so a tight loop of write+drain can't block the scheduler.
            core._task_queue.push(core.cur_task)
            yield
            return
        s = self.s
        data = self.out_buf
        off = 0
        waited = False
        try:
            while off < len(data):
                ret = s.write(data[off:] if off else data)
                if ret is None:
                    waited = True
                    yield core._io_queue.queue_write(s)
                else:
                    off += ret
        finally:
            self.out_buf = data[off:] + self.out_buf[len(data):]
        if not waited:
            core._task_queue.push(core.cur_task)
            yield

    # Legacy uasyncio names.
    async def aclose(self):
        """``wait_closed()`` (legacy uasyncio)."""
        self.close()

    async def awrite(self, buf, off=0, sz=-1):
        """``write(buf[off:off + sz])`` then ``drain()`` (legacy uasyncio)."""
        if off != 0 or sz != -1:
            buf = memoryview(buf)
            if sz == -1:
                sz = len(buf)
            buf = buf[off:off + sz]
        self.write(buf)
        await self.drain()

    awritestr = awrite


# Stream can be used for both reading and writing to save code size
StreamReader = Stream
StreamWriter = Stream


def _default_tls_context(server_side):
    """``ssl=True``: MicroPython's ``ssl.SSLContext(PROTOCOL_TLS_CLIENT)`` (which does not
    verify the server: Kiln prints one warning line).  A server needs its certificate: pass an
    SSLContext."""
    if server_side:
        raise ValueError("start_server() argument 'ssl': True gives no certificate to serve; "
                         "pass a tls.SSLContext(tls.PROTOCOL_TLS_SERVER) with "
                         "load_cert_chain()")
    from kiln.net import ussl
    return ussl.SSLContext(ussl.PROTOCOL_TLS_CLIENT)


@types.coroutine
def _tls_handshake(s):
    """Finish the TLS handshake of the non-blocking TLS socket ``s`` through the event loop,
    waiting for whichever direction it needs.  Raises what the handshake raises."""
    while True:
        try:
            s.do_handshake()
            return
        except BlockingIOError:
            if s.want_write():
                yield core._io_queue.queue_write(s)
            else:
                yield core._io_queue.queue_read(s)


async def _tls_then(ss, cb, server):
    """A server connection's task: the TLS handshake, then ``cb(ss, ss)``.  A client whose
    handshake fails is dropped and reported to the loop's exception handler."""
    try:
        await _tls_handshake(ss.s)
    except Exception as e:
        ss.close()
        core.Loop.call_exception_handler(
            {"message": "start_server: TLS handshake failed", "exception": e,
             "future": server.task})
        return
    coro = cb(ss, ss)
    if hasattr(coro, "send"):
        await coro


def _wrap_tls(ssl, s, server_side, server_hostname, func):
    """Wrap socket ``s`` with the SSLContext-like ``ssl`` (True: the default context)."""
    if ssl is True:
        ssl = _default_tls_context(server_side)
    if type(ssl).__module__ == "ssl":
        raise TypeError(f"{func}() argument 'ssl': CPython's ssl.SSLContext wraps CPython "
                        f"sockets only; Kiln streams need a Kiln TLS context")
    wrap = getattr(ssl, "wrap_socket", None)
    if not callable(wrap):
        raise TypeError(f"{func}() argument 'ssl' must be True, None or an SSLContext, not "
                        f"{type(ssl).__name__}")
    kwargs = {"server_side": server_side, "do_handshake_on_connect": False}
    if not server_side:
        kwargs["server_hostname"] = server_hostname
    t = wrap(s, **kwargs)
    t.setblocking(False)
    return t


@types.coroutine
def _wait_writable(s):
    yield core._io_queue.queue_write(s)


async def open_connection(host, port, ssl=None, server_hostname=None):
    """Open a TCP connection to ``host``:``port`` (resolved with ``getaddrinfo``, which blocks);
    return ``(reader, writer)``, one :class:`Stream`.  OSError if the name does not resolve or
    the connection fails (ConnectionRefusedError, ...).  ``ssl``: an SSLContext (True: the
    default one) for a TLS stream.  A coroutine."""
    import usocket as socket

    if ssl is not None and ssl is not False and ssl is not True and \
            not callable(getattr(ssl, "wrap_socket", None)):
        raise TypeError(f"open_connection() argument 'ssl' must be True, None or an SSLContext, "
                        f"not {type(ssl).__name__}")
    ai = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0]  # blocks, as MicroPython
    s = socket.socket(ai[0], ai[1], ai[2])
    try:
        s.setblocking(False)
        try:
            s.connect(ai[-1])
        except OSError as er:
            if er.errno != errno.EINPROGRESS:
                raise
            await _wait_writable(s)
            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                raise OSError(err, f"{os.strerror(err)}: connect to {ai[-1]!r}")
        peer = s.getpeername()
        if ssl:
            s = _wrap_tls(ssl, s, False, server_hostname or host, "open_connection")
            if hasattr(s, "do_handshake"):
                await _tls_handshake(s)
    except BaseException:
        s.close()
        raise
    ss = Stream(s, {"peername": peer})
    return ss, ss


class Server:
    """A TCP server started by :func:`start_server`; ``close()`` stops accepting (connections
    already accepted go on).  Usable in ``async with`` (closes on exit)."""

    async def __aenter__(self):
        return self

    async def __aexit__(self, exc_type, exc, tb):
        self.close()
        await self.wait_closed()

    def close(self):
        """Stop accepting and close the listening socket (connections already accepted are not
        touched)."""
        # Note: the _serve task must have already started by now due to the sleep
        # in start_server, so `state` won't be clobbered at the start of _serve.
        self.state = True
        self.task.cancel()

    async def wait_closed(self):
        """Wait until the server is closed.  A coroutine."""
        await self.task

    @property
    def sockets(self):
        """The listening socket in a tuple, empty once closed (as CPython's ``Server.sockets``;
        not in MicroPython): ``srv.sockets[0].getsockname()`` tells the port bound for port 0."""
        s = self._sock
        return (s,) if s.fileno() >= 0 else ()

    def _accepted(self, s2, addr, cb, ssl):
        try:
            if ssl:
                s2 = _wrap_tls(ssl, s2, True, None, "start_server")
            s2.setblocking(False)
            ss = Stream(s2, {"peername": addr})
            coro = _tls_then(ss, cb, self) if ssl and hasattr(s2, "do_handshake") \
                else cb(ss, ss)
        except Exception as e:
            s2.close()
            core.Loop.call_exception_handler(
                {"message": "start_server: connection handler failed", "exception": e,
                 "future": self.task})
            return
        if hasattr(coro, "send"):
            core.create_task(coro)

    @types.coroutine
    def _serve(self, s, cb, ssl):
        self.state = False
        try:
            # Accept incoming connections
            while True:
                yield core._io_queue.queue_read(s)
                backoff = False
                while True:
                    try:
                        s2, addr = s.accept()
                    except OSError as er:
                        # EAGAIN: all taken.  Anything else (EMFILE, ...): try again shortly
                        # rather than spin on a listening socket that stays readable.
                        backoff = er.errno != errno.EAGAIN
                        break
                    self._accepted(s2, addr, cb, ssl)
                if backoff:
                    yield from core.sleep_ms(10)
        except core.CancelledError:
            if self.state:
                # The server was closed explicitly: that cancellation ends it normally.
                return
            # Otherwise e.g. the parent task was cancelled: propagate.
            raise
        finally:
            s.close()


async def start_server(cb, host, port, backlog=5, ssl=None):
    """Start a TCP server on ``host``:``port``; ``cb(reader, writer)`` is called (as a new task
    when it is a coroutine function) for each connection.  Return the :class:`Server`.  A
    coroutine."""
    import usocket as socket

    if ssl is not None and ssl is not False and ssl is not True and \
            not callable(getattr(ssl, "wrap_socket", None)):
        raise TypeError(f"start_server() argument 'ssl' must be True, None or an SSLContext, "
                        f"not {type(ssl).__name__}")
    if not callable(cb):
        raise TypeError(f"start_server() argument 'cb' must be callable, not "
                        f"{type(cb).__name__}")
    if ssl is True:
        ssl = _default_tls_context(True)
    # Create and bind server socket.
    ai = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0]  # blocks, as MicroPython
    s = socket.socket(ai[0], ai[1], ai[2])
    try:
        s.setblocking(False)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(ai[-1])
        s.listen(backlog)
    except BaseException:
        s.close()
        raise

    # Create and return server object and task.
    srv = Server()
    srv._sock = s
    srv.task = core.create_task(srv._serve(s, cb, ssl))
    try:
        # Ensure that the _serve task has been scheduled so that it gets to
        # handle cancellation.
        await core.sleep_ms(0)
    except core.CancelledError as er:
        # If the parent task is cancelled during this first sleep, then
        # we will leak the task and it will sit waiting for the socket, so
        # cancel it.
        srv.task.cancel()
        raise er
    return srv
