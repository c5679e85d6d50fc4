"""The Zerynth face of Kiln's socket core: ``networking.socket``.

Differences from CPython's ``socket`` that Zerynth programs rely on:

- ``settimeout`` takes **integer milliseconds** (0 = non-blocking, None = blocking); a float is
  kept to the nanosecond and ``gettimeout`` returns what was set.
- ``recv(bufsize)`` / ``recv_into`` on a stream socket **wait until bufsize bytes arrived**, the
  peer closed (a shorter result; empty at EOF) or an error; results are **bytearray**.  On a
  datagram socket they return one datagram.  A non-blocking socket returns what is there now.
- A timeout raises ``TimeoutError`` (OSError, errno ETIMEDOUT).  The bytes that arrived before it
  (or before an error, or an exception from a signal handler) are **not lost**: they stay in the
  socket and the next read returns them first.  (Zerynth itself drops them.)
- ``send``/``sendall``/``sendto`` accept str (sent as UTF-8) besides bytes-like objects.
- ``bind`` takes a port number (bound on all addresses) or an address; ``listen(maxlog=2)``.
- ``socket(..., ifc=)`` binds the socket to a network interface (Linux's SO_BINDTODEVICE): the
  interface ``eth.configure()``/``wifi.configure()`` returned, or an interface name.
"""
from kiln.net.core cimport SocketCore
from kiln.net.addr cimport wildcard_address, parse_port
from kiln.net.args cimport (int_or_fail, size_or_fail, timeout_arg, bool_arg,
                            clamped_int_arg)
from kiln.net.libc cimport (sockaddr, sockaddr_storage, socklen_t, bind, errno, setsockopt,
                            SOL_SOCKET, SO_BINDTODEVICE)
from kiln.net.errors cimport raise_errno, raise_errno_msg
from libc.limits cimport INT_MAX

from kiln.net.const import *
from kiln.net.const import __all__ as _const_names
from kiln.net.addr import SockAddr, getaddrinfo, inet_ntop, inet_pton

IOError = OSError
error = OSError
timeout = TimeoutError

cdef enum:
    NS_PER_MS = 1000000
    IFNAMSIZ = 16


cdef bytes interface_name(object ifc):
    """The interface name ``ifc`` designates (None: no interface), checked; TypeError or
    ValueError naming ``ifc`` otherwise."""
    if ifc is None:
        return None
    if isinstance(ifc, int) and not isinstance(ifc, bool):
        if ifc == -1:
            return None
        raise ValueError(f"socket() argument 'ifc' must be an interface (what eth.configure() "
                         f"or wifi.configure() returns), an interface name or -1, got {ifc}")
    name = ifc if isinstance(ifc, str) else getattr(ifc, "ifname", None)
    if not isinstance(name, str):
        raise TypeError(f"socket() argument 'ifc' must be an interface (what eth.configure() "
                        f"or wifi.configure() returns), an interface name or -1, not "
                        f"{type(ifc).__name__}")
    try:
        raw = name.encode("ascii")
    except UnicodeEncodeError:
        raw = b""
    if not 0 < len(raw) < IFNAMSIZ or b"\0" in raw or b"/" in raw or b" " in raw:
        raise ValueError(f"socket() argument 'ifc': {name!r} is not an interface name (1-15 "
                         f"ASCII characters, no '/', space or NUL)")
    return raw


