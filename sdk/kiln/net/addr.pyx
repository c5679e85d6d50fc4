"""Socket addresses: Python forms <-> ``struct sockaddr``, plus name and text conversions.

Python forms (CPython's, which Zerynth and MicroPython share):

- AF_INET: ``(ip, port)``; ``ip`` is dotted-quad text, ``""`` (any) or ``"<broadcast>"``.
- AF_INET6: ``(ip, port)``, ``(ip, port, flowinfo)`` or ``(ip, port, flowinfo, scope_id)``; ``ip``
  may end in ``%ifname`` or ``%index``.  Returned addresses are always 4-tuples.
- AF_UNIX: a ``str`` or bytes-like path; a leading NUL selects Linux's abstract namespace.
- ``SockAddr``: the opaque address ``getaddrinfo`` returns (MicroPython's native form); it
  compares equal to, indexes and unpacks like its tuple form.

Host names are never resolved implicitly (MicroPython's rule): resolve them with ``getaddrinfo``
(or ``eth.resolve``) first.
"""
from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.buffer cimport PyObject_CheckBuffer, PyBuffer_Release
from libc.stdint cimport uint32_t

from kiln.net.libc cimport *
from kiln.net.errors cimport raise_address, raise_gai
from kiln.net.args cimport int_or_fail
from kiln.net.buffers cimport data_view

import os

cdef sockaddr_un _un_layout
cdef size_t SUN_PATH_OFFSET = <size_t>(<char*>_un_layout.sun_path - <char*>&_un_layout)
cdef size_t SUN_PATH_MAX = sizeof(_un_layout.sun_path)
cdef enum:
    IF_NAMESIZE = 16        # <net/if.h>: interface names are shorter than this


cdef int parse_port(object port, str func, str name) except -1:
    if not isinstance(port, int):
        raise TypeError(f"{func}() argument '{name}': port must be an int, "
                        f"not {port.__class__.__name__}")
    if not (0 <= port <= 65535):
        raise_address(EINVAL, f"{func}() argument '{name}': port must be in 0-65535, got {port}")
    return <int>port


cdef uint32_t _parse_scope(str scope, object host, str func) except? 0:
    """The interface index of an IPv6 scope (``%eth0`` or ``%2``); AddressError if unknown."""
    cdef unsigned int index
    if not scope:
        raise_address(EINVAL, f"{func}() argument 'address': empty scope after '%' in IPv6 "
                              f"address {host!r}")
    if scope.isascii() and scope.isdigit():
        value = int(scope)
        if value > 0xffffffff:
            raise_address(EINVAL, f"{func}() argument 'address': scope id must be in "
                                  f"0-4294967295, got {scope} in {host!r}")
        return <uint32_t>value
    index = 0
    if scope.isascii() and scope.isprintable() and len(scope) < IF_NAMESIZE:
        index = if_nametoindex(scope.encode("ascii"))
    if index == 0:
        raise_address(EINVAL, f"{func}() argument 'address': unknown interface {scope!r} in "
                              f"IPv6 address {host!r}")
    return index


cdef int _parse_ip(int family, object host, void *dst, uint32_t *scope_id, str func) except -1:
    cdef bytes raw
    if isinstance(host, str):
        text = <str>host
    elif isinstance(host, (bytes, bytearray)):
        text = bytes(host).decode("ascii", "replace")
    else:
        raise TypeError(f"{func}() argument 'address': the IP address must be a str, "
                        f"not {host.__class__.__name__}")
    if "\0" in text:
        raise_address(EINVAL, f"{func}() argument 'address': IP address {host!r} contains a "
                              f"NUL character")
    if family == AF_INET:
        if text == "":
            (<in_addr*>dst).s_addr = htonl(INADDR_ANY)
            return 0
        if text == "<broadcast>":
            (<in_addr*>dst).s_addr = htonl(INADDR_BROADCAST)
            return 0
    else:
        if text == "":
            memset(dst, 0, 16)
            return 0
        if "%" in text:
            text, _, scope = text.partition("%")
            scope_id[0] = _parse_scope(scope, host, func)
    raw = text.encode("ascii", "replace")
    if c_inet_pton(family, raw, dst) != 1:
        kind = "IPv4" if family == AF_INET else "IPv6"
        raise_address(EINVAL, f"{func}() argument 'address': invalid {kind} address {host!r} "
                              "(host names must be resolved first, e.g. with getaddrinfo)")
    return 0


