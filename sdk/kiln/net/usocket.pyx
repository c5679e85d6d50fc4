"""The MicroPython face of Kiln's socket core: ``usocket`` (MicroPython's ``socket`` module).

As MicroPython documents: ``settimeout`` in seconds; ``recv``/``recvfrom`` return bytes of up to
bufsize as soon as any data is there; sockets are streams (``read``, ``readinto``, ``readline``,
``write``; no short reads/writes on blocking sockets; ``None`` or a short count on non-blocking
ones; ``readinto``/``readline``/``write`` take py/stream.c's optional ``nbytes``, ``limit`` and
``off``/``max_len``); ``makefile`` returns the socket itself, so closing the file closes the
socket; every error is ``OSError`` with the errno in ``args[0]`` (a timeout is
``OSError(ETIMEDOUT)``, getaddrinfo failures carry negative EAI_* numbers); addresses are tuples or the ``SockAddr`` objects
``getaddrinfo`` returns.  Bytes received before a ``read`` timed out are kept for the next read.
"""
from kiln.net.core cimport SocketCore
from kiln.net.libc cimport SOMAXCONN, EAGAIN
from kiln.net.errors cimport raise_errno
from kiln.net.args cimport (int_or_fail, size_or_fail, timeout_arg, bool_arg,
                            clamped_int_arg, clamped_count, limit_arg)
from kiln.net.buffers cimport data_view, writable_view
from cpython.buffer cimport PyBuffer_Release
from libc.limits cimport INT_MAX

from kiln.net.const import *
from kiln.net.const import __all__ as _const_names
from kiln.net.addr import SockAddr, getaddrinfo, inet_ntop, inet_pton

error = OSError

#: MicroPython's "special protocol value to create SSL-compatible socket": a TCP socket whose
#: ``connect()`` runs a TLS handshake with the default client context of MicroPython's
#: ``ssl.wrap_socket`` (no certificate verification, no SNI: see docs/tls.md).  Outside the IP
#: protocol numbers, so it never reaches the kernel.
IPPROTO_SEC = 0x100

cdef enum:
    NS_PER_S = 1000000000


