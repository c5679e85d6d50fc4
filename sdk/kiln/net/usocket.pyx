"""The MicroPython face of Kiln's socket core: ``usocket`` (MicroPython's ``socket`` module).

As MicroPython documents: ``settimeout`` in seconds; ``recv``/``recvfrom`` return bytes of up to
bufsize as soon as any data is there; sockets are streams (``read``, ``readinto``, ``readline``,
``write``; no short reads/writes on blocking sockets; ``None`` or a short count on non-blocking
ones); ``makefile`` returns the socket itself, so closing the file closes the socket; every error
is ``OSError`` with the errno in ``args[0]`` (a timeout is ``OSError(ETIMEDOUT)``, getaddrinfo
failures carry negative EAI_* numbers); addresses are tuples or the ``SockAddr`` objects
``getaddrinfo`` returns.  Bytes received before a ``read`` timed out are kept for the next read.
"""
from kiln.net.core cimport SocketCore
from kiln.net.libc cimport memchr, MSG_PEEK, SOMAXCONN, EAGAIN
from kiln.net.errors cimport raise_errno

from cpython.bytearray cimport PyByteArray_AS_STRING

from kiln.net.const import *
from kiln.net.const import __all__ as _const_names
from kiln.net.addr import SockAddr, getaddrinfo, inet_ntop, inet_pton

error = OSError

cdef enum:
    READ_CHUNK = 16384
    LINE_PEEK = 1024


cdef class socket(SocketCore):
    """socket(af=AF_INET, type=SOCK_STREAM, proto=IPPROTO_TCP)

    A BSD socket with MicroPython semantics; ``proto`` is chosen from ``type`` when left default.
    """

    def __init__(self, int af=AF_INET, int type=SOCK_STREAM, int proto=IPPROTO_TCP):
        if self.fd >= 0:
            raise RuntimeError("socket.__init__() called twice")
        self._open(af, type, proto, None)

    def settimeout(self, value):
        """Timeout of blocking operations in seconds (float ok); 0 = non-blocking, None =
        blocking.  Timed-out operations raise OSError(ETIMEDOUT)."""
        if value is None:
            self._set_timeout_ns(-1)
            return
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"timeout must be a number of seconds or None, "
                            f"not {type(value).__name__}")
        if not (value >= 0):
            raise ValueError(f"timeout must be >= 0 seconds or None, got {value}")
        if value > 2**33:
            raise ValueError(f"timeout of {value} s is too large")
        self._set_timeout_ns(<long long>(value * 1e9 + 0.5))

    def gettimeout(self):
        """The timeout in seconds (float), 0.0 if non-blocking, None if blocking."""
        return None if self.timeout_ns < 0 else self.timeout_ns / 1e9

    def setblocking(self, flag):
        """``setblocking(False)`` is ``settimeout(0)``; ``setblocking(True)`` is
        ``settimeout(None)``."""
        self._set_timeout_ns(-1 if flag else 0)

    def listen(self, backlog=None):
        """Accept connections; ``backlog`` (default: a reasonable value) is clamped to >= 0."""
        if backlog is None:
            backlog = min(SOMAXCONN, 128)
        if not isinstance(backlog, int):
            raise TypeError(f"backlog must be an int, not {type(backlog).__name__}")
        self._listen(max(min(backlog, 2**31 - 1), 0))

    def recv(self, Py_ssize_t bufsize, int flags=0):
        """Receive up to ``bufsize`` bytes (returns as soon as any arrived; b"" at EOF)."""
        result = self._recv_object(bufsize, flags, False, False)
        if result is None:
            raise_errno(self.err)
        return result

    def recv_into(self, buffer, nbytes=None, int flags=0):
        """Receive up to ``nbytes`` (default ``len(buffer)``) into ``buffer``; return the count."""
        cdef Py_ssize_t got
        if nbytes is not None and nbytes < 0:
            raise ValueError(f"nbytes must be >= 0, got {nbytes}")
        got = self._recv_into(buffer, -1 if nbytes is None else nbytes, flags, False)
        if got < 0:
            raise_errno(self.err)
        return got

    def recvfrom(self, Py_ssize_t bufsize, int flags=0):
        """Receive one datagram of up to ``bufsize`` bytes; return ``(bytes, address)``."""
        result = self._recvfrom(bufsize, flags, False)
        if result is None:
            raise_errno(self.err)
        return result

    # ---- stream interface ------------------------------------------------------------------

    def read(self, size=-1):
        """Read ``size`` bytes (no short reads except at EOF), or everything until EOF when
        ``size`` is omitted/-1/None.  Non-blocking: what is there, or None if nothing."""
        if size is None:
            size = -1
        if not isinstance(size, int):
            raise TypeError(f"size must be an int, not {type(size).__name__}")
        if size >= 0:
            result = self._recv_object(size, 0, True, False)
            if result is None and self.err != EAGAIN:
                raise_errno(self.err)
            return result
        chunks = []
        while True:
            chunk = self._recv_object(READ_CHUNK, 0, True, False)
            if chunk is None:
                if self.err != EAGAIN:
                    raise_errno(self.err)
                if not chunks:          # non-blocking and nothing there
                    return None
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)

    def readinto(self, buf, nbytes=None):
        """Read into ``buf`` up to ``nbytes`` (default ``len(buf)``) with no short reads except at
        EOF; return the count.  Non-blocking: the count available, or None if nothing."""
        cdef Py_ssize_t got
        if nbytes is not None and nbytes < 0:
            raise ValueError(f"nbytes must be >= 0, got {nbytes}")
        got = self._recv_into(buf, -1 if nbytes is None else nbytes, 0, True)
        if got < 0:
            if self.err != EAGAIN:
                raise_errno(self.err)
            return None
        return got

    def readline(self):
        """Read one line, through b"\\n" or EOF; returns bytes (b"" at EOF).  Non-blocking: the
        part available now, or None if nothing."""
        cdef bytearray peek
        cdef Py_ssize_t n, take
        cdef const char *nl
        line = bytearray()
        while True:
            peek = self._recv_object(LINE_PEEK, MSG_PEEK, False, True)
            if peek is None:
                if self.err != EAGAIN:
                    raise_errno(self.err)
                return bytes(line) if line else None
            n = len(peek)
            if n == 0:
                return bytes(line)
            nl = <const char*>memchr(PyByteArray_AS_STRING(peek), 10, n)
            take = (nl - PyByteArray_AS_STRING(peek)) + 1 if nl != NULL else n
            chunk = self._recv_object(take, 0, True, True)
            if chunk is None:
                raise_errno(self.err)
            line += chunk
            if nl != NULL:
                return bytes(line)

    def write(self, buf):
        """Write all of ``buf`` (no short writes on a blocking socket); return the count.
        Non-blocking: the count the kernel took (may be short), or None if none."""
        cdef Py_ssize_t sent = self._send_all(buf, 0, True)
        if sent < 0:
            if self.err != EAGAIN:
                raise_errno(self.err)
            return None
        return sent

    def makefile(self, mode="rb", buffering=0):
        """Return a binary stream over the socket: the socket itself (as MicroPython), so closing
        the file closes the socket.  Only 'rb', 'wb' and 'rwb' (any order) are supported."""
        if not isinstance(mode, str) or "b" not in mode or set(mode) - set("rwb"):
            raise ValueError(f"makefile() supports binary modes only ('rb', 'wb', 'rwb'), "
                             f"got {mode!r}")
        return self


__all__ = ["socket", "SockAddr", "getaddrinfo", "inet_ntop", "inet_pton", "error"] + \
    list(_const_names)