cdef int _parse_unix(object path, sockaddr_storage *out, socklen_t *outlen, str func) except -1:
    cdef sockaddr_un *un = <sockaddr_un*>out
    cdef Py_buffer view
    if isinstance(path, (str, os.PathLike)):
        try:
            path = os.fsencode(path)
        except (UnicodeError, TypeError) as exc:
            raise TypeError(f"{func}() argument 'address': AF_UNIX path {path!r} cannot be "
                            f"encoded as a file name ({exc})") from None
    elif not PyObject_CheckBuffer(path):
        raise TypeError(f"{func}() argument 'address': an AF_UNIX address must be a str or "
                        f"bytes path, not {type(path).__name__}")
    data_view(path, &view, func, "address")
    try:
        abstract = view.len > 0 and (<char*>view.buf)[0] == 0
        if <size_t>view.len > SUN_PATH_MAX - (0 if abstract else 1):
            raise_address(EINVAL, f"{func}() argument 'address': AF_UNIX path too long "
                                  f"({view.len} bytes, at most {SUN_PATH_MAX - 1})")
        memset(un, 0, sizeof(sockaddr_un))
        un.sun_family = AF_UNIX
        memcpy(un.sun_path, view.buf, view.len)
        # An empty path is just the family (connect: EINVAL; bind: Linux's autobind), not an
        # abstract name; a file-system path gets its terminating NUL.
        outlen[0] = <socklen_t>(SUN_PATH_OFFSET + view.len +
                                (0 if abstract or view.len == 0 else 1))
    finally:
        PyBuffer_Release(&view)
    return 0


cdef int parse_address(object address, int family, sockaddr_storage *out,
                       socklen_t *outlen, str func) except -1:
    cdef sockaddr_in *sin
    cdef sockaddr_in6 *sin6
    cdef SockAddr sa
    cdef uint32_t scope_id = 0
    cdef Py_ssize_t n
    if type(address) is SockAddr:
        sa = <SockAddr>address
        if sa.storage.ss_family != family:
            raise_address(EAFNOSUPPORT, f"{func}() argument 'address': {sa!r} does not match "
                                        f"the socket's family ({family})")
        memcpy(out, &sa.storage, sa.length)
        outlen[0] = sa.length
        return 0
    if family == AF_UNIX:
        return _parse_unix(address, out, outlen, func)
    if family != AF_INET and family != AF_INET6:
        raise_address(EAFNOSUPPORT, f"{func}() argument 'address': unsupported address family "
                                    f"{family}")
    name = "AF_INET" if family == AF_INET else "AF_INET6"
    form = "(ip, port)" if family == AF_INET else "(ip, port[, flowinfo[, scope_id]])"
    if not isinstance(address, tuple):
        raise TypeError(f"{func}() argument 'address': an {name} address must be a tuple "
                        f"{form}, not {type(address).__name__}")
    n = len(<tuple>address)
    if (family == AF_INET and n != 2) or n < 2 or n > 4:
        raise TypeError(f"{func}() argument 'address': an {name} address must be a tuple "
                        f"{form}, got {n} items")
    if family == AF_INET:
        sin = <sockaddr_in*>out
        memset(sin, 0, sizeof(sockaddr_in))
        sin.sin_family = AF_INET
        sin.sin_port = htons(<uint16_t>parse_port((<tuple>address)[1], func, "address"))
        _parse_ip(AF_INET, (<tuple>address)[0], &sin.sin_addr, &scope_id, func)
        outlen[0] = sizeof(sockaddr_in)
        return 0
    sin6 = <sockaddr_in6*>out
    memset(sin6, 0, sizeof(sockaddr_in6))
    sin6.sin6_family = AF_INET6
    sin6.sin6_port = htons(<uint16_t>parse_port((<tuple>address)[1], func, "address"))
    _parse_ip(AF_INET6, (<tuple>address)[0], &sin6.sin6_addr, &scope_id, func)
    if n >= 3:
        flowinfo = (<tuple>address)[2]
        if not isinstance(flowinfo, int):
            raise TypeError(f"{func}() argument 'address': flowinfo must be an int, "
                            f"not {type(flowinfo).__name__}")
        if not (0 <= flowinfo <= 0xfffff):
            raise_address(EINVAL, f"{func}() argument 'address': flowinfo must be in "
                                  f"0-1048575, got {flowinfo}")
        sin6.sin6_flowinfo = htonl(<uint32_t>flowinfo)
    if n == 4:
        scope = (<tuple>address)[3]
        if not isinstance(scope, int):
            raise TypeError(f"{func}() argument 'address': scope_id must be an int, "
                            f"not {type(scope).__name__}")
        if not (0 <= scope <= 0xffffffff):
            raise_address(EINVAL, f"{func}() argument 'address': scope_id must be in "
                                  f"0-4294967295, got {scope}")
        scope_id = <uint32_t>scope
    sin6.sin6_scope_id = scope_id
    outlen[0] = sizeof(sockaddr_in6)
    return 0