cdef class socket(SocketCore):
    """socket(family=AF_INET, type=SOCK_STREAM, proto=IPPROTO_TCP, fileno=None, ifc=None)

    A BSD socket with Zerynth semantics.  Raises IOError (OSError) when creation fails.
    ``proto`` defaults to IPPROTO_TCP, which (being the default) means "the type's protocol":
    ``socket(type=SOCK_DGRAM)`` is a UDP socket.  ``ifc`` binds it to one network interface:
    the interface ``eth.configure()`` or ``wifi.configure()`` returned, or an interface name
    (``None`` or ``-1``: any interface, routed by destination).  On Linux that is
    SO_BINDTODEVICE: the socket sends and receives only through that interface (OSError ENODEV
    if it does not exist).
    """

    def __init__(self, family=AF_INET, type=SOCK_STREAM, proto=IPPROTO_TCP, fileno=None,
                 ifc=None):
        cdef bytes name
        cdef int err
        if self.fd >= 0:
            raise RuntimeError("socket.__init__() called twice")
        c_family = int_or_fail(family, "socket", "family")
        c_type = int_or_fail(type, "socket", "type")
        c_proto = int_or_fail(proto, "socket", "proto")
        name = interface_name(ifc)
        self._open(c_family, c_type, c_proto, fileno)
        if name is None:
            return
        if setsockopt(self.fd, SOL_SOCKET, SO_BINDTODEVICE, <const char*>name,
                      <socklen_t>len(name)) < 0:
            err = errno
            self.close()
            raise_errno_msg(err, f"socket() argument 'ifc': cannot bind to interface "
                                 f"{name.decode()!r}")

    def settimeout(self, timeout):
        """Set the timeout of blocking operations in milliseconds (an int; a float is kept to the
        nanosecond, and a positive value never rounds down to non-blocking).

        A positive value makes operations raise TimeoutError after that long; 0 makes the socket
        non-blocking (BlockingIOError when an operation would block); None makes it blocking.
        """
        self._set_timeout_ns(timeout_arg(timeout, "settimeout", "timeout", NS_PER_MS,
                                         "milliseconds"))

    def gettimeout(self):
        """The timeout in milliseconds as set (an int when whole, else a float), 0 if
        non-blocking, None if blocking."""
        if self.timeout_ns < 0:
            return None
        if self.timeout_ns % NS_PER_MS == 0:
            return self.timeout_ns // NS_PER_MS
        return self.timeout_ns / 1e6

    def setblocking(self, flag):
        """``setblocking(True)`` is ``settimeout(None)``; ``setblocking(False)`` is
        ``settimeout(0)``."""
        self._set_timeout_ns(-1 if bool_arg(flag, "setblocking", "flag") else 0)

    def bind(self, address):
        """Bind to ``address``, or to every local address at ``address`` when it is a port."""
        cdef sockaddr_storage ss
        cdef socklen_t sslen
        if isinstance(address, int) and not isinstance(address, bool):
            port = parse_port(address, "bind", "address")
            self._check()
            wildcard_address(self.sock_family, port, &ss, &sslen)
            if bind(self.fd, <sockaddr*>&ss, sslen) < 0:
                raise_errno_msg(errno, f"bind(port={address})")
            return
        self._bind(address, "bind")

    def listen(self, maxlog=2):
        """Accept connections, queueing at most ``maxlog`` not yet accepted ones (a negative
        value is 0, a huge one the system's limit)."""
        self._listen(clamped_int_arg(maxlog, "listen", "maxlog", 0, INT_MAX))

    def recv(self, bufsize, flags=0):
        """Receive ``bufsize`` bytes as a bytearray, blocking until all arrived (stream), one
        datagram arrived (datagram), the peer closed (shorter result) or an error.  A non-blocking
        socket returns what is available (BlockingIOError if nothing).  Bytes received before a
        timeout, an error or an exception from a signal handler are returned by the next read."""
        result = self._recv_object(size_or_fail(bufsize, "recv", "bufsize"),
                                   int_or_fail(flags, "recv", "flags"), True, True)
        if result is None:
            raise_errno(self.err)
        return result

    def recv_into(self, buffer, bufsize=-1, flags=0):
        """Like ``recv`` but into the writable ``buffer`` (``bufsize`` -1 = ``len(buffer)``);
        returns the number of bytes received."""
        cdef Py_ssize_t got = self._recv_into(buffer, bufsize,
                                              int_or_fail(flags, "recv_into", "flags"), True,
                                              "recv_into", "buffer", "bufsize", False)
        if got < 0:
            raise_errno(self.err)
        return got

    def recvfrom(self, bufsize, flags=0):
        """Receive one datagram of at most ``bufsize`` bytes; return ``(bytearray, address)``.
        On a stream socket: what is there (as ``recv`` without waiting for ``bufsize``), and
        None as the address."""
        result = self._recvfrom(size_or_fail(bufsize, "recvfrom", "bufsize"),
                                int_or_fail(flags, "recvfrom", "flags"), True)
        if result is None:
            raise_errno(self.err)
        return result


__all__ = ["socket", "SockAddr", "getaddrinfo", "inet_ntop", "inet_pton", "IOError", "error",
           "timeout"] + list(_const_names)