cdef class socket(SocketCore):
    """socket(af=AF_INET, type=SOCK_STREAM, proto=IPPROTO_TCP)

    A BSD socket with MicroPython semantics; ``proto`` is chosen from ``type`` when left default.
    ``proto=IPPROTO_SEC`` makes a TLS client socket (handshake in ``connect()``).
    """
    cdef bint secure

    def __init__(self, af=AF_INET, type=SOCK_STREAM, proto=IPPROTO_TCP):
        if self.fd >= 0:
            raise RuntimeError("socket.__init__() called twice")
        cdef int c_proto = int_or_fail(proto, "socket", "proto")
        cdef int c_type = int_or_fail(type, "socket", "type")
        if c_proto == IPPROTO_SEC:
            if c_type != SOCK_STREAM:
                raise ValueError("socket(): proto IPPROTO_SEC needs type SOCK_STREAM")
            self.secure = True
            c_proto = IPPROTO_TCP
        self._open(int_or_fail(af, "socket", "af"), c_type, c_proto, None)

    def connect(self, address):
        """Connect to ``address``; an IPPROTO_SEC socket then runs the TLS handshake (one
        deadline each, per the socket's timeout).  See ``SocketCore.connect``."""
        SocketCore.connect(self, address)
        if self.secure:
            from kiln.net import ussl
            ussl.secure_connected(self, "usocket.socket(..., IPPROTO_SEC).connect()")

    def settimeout(self, value):
        """Timeout of blocking operations in seconds (float ok; a positive value never rounds
        down to non-blocking); 0 = non-blocking, None = blocking.  Timed-out operations raise
        OSError(ETIMEDOUT)."""
        self._set_timeout_ns(timeout_arg(value, "settimeout", "value", NS_PER_S, "seconds"))

    def gettimeout(self):
        """The timeout in seconds (float), 0.0 if non-blocking, None if blocking."""
        return None if self.timeout_ns < 0 else self.timeout_ns / 1e9

    def setblocking(self, flag):
        """``setblocking(False)`` is ``settimeout(0)``; ``setblocking(True)`` is
        ``settimeout(None)``."""
        self._set_timeout_ns(-1 if bool_arg(flag, "setblocking", "flag") else 0)

    def listen(self, backlog=None):
        """Accept connections; ``backlog`` (default: a reasonable value) is clamped to >= 0."""
        if backlog is None:
            self._listen(min(SOMAXCONN, 128))
        else:
            self._listen(clamped_int_arg(backlog, "listen", "backlog", 0, INT_MAX))

    def recv(self, bufsize, flags=0):
        """Receive up to ``bufsize`` bytes (returns as soon as any arrived; b"" at EOF)."""
        result = self._recv_object(size_or_fail(bufsize, "recv", "bufsize"),
                                   int_or_fail(flags, "recv", "flags"), False, False)
        if result is None:
            raise_errno(self.err)
        return result

    def recv_into(self, buffer, nbytes=None, flags=0):
        """Receive up to ``nbytes`` (default ``len(buffer)``) into ``buffer``; return the count."""
        cdef Py_ssize_t got = self._recv_into(buffer, nbytes,
                                              int_or_fail(flags, "recv_into", "flags"), False,
                                              "recv_into", "buffer", "nbytes", True)
        if got < 0:
            raise_errno(self.err)
        return got

    def recvfrom(self, bufsize, flags=0):
        """Receive one datagram of up to ``bufsize`` bytes; return ``(bytes, address)``."""
        result = self._recvfrom(size_or_fail(bufsize, "recvfrom", "bufsize"),
                                int_or_fail(flags, "recvfrom", "flags"), False)
        if result is None:
            raise_errno(self.err)
        return result

    # ---- stream interface ------------------------------------------------------------------

    def read(self, size=-1):
        """Read ``size`` bytes (no short reads except at EOF), or everything until EOF when
        ``size`` is omitted, None or negative.  Non-blocking: what is there, or None if nothing."""
        if size is None:
            result = self._read_to_eof()
        elif isinstance(size, int) and size < 0:
            result = self._read_to_eof()
        else:
            result = self._recv_object(size_or_fail(size, "read", "size"), 0, True, False)
        if result is None and self.err != EAGAIN:
            raise_errno(self.err)
        return result

    def readinto(self, buf, nbytes=None):
        """Read into ``buf`` up to ``nbytes`` (default, or larger than the buffer: ``len(buf)``,
        as py/stream.c clamps it) with no short reads except at EOF; return the count.
        Non-blocking: the count available, or None if nothing."""
        cdef Py_buffer view
        cdef Py_ssize_t got
        writable_view(buf, &view, "readinto", "buf")
        try:
            got = self._recv_fill(<char*>view.buf,
                                  clamped_count(nbytes, view.len, "readinto", "nbytes"), 0, True)
        finally:
            PyBuffer_Release(&view)
        if got < 0:
            if self.err != EAGAIN:
                raise_errno(self.err)
            return None
        return got

    def readline(self, limit=None):
        """Read one line, through b"\\n" or EOF, of at most ``limit`` bytes (None or negative: no
        limit); returns bytes (b"" at EOF).  Non-blocking: the part available now, or None if
        nothing."""
        result = self._read_line(limit_arg(limit, "readline", "limit"))
        if result is None and self.err != EAGAIN:
            raise_errno(self.err)
        return result

    def write(self, buf, off=None, max_len=None, /):
        """``write(buf)``, ``write(buf, max_len)``, ``write(buf, off, max_len)``: write all of
        ``buf[off:off + max_len]`` (no short writes on a blocking socket); return the count.
        As py/stream.c: ``off`` past the end is clamped to ``len(buf)``, ``max_len`` to what
        remains after ``off``; negative values raise ValueError.  Non-blocking: the count the
        kernel took (may be short), or None if none."""
        cdef Py_buffer view
        cdef Py_ssize_t sent, start = 0, n
        if max_len is None and off is not None:     # write(buf, max_len)
            max_len, off = off, None
        data_view(buf, &view, "write", "buf")
        try:
            if off is not None:
                start = clamped_count(off, view.len, "write", "off")
            n = clamped_count(max_len, view.len - start, "write", "max_len")
            sent = self._send_buf(<const char*>view.buf + start, n, 0, True)
        finally:
            PyBuffer_Release(&view)
        if sent < 0:
            if self.err != EAGAIN:
                raise_errno(self.err)
            return None
        return sent

    def makefile(self, mode="rb", buffering=0):
        """Return a binary stream over the socket: the socket itself (as MicroPython), so closing
        the file closes the socket.  Only 'rb', 'wb' and 'rwb' (any order) are supported;
        ``buffering`` (an int or None) is ignored."""
        if not isinstance(mode, str):
            raise TypeError(f"makefile() argument 'mode' must be a str, not {type(mode).__name__}")
        if "b" not in mode or set(mode) - set("rwb") or len(set(mode)) != len(mode):
            raise ValueError(f"makefile() argument 'mode' must be a binary mode ('rb', 'wb', "
                             f"'rwb'), got {mode!r}")
        if buffering is not None:
            int_or_fail(buffering, "makefile", "buffering")
        self._check()
        return self


__all__ = ["socket", "SockAddr", "getaddrinfo", "inet_ntop", "inet_pton", "error",
           "IPPROTO_SEC"] + \
    list(_const_names)