cdef int wildcard_address(int family, int port, sockaddr_storage *out,
                          socklen_t *outlen) except -1:
    if family == AF_INET:
        return parse_address(("", port), family, out, outlen, "bind")
    if family == AF_INET6:
        return parse_address(("::", port), family, out, outlen, "bind")
    raise_address(EAFNOSUPPORT, "bind() argument 'address': a port needs an AF_INET or "
                                "AF_INET6 socket; give an AF_UNIX socket a path")


cdef object format_address(const sockaddr *sa, socklen_t length):
    cdef char text[INET6_ADDRSTRLEN]
    cdef const sockaddr_in *sin
    cdef const sockaddr_in6 *sin6
    cdef const sockaddr_un *un
    cdef size_t n
    if length == 0:
        return None
    if sa.sa_family == AF_INET:
        sin = <const sockaddr_in*>sa
        c_inet_ntop(AF_INET, &sin.sin_addr, text, sizeof(text))
        return ((<bytes>text).decode("ascii"), ntohs(sin.sin_port))
    if sa.sa_family == AF_INET6:
        sin6 = <const sockaddr_in6*>sa
        c_inet_ntop(AF_INET6, &sin6.sin6_addr, text, sizeof(text))
        return ((<bytes>text).decode("ascii"), ntohs(sin6.sin6_port),
                ntohl(sin6.sin6_flowinfo), sin6.sin6_scope_id)
    if sa.sa_family == AF_UNIX:
        un = <const sockaddr_un*>sa
        if length <= SUN_PATH_OFFSET:
            return ""
        n = length - SUN_PATH_OFFSET
        if un.sun_path[0] == 0:
            return PyBytes_FromStringAndSize(un.sun_path, n)        # abstract: bytes, as CPython
        n = strlen(un.sun_path) if strlen(un.sun_path) < n else n
        return os.fsdecode(PyBytes_FromStringAndSize(un.sun_path, n))
    return (sa.sa_family, PyBytes_FromStringAndSize(<const char*>sa, length))


