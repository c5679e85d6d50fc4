"""The Zerynth face of Kiln's socket core: ``networking.socket``.

Differences from CPython's ``socket`` that Zerynth programs rely on:

- ``settimeout`` takes **integer milliseconds** (0 = non-blocking, None = blocking).
- ``recv(bufsize)`` / ``recv_into`` on a stream socket **wait until bufsize bytes arrived**, the
  peer closed (a shorter result; empty at EOF) or an error; results are **bytearray**.  On a
  datagram socket they return one datagram.  A non-blocking socket returns what is there now.
- A timeout raises ``TimeoutError`` (OSError, errno ETIMEDOUT).  The bytes that arrived before it
  are **not lost**: they stay in the socket and the next ``recv``/``recv_into`` returns them first.
  (Zerynth itself drops them.)
- ``send``/``sendall``/``sendto`` accept str (sent as UTF-8) besides bytes-like objects.
- ``bind`` takes a port number (bound on all addresses) or an address; ``listen(maxlog=2)``.
"""
from kiln.net.core cimport SocketCore
from kiln.net.errors cimport raise_address
from kiln.net.addr cimport wildcard_address, parse_port
from kiln.net.libc cimport (sockaddr, sockaddr_storage, socklen_t, bind, errno, EINVAL,
                            SO_REUSEADDR, SOL_SOCKET)
from kiln.net.errors cimport raise_errno, raise_errno_msg

from kiln.net.const import *
from kiln.net.const import __all__ as _const_names
from kiln.net.addr import SockAddr, getaddrinfo, inet_ntop, inet_pton

IOError = OSError
error = OSError
timeout = TimeoutError


cdef class socket(SocketCore):
    """socket(family=AF_INET, type=SOCK_STREAM, proto=IPPROTO_TCP, fileno=None)

    A BSD socket with Zerynth semantics.  Raises IOError (OSError) when creation fails.
    ``proto`` defaults to IPPROTO_TCP, which (being the default) means "the type's protocol":
    ``socket(type=SOCK_DGRAM)`` is a UDP socket.
    """

    def __init__(self, int family=AF_INET, int type=SOCK_STREAM, int proto=IPPROTO_TCP,
                 fileno=None):
        if self.fd >= 0:
            raise RuntimeError("socket.__init__() called twice")
        self._open(family, type, proto, fileno)

    def settimeout(self, timeout):
        """Set the timeout of blocking operations in integer milliseconds.

        A positive value makes operations raise TimeoutError after that long; 0 makes the socket
        non-blocking (BlockingIOError when an operation would block); None makes it blocking.
        """
        if timeout is None:
            self._set_timeout_ns(-1)
            return
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
            raise TypeError(f"timeout must be a number of milliseconds or None, "
                            f"not {type(timeout).__name__}")
        if timeout < 0:
            raise ValueError(f"timeout must be >= 0 milliseconds or None, got {timeout}")
        if timeout > 2**53:
            raise ValueError(f"timeout of {timeout} ms is too large")
        self._set_timeout_ns(<long long>(timeout * 1000000))

    def gettimeout(self):
        """The timeout in milliseconds (int), 0 if non-blocking, None if blocking."""
        if self.timeout_ns < 0:
            return None
        ms = self.timeout_ns / 1000000
        return int(ms) if ms == int(ms) else ms

    def setblocking(self, flag):
        """``setblocking(True)`` is ``settimeout(None)``; ``setblocking(False)`` is
        ``settimeout(0)``."""
        self._set_timeout_ns(-1 if flag else 0)

    def bind(self, address):
        """Bind to ``address``, or to every local address at ``address`` when it is a port."""
        cdef sockaddr_storage ss
        cdef socklen_t sslen
        if isinstance(address, int) and not isinstance(address, bool):
            self._check()
            wildcard_address(self.sock_family, parse_port(address), &ss, &sslen)
            if bind(self.fd, <sockaddr*>&ss, sslen) < 0:
                raise_errno_msg(errno, f"bind(port={address})")
            return
        self._bind(address)

    def listen(self, int maxlog=2):
        """Accept connections, queueing at most ``maxlog`` not yet accepted ones."""
        self._listen(maxlog)

    def recv(self, Py_ssize_t bufsize, int flags=0):
        """Receive ``bufsize`` bytes as a bytearray, blocking until all arrived (stream), one
        datagram arrived (datagram), the peer closed (shorter result) or an error.  A non-blocking
        socket returns what is available (BlockingIOError if nothing).  TimeoutError keeps the
        bytes received so far for the next call."""
        result = self._recv_object(bufsize, flags, True, True)
        if result is None:
            raise_errno(self.err)
        return result

    def recv_into(self, buffer, Py_ssize_t bufsize=-1, int flags=0):
        """Like ``recv`` but into the writable ``buffer`` (``bufsize`` -1 = ``len(buffer)``);
        returns the number of bytes received."""
        cdef Py_ssize_t got = self._recv_into(buffer, bufsize, flags, True)
        if got < 0:
            raise_errno(self.err)
        return got

    def recvfrom(self, Py_ssize_t bufsize, int flags=0):
        """Receive one datagram of at most ``bufsize`` bytes; return ``(bytearray, address)``."""
        result = self._recvfrom(bufsize, flags, True)
        if result is None:
            raise_errno(self.err)
        return result


__all__ = ["socket", "SockAddr", "getaddrinfo", "inet_ntop", "inet_pton", "IOError", "error",
           "timeout"] + list(_const_names)