cdef class SockAddr:
    """An opaque socket address, as returned by ``getaddrinfo`` (MicroPython's native form).

    Pass it to ``connect``/``bind``/``sendto`` of a socket of the same family.  It also behaves
    like its tuple form: ``ip, port = addr[:2]``, ``addr == ("127.0.0.1", 80)``; it equals (and
    hashes like) exactly that tuple: an IPv6 address is a 4-tuple.
    """

    @staticmethod
    cdef SockAddr _from(const sockaddr *sa, socklen_t length):
        cdef SockAddr self = SockAddr.__new__(SockAddr)
        if length > sizeof(sockaddr_storage):
            length = sizeof(sockaddr_storage)
        memcpy(&self.storage, sa, length)
        self.length = length
        return self

    def __init__(self, *args):
        raise TypeError("SockAddr objects come from getaddrinfo(); "
                        "sockets also accept (ip, port) tuples")

    @property
    def family(self):
        """The address family (AF_INET, AF_INET6)."""
        return self.storage.ss_family

    cdef tuple _as_tuple(self):
        if self._tuple is None:
            self._tuple = format_address(<sockaddr*>&self.storage, self.length)
        return self._tuple

    def __len__(self):
        return len(self._as_tuple())

    def __getitem__(self, index):
        return self._as_tuple()[index]

    def __iter__(self):
        return iter(self._as_tuple())

    def __eq__(self, other):
        # Equal exactly to its tuple form (never to a prefix of it), so equal objects hash equal.
        if isinstance(other, SockAddr):
            return self._as_tuple() == (<SockAddr>other)._as_tuple()
        if isinstance(other, tuple):
            return self._as_tuple() == other
        return NotImplemented

    def __hash__(self):
        return hash(self._as_tuple())

    def __repr__(self):
        fam = {AF_INET: "AF_INET", AF_INET6: "AF_INET6"}.get(self.storage.ss_family,
                                                              str(self.storage.ss_family))
        return f"SockAddr({fam}, {self._as_tuple()!r})"

    def __reduce__(self):
        return (tuple, (self._as_tuple(),))


def getaddrinfo(host, port, af=0, type=0, proto=0, flags=0):
    """Resolve ``host``/``port`` to a list of ``(family, type, proto, canonname, sockaddr)``.

    Blocks (without the GIL) while the resolver works.  ``host`` is a str/bytes name or numeric
    address, or None; ``port`` an int, a service name, or None.  ``sockaddr`` is a ``SockAddr``.
    Raises ``ResolveError`` (an OSError with the negative EAI_* code in ``args[0]``) on failure.
    """
    cdef addrinfo hints
    cdef addrinfo *res = NULL
    cdef addrinfo *ai
    cdef const char *c_host = NULL
    cdef const char *c_port = NULL
    cdef int rc
    cdef bytes b_host, b_port
    memset(&hints, 0, sizeof(hints))
    hints.ai_family = int_or_fail(af, "getaddrinfo", "af")
    hints.ai_socktype = int_or_fail(type, "getaddrinfo", "type")
    hints.ai_protocol = int_or_fail(proto, "getaddrinfo", "proto")
    hints.ai_flags = int_or_fail(flags, "getaddrinfo", "flags")
    if host is not None:
        if isinstance(host, str):
            try:
                b_host = (<str>host).encode("ascii")
            except UnicodeEncodeError:
                try:
                    b_host = (<str>host).encode("idna")
                except UnicodeError as exc:
                    raise_address(EINVAL, f"getaddrinfo() argument 'host' must be an ASCII or "
                                          f"IDNA host name, got {host!r} ({exc})")
        elif isinstance(host, (bytes, bytearray)):
            b_host = bytes(host)
        else:
            raise TypeError(f"getaddrinfo() argument 'host' must be a str, bytes or None, "
                            f"not {host.__class__.__name__}")
        if b"\0" in b_host:
            raise_address(EINVAL, f"getaddrinfo() argument 'host' contains a NUL character: "
                                  f"{host!r}")
        c_host = b_host
    if port is not None:
        if isinstance(port, int):
            b_port = str(parse_port(port, "getaddrinfo", "port")).encode()
        elif isinstance(port, (str, bytes)):
            if isinstance(port, str):
                if not (<str>port).isascii():
                    raise_address(EINVAL, f"getaddrinfo() argument 'port' must be an int or an "
                                          f"ASCII service name, got {port!r}")
                b_port = (<str>port).encode("ascii")
            else:
                b_port = port
            if b"\0" in b_port:
                raise_address(EINVAL, f"getaddrinfo() argument 'port' contains a NUL character: "
                                      f"{port!r}")
        else:
            raise TypeError(f"getaddrinfo() argument 'port' must be an int, str, bytes or None, "
                            f"not {port.__class__.__name__}")
        c_port = b_port
    with nogil:
        rc = c_getaddrinfo(c_host, c_port, &hints, &res)
    if rc != 0:
        raise_gai(rc)
    result = []
    try:
        ai = res
        while ai != NULL:
            if ai.ai_family == AF_INET or ai.ai_family == AF_INET6:
                canon = ai.ai_canonname.decode("ascii", "replace") if ai.ai_canonname else ""
                result.append((ai.ai_family, ai.ai_socktype, ai.ai_protocol, canon,
                               SockAddr._from(ai.ai_addr, ai.ai_addrlen)))
            ai = ai.ai_next
    finally:
        freeaddrinfo(res)
    return result


cdef int _ip_family(object af, str func) except -1:
    """The address size (4 or 16) of ``af``, which must be AF_INET or AF_INET6."""
    cdef int c_af = int_or_fail(af, func, "af")
    if c_af == AF_INET:
        return 4
    if c_af == AF_INET6:
        return 16
    raise_address(EAFNOSUPPORT, f"{func}() argument 'af' must be AF_INET ({AF_INET}) or "
                                f"AF_INET6 ({AF_INET6}), got {c_af}")


def inet_pton(af, txt_addr):
    """Convert the text address ``txt_addr`` of family ``af`` to its packed bytes (4 or 16).

    Raises AddressError (OSError + ValueError) for unparseable text or an unknown family.
    """
    cdef unsigned char buf[16]
    cdef int size = _ip_family(af, "inet_pton")
    cdef int c_af = AF_INET if size == 4 else AF_INET6
    if not isinstance(txt_addr, (str, bytes)):
        raise TypeError(f"inet_pton() argument 'txt_addr' must be a str, "
                        f"not {type(txt_addr).__name__}")
    raw = txt_addr.encode("ascii", "replace") if isinstance(txt_addr, str) else txt_addr
    if b"\0" in raw or c_inet_pton(c_af, raw, buf) != 1:
        raise_address(EINVAL, f"inet_pton() argument 'txt_addr': illegal IP address string "
                              f"{txt_addr!r}")
    return PyBytes_FromStringAndSize(<char*>buf, size)


def inet_ntop(af, bin_addr):
    """Convert the packed address ``bin_addr`` (4 or 16 bytes) of family ``af`` to text."""
    cdef char text[INET6_ADDRSTRLEN]
    cdef Py_buffer view
    cdef int size = _ip_family(af, "inet_ntop")
    cdef int c_af = AF_INET if size == 4 else AF_INET6
    if isinstance(bin_addr, str):
        raise TypeError("inet_ntop() argument 'bin_addr' must be a bytes-like object, not str")
    data_view(bin_addr, &view, "inet_ntop", "bin_addr")
    try:
        if view.len != size:
            raise ValueError(f"inet_ntop() argument 'bin_addr' must be {size} bytes for "
                             f"{'AF_INET' if size == 4 else 'AF_INET6'}, got {view.len}")
        c_inet_ntop(c_af, view.buf, text, sizeof(text))
    finally:
        PyBuffer_Release(&view)
    return (<bytes>text).decode("ascii")
