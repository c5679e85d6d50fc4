"""``SocketCore``: the socket object both faces build on, written directly over Linux syscalls.
(On Linux EWOULDBLOCK == EAGAIN, so only EAGAIN is tested.)

Modes (one field, ``timeout_ns``): blocking (-1, the default), non-blocking (0) and timeout (>0).
In blocking mode the fd is blocking and each syscall runs with the GIL released.  In the other
modes the fd is ``O_NONBLOCK``: the syscall is tried first (it cannot block, so the GIL is kept
for small transfers), and only on EAGAIN does a timeout socket wait in ``wait_ready`` (``poll``
without the GIL) until the operation's deadline.  EINTR runs the Python signal handlers and
retries (PEP 475).  Failures become exceptions through ``kiln.net.errors``.

Data are never lost to a timeout: bytes a filling read (Zerynth ``recv``, MicroPython ``read``)
received before its deadline passed are kept in ``pending`` and returned first by the next read.
"""
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING
from cpython.bytearray cimport (PyByteArray_FromStringAndSize, PyByteArray_AS_STRING,
                                PyByteArray_Resize)
from cpython.buffer cimport (PyObject_CheckBuffer, PyObject_GetBuffer, PyBuffer_Release,
                             PyBUF_SIMPLE, PyBUF_WRITABLE, PyBuffer_FillInfo)
from cpython.exc cimport PyErr_CheckSignals
from cpython.unicode cimport PyUnicode_AsUTF8AndSize
from libc.stdint cimport int64_t

from kiln.net.libc cimport *
from kiln.net.errors cimport raise_errno, raise_errno_msg
from kiln.net.wait cimport wait_ready, deadline_after
from kiln.net.addr cimport parse_address, format_address

cdef enum:
    # Reads up to this size go through a stack buffer and are copied into an exact-size result;
    # larger ones are received straight into the result object.
    STACK_RECV = 8192
    # Sends larger than this release the GIL even on a non-blocking fd (the copy into the kernel
    # takes a while); smaller non-blocking sends keep it.
    NOGIL_SEND = 65536


# ---- the syscalls, as operations for SocketCore._call ---------------------------------------
# Each takes the fd and a pointer to its arguments, returns the syscall's result (-1 + errno on
# failure), and runs without the GIL.

cdef struct IoArgs:
    char *buf
    size_t n
    int flags
    sockaddr *addr          # recvfrom/accept: filled in; sendto: the destination
    socklen_t addrlen


cdef Py_ssize_t _op_recv(int fd, void *args) noexcept nogil:
    cdef IoArgs *a = <IoArgs*>args
    return recv(fd, a.buf, a.n, a.flags)


cdef Py_ssize_t _op_recvfrom(int fd, void *args) noexcept nogil:
    cdef IoArgs *a = <IoArgs*>args
    a.addrlen = sizeof(sockaddr_storage)
    a.addr.sa_family = AF_UNSPEC
    return recvfrom(fd, a.buf, a.n, a.flags, a.addr, &a.addrlen)


cdef Py_ssize_t _op_send(int fd, void *args) noexcept nogil:
    cdef IoArgs *a = <IoArgs*>args
    return send(fd, a.buf, a.n, a.flags | MSG_NOSIGNAL)


cdef Py_ssize_t _op_sendto(int fd, void *args) noexcept nogil:
    cdef IoArgs *a = <IoArgs*>args
    return sendto(fd, a.buf, a.n, a.flags | MSG_NOSIGNAL, a.addr, a.addrlen)


cdef Py_ssize_t _op_accept(int fd, void *args) noexcept nogil:
    cdef IoArgs *a = <IoArgs*>args
    a.addrlen = sizeof(sockaddr_storage)
    return accept4(fd, a.addr, &a.addrlen, SOCK_CLOEXEC)


cdef inline int _fill_view(object data, Py_buffer *view) except -1:
    """Get a read-only view of ``data``: any C-contiguous buffer, or a str (as UTF-8)."""
    cdef const char *utf8
    cdef Py_ssize_t size
    if isinstance(data, str):
        utf8 = PyUnicode_AsUTF8AndSize(data, &size)   # cached in the str: no copy
        PyBuffer_FillInfo(view, data, <void*>utf8, size, 1, PyBUF_SIMPLE)
        return 0
    if not PyObject_CheckBuffer(data):
        raise TypeError(f"data must be bytes, bytearray, memoryview or str, "
                        f"not {type(data).__name__}")
    PyObject_GetBuffer(data, view, PyBUF_SIMPLE)
    return 0


cdef inline void _release_view(Py_buffer *view):
    PyBuffer_Release(view)


cdef class SocketCore:
    """A BSD socket over a Linux file descriptor (base class of both faces; not used directly)."""

    def __cinit__(self, *args, **kwargs):
        self.fd = -1
        self.timeout_ns = -1

    def __dealloc__(self):
        if self.fd >= 0:
            close(self.fd)
            self.fd = -1

    # ---- lifetime ------------------------------------------------------------------------

    cdef int _open(self, int family, int stype, int proto, object fileno) except -1:
        cdef int fd, value
        cdef socklen_t size = sizeof(int)
        if fileno is not None:
            if not isinstance(fileno, int):
                raise TypeError(f"fileno must be an int, not {type(fileno).__name__}")
            if fileno < 0:
                raise ValueError(f"fileno must be a non-negative fd, got {fileno}")
            fd = fileno
            if getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &value, &size) < 0:
                raise_errno(errno)
            family = value
            getsockopt(fd, SOL_SOCKET, SO_TYPE, &value, &size)
            stype = value
            getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &value, &size)
            proto = value
            self._adopt(fd, family, stype, proto)
            if fcntl(fd, F_GETFL) & O_NONBLOCK:
                self.timeout_ns = 0
            return 0
        if proto == IPPROTO_TCP and not ((stype & 0xf) == SOCK_STREAM and
                                         (family == AF_INET or family == AF_INET6)):
            proto = 0   # the documented default (IPPROTO_TCP) means "the type's protocol"
        fd = socket(family, stype | SOCK_CLOEXEC, proto)
        if fd < 0:
            raise_errno_msg(errno, f"socket(family={family}, type={stype}, proto={proto})")
        self._adopt(fd, family, stype & ~(SOCK_NONBLOCK | SOCK_CLOEXEC), proto)
        if stype & SOCK_NONBLOCK:
            self.timeout_ns = 0
        return 0

    cdef int _adopt(self, int fd, int family, int type, int proto) except -1:
        self.fd = fd
        self.sock_family = family
        self.sock_type = type
        if proto == 0:
            if type == SOCK_STREAM and family != AF_UNIX:
                proto = IPPROTO_TCP
            elif type == SOCK_DGRAM and family != AF_UNIX:
                proto = IPPROTO_UDP
        self.sock_proto = proto
        self.timeout_ns = -1
        return 0

    cdef int _check(self) except -1:
        if self.fd < 0:
            raise_errno_msg(EBADF, "the socket is closed")
        return 0

    def fileno(self):
        """Return the socket's file descriptor (-1 once closed)."""
        return self.fd

    def close(self):
        """Close the socket; later operations raise OSError(EBADF).  Closing twice is harmless."""
        cdef int fd = self.fd
        self.fd = -1
        self.pending = None
        if fd >= 0:
            # Linux always releases the fd, even when close() reports EINTR: never retry it.
            if close(fd) < 0 and errno != EINTR and errno != ECONNRESET:
                raise_errno(errno)

    def detach(self):
        """Give up ownership of the fd without closing it; return the fd."""
        fd = self.fd
        self.fd = -1
        return fd

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    @property
    def family(self):
        """The address family (AF_INET, AF_INET6, AF_UNIX)."""
        return self.sock_family

    @property
    def type(self):
        """The socket type (SOCK_STREAM, SOCK_DGRAM)."""
        return self.sock_type

    @property
    def proto(self):
        """The protocol number (IPPROTO_TCP, IPPROTO_UDP, 0)."""
        return self.sock_proto

    def __repr__(self):
        text = f"<{type(self).__module__}.{type(self).__name__} fd={self.fd}, " \
               f"family={self.sock_family}, type={self.sock_type}, proto={self.sock_proto}"
        if self.fd >= 0:
            try:
                text += f", laddr={self.getsockname()!r}"
            except OSError:
                pass
        return text + ">"

    # ---- modes ---------------------------------------------------------------------------

    cdef int _set_timeout_ns(self, int64_t ns) except -1:
        cdef int flags
        cdef bint was_nonblocking = self.timeout_ns >= 0
        cdef bint nonblocking = ns >= 0
        self._check()
        if nonblocking != was_nonblocking:
            flags = fcntl(self.fd, F_GETFL)
            if flags < 0:
                raise_errno(errno)
            flags = (flags | O_NONBLOCK) if nonblocking else (flags & ~O_NONBLOCK)
            if fcntl(self.fd, F_SETFL, flags) < 0:
                raise_errno(errno)
        self.timeout_ns = ns
        return 0

    cdef int64_t _deadline(self) noexcept:
        return deadline_after(self.timeout_ns) if self.timeout_ns > 0 else -1

    # ---- receiving -----------------------------------------------------------------------

    cdef Py_ssize_t _call(self, sock_op op, void *args, short events, int flags,
                          int64_t deadline, bint release_gil) except -2:
        """Run ``op`` on the fd until it succeeds, per the socket's mode (CPython's sock_call).

        Returns the syscall's result (>= 0), or -1 with the errno in ``self.err`` (EAGAIN only
        for a non-blocking socket or MSG_DONTWAIT).  EINTR runs the Python signal handlers and
        retries (PEP 475; a handler's exception propagates, -2); on a timeout socket EAGAIN waits
        for ``events`` until ``deadline`` (TimeoutError, -2).  ``release_gil`` drops the GIL
        around the syscall (always when the fd is blocking).
        """
        cdef ssize_t r
        cdef int err
        cdef int fd = self.fd
        while True:
            if fd < 0:
                self.err = EBADF
                return -1
            if release_gil or self.timeout_ns < 0:
                with nogil:
                    r = op(fd, args)
                    err = errno
            else:
                r = op(fd, args)
                err = errno
            if r >= 0:
                return r
            if err == EINTR:
                PyErr_CheckSignals()  # runs handlers; raises what they raise
            elif err == EAGAIN and self.timeout_ns > 0 and not (flags & MSG_DONTWAIT):
                wait_ready(fd, events, deadline)
            else:
                self.err = err
                return -1
            fd = self.fd     # a signal handler may have closed the socket

    cdef Py_ssize_t _recv_raw(self, char *buf, Py_ssize_t n, int flags,
                              int64_t deadline) except -2:
        """One recv(2) through :meth:`_call`: >0 bytes, 0 at EOF, -1 on failure."""
        cdef IoArgs args
        args.buf, args.n, args.flags = buf, n, flags
        return self._call(_op_recv, &args, POLLIN, flags, deadline, False)

    cdef Py_ssize_t _recv_fill(self, char *buf, Py_ssize_t n, int flags, bint fill) except -2:
        """Receive into ``buf``: one recv, or (``fill``, stream sockets) until ``n`` bytes or EOF.

        Returns the count, or -1 (``self.err``) if nothing was received.  Bytes received before
        a timeout or an error are kept in ``pending`` for the next read, and the timeout/error is
        reported; a non-blocking socket returns what it got before EAGAIN.
        """
        cdef Py_ssize_t got = 0, r, take
        cdef int64_t deadline
        if self.pending is not None:
            take = min(n, len(self.pending))
            memcpy(buf, PyByteArray_AS_STRING(self.pending), take)
            if not (flags & MSG_PEEK):
                del self.pending[:take]
                if not self.pending:
                    self.pending = None
            got = take
            if not fill or got == n or (flags & MSG_PEEK):
                return got
        if n == 0:
            return 0
        if self.sock_type != SOCK_STREAM or (flags & MSG_PEEK):
            fill = False
        deadline = self._deadline()
        try:
            while True:
                r = self._recv_raw(buf + got, n - got, flags, deadline)
                if r == 0:
                    return got
                if r < 0:
                    if got == 0 or self.err == EAGAIN:
                        return got if got else -1
                    self._keep_pending(buf, got)
                    return -1
                got += r
                if not fill or got == n:
                    return got
                # A signal that arrives after some bytes makes recv() return short instead of
                # failing with EINTR: run the handlers between chunks (PEP 475).
                PyErr_CheckSignals()
        except BaseException:
            if got > 0:
                self._keep_pending(buf, got)
            raise

    cdef int _keep_pending(self, const char *buf, Py_ssize_t got) except -1:
        data = PyByteArray_FromStringAndSize(buf, got)
        if self.pending is None:
            self.pending = data
        else:
            self.pending[:0] = data
        return 0

    cdef object _recv_object(self, Py_ssize_t n, int flags, bint fill, bint as_bytearray):
        """A new bytes/bytearray with what was received; None on failure (``self.err``)."""
        cdef char small[STACK_RECV]
        cdef Py_ssize_t got
        cdef object result
        if n < 0:
            raise ValueError(f"bufsize must be >= 0, got {n}")
        if n <= STACK_RECV:
            got = self._recv_fill(small, n, flags, fill)
            if got < 0:
                return None
            if as_bytearray:
                return PyByteArray_FromStringAndSize(small, got)
            return PyBytes_FromStringAndSize(small, got)
        if as_bytearray:
            result = PyByteArray_FromStringAndSize(NULL, n)
            got = self._recv_fill(PyByteArray_AS_STRING(result), n, flags, fill)
            if got < 0:
                return None
            if got != n:
                PyByteArray_Resize(result, got)
            return result
        result = PyBytes_FromStringAndSize(NULL, n)
        got = self._recv_fill(PyBytes_AS_STRING(result), n, flags, fill)
        if got < 0:
            return None
        return result if got == n else result[:got]

    cdef Py_ssize_t _recv_into(self, object buffer, Py_ssize_t nbytes, int flags,
                               bint fill) except -2:
        cdef Py_buffer view
        cdef Py_ssize_t got
        if not PyObject_CheckBuffer(buffer) or isinstance(buffer, (bytes, str)):
            raise TypeError(f"buffer must be a writable bytes-like object (bytearray, "
                            f"memoryview, array), not {type(buffer).__name__}")
        PyObject_GetBuffer(buffer, &view, PyBUF_WRITABLE)
        try:
            if nbytes < 0:
                if nbytes != -1:
                    raise ValueError(f"nbytes/bufsize must be >= 0 (or -1 for the whole "
                                     f"buffer), got {nbytes}")
                nbytes = view.len
            elif nbytes > view.len:
                raise ValueError(f"nbytes/bufsize {nbytes} is larger than the buffer "
                                 f"({view.len} bytes)")
            got = self._recv_fill(<char*>view.buf, nbytes, flags, fill)
        finally:
            PyBuffer_Release(&view)
        return got

    cdef object _recvfrom(self, Py_ssize_t n, int flags, bint as_bytearray):
        """``(data, address)`` of one datagram; None on failure (``self.err``)."""
        cdef char small[STACK_RECV]
        cdef char *buf = small
        cdef object result = None
        cdef sockaddr_storage ss
        cdef IoArgs args
        cdef ssize_t r
        if n < 0:
            raise ValueError(f"bufsize must be >= 0, got {n}")
        if self.pending is not None and self.sock_type == SOCK_STREAM:
            data = self._recv_object(n, flags, False, as_bytearray)
            return None if data is None else (data, None)
        if n > STACK_RECV:
            result = PyByteArray_FromStringAndSize(NULL, n)
            buf = PyByteArray_AS_STRING(result)
        args.buf, args.n, args.flags, args.addr = buf, n, flags, <sockaddr*>&ss
        r = self._call(_op_recvfrom, &args, POLLIN, flags, self._deadline(), False)
        if r < 0:
            return None
        if result is None:
            data = (PyByteArray_FromStringAndSize(buf, r) if as_bytearray
                    else PyBytes_FromStringAndSize(buf, r))
        else:
            PyByteArray_Resize(result, r)
            data = result if as_bytearray else bytes(result)
        address = format_address(<sockaddr*>&ss, args.addrlen) if ss.ss_family != AF_UNSPEC \
            else None
        return data, address

    def recvfrom_into(self, buffer, Py_ssize_t nbytes=-1, int flags=0):
        """Receive one datagram (or what a stream has) into ``buffer``; return ``(n, address)``.
        ``nbytes`` -1 means ``len(buffer)``."""
        cdef Py_buffer view
        cdef sockaddr_storage ss
        cdef IoArgs args
        cdef ssize_t r = 0
        if not PyObject_CheckBuffer(buffer) or isinstance(buffer, (bytes, str)):
            raise TypeError(f"buffer must be a writable bytes-like object, "
                            f"not {type(buffer).__name__}")
        PyObject_GetBuffer(buffer, &view, PyBUF_WRITABLE)
        try:
            if nbytes < 0:
                if nbytes != -1:
                    raise ValueError(f"nbytes/bufsize must be >= 0 (or -1), got {nbytes}")
                nbytes = view.len
            elif nbytes > view.len:
                raise ValueError(f"nbytes/bufsize {nbytes} is larger than the buffer "
                                 f"({view.len} bytes)")
            if self.pending is not None and self.sock_type == SOCK_STREAM:
                r = self._recv_fill(<char*>view.buf, nbytes, flags, False)
                return r, None
            args.buf, args.n, args.flags = <char*>view.buf, nbytes, flags
            args.addr = <sockaddr*>&ss
            r = self._call(_op_recvfrom, &args, POLLIN, flags, self._deadline(), False)
        finally:
            PyBuffer_Release(&view)
        if r < 0:
            raise_errno(self.err)
        address = format_address(<sockaddr*>&ss, args.addrlen) if ss.ss_family != AF_UNSPEC \
            else None
        return r, address

    # ---- sending -------------------------------------------------------------------------

    cdef Py_ssize_t _send_raw(self, const char *buf, Py_ssize_t n, int flags,
                              int64_t deadline) except -2:
        """One send(2) through :meth:`_call`: bytes the kernel took, or -1 (``self.err``).
        Large sends release the GIL even on a non-blocking fd (the copy takes a while)."""
        cdef IoArgs args
        args.buf, args.n, args.flags = <char*>buf, n, flags
        return self._call(_op_send, &args, POLLOUT, flags, deadline, n > NOGIL_SEND)

    cdef Py_ssize_t _send_all(self, object data, int flags, bint partial_ok) except -2:
        """Send all of ``data`` (one deadline for the whole call); return the count sent.

        -1 (``self.err``) on failure.  With ``partial_ok`` a non-blocking socket stops at EAGAIN
        and returns what was sent so far (-1 with EAGAIN if nothing): MicroPython's ``write``.
        """
        cdef Py_buffer view
        cdef Py_ssize_t sent = 0, r
        cdef int64_t deadline
        _fill_view(data, &view)
        try:
            deadline = self._deadline()
            while sent < view.len:
                r = self._send_raw(<const char*>view.buf + sent, view.len - sent, flags,
                                   deadline)
                if r < 0:
                    if partial_ok and self.err == EAGAIN and sent > 0:
                        return sent
                    return -1
                sent += r
                if sent < view.len:
                    # As in CPython's sendall: a signal during a partial send shows up as a
                    # short count, not EINTR, so run the handlers between chunks.
                    PyErr_CheckSignals()
        finally:
            _release_view(&view)
        return sent

    def send(self, data, int flags=0):
        """Send ``data`` (bytes-like or str as UTF-8) once; return the count sent (may be short).

        Blocks per the socket's mode; raises OSError (BlockingIOError when a non-blocking socket
        cannot take any byte, TimeoutError at the timeout).
        """
        cdef Py_buffer view
        cdef Py_ssize_t r
        _fill_view(data, &view)
        try:
            r = self._send_raw(<const char*>view.buf, view.len, flags, self._deadline())
        finally:
            _release_view(&view)
        if r < 0:
            raise_errno(self.err)
        return r

    def sendall(self, data, int flags=0):
        """Send all of ``data``; return None.  On error (or timeout) raise: how much was sent is
        not reported.  The timeout, if any, bounds the whole call."""
        if self._send_all(data, flags, False) < 0:
            raise_errno(self.err)

    def sendto(self, data, address, int flags=0):
        """Send one datagram ``data`` to ``address``; return the count sent."""
        cdef Py_buffer view
        cdef sockaddr_storage ss
        cdef IoArgs args
        cdef ssize_t r
        self._check()
        parse_address(address, self.sock_family, &ss, &args.addrlen)
        _fill_view(data, &view)
        try:
            args.buf, args.n, args.flags = <char*>view.buf, view.len, flags
            args.addr = <sockaddr*>&ss
            r = self._call(_op_sendto, &args, POLLOUT, flags, self._deadline(),
                           view.len > NOGIL_SEND)
        finally:
            _release_view(&view)
        if r < 0:
            raise_errno(self.err)
        return r

    # ---- connection set-up -----------------------------------------------------------------

    def connect(self, address):
        """Connect to ``address``.  Blocks per the socket's mode (TimeoutError at the timeout;
        a non-blocking socket raises BlockingIOError(EINPROGRESS) and completes in background).
        A connected UDP socket only receives datagrams from ``address``."""
        cdef sockaddr_storage ss
        cdef socklen_t sslen, size
        cdef int r, err, fd, soerr
        self._check()
        parse_address(address, self.sock_family, &ss, &sslen)
        fd = self.fd
        if self.timeout_ns < 0:
            with nogil:
                r = connect(fd, <sockaddr*>&ss, sslen)
                err = errno
        else:
            r = connect(fd, <sockaddr*>&ss, sslen)
            err = errno
        if r == 0:
            return None
        if err == EINTR:
            # PEP 475: an interrupted connect() goes on in the kernel; wait for its outcome.
            PyErr_CheckSignals()  # runs handlers; raises what they raise
            err = EINPROGRESS
            if self.timeout_ns == 0:
                raise_errno(EINPROGRESS)
        if err == EINPROGRESS and self.timeout_ns != 0:
            wait_ready(fd, POLLOUT, self._deadline())
            size = sizeof(int)
            if getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &size) < 0:
                raise_errno(errno)
            if soerr == 0:
                return None
            err = soerr
        raise_errno(err)

    cdef int _bind(self, object address) except -1:
        cdef sockaddr_storage ss
        cdef socklen_t sslen
        self._check()
        parse_address(address, self.sock_family, &ss, &sslen)
        if bind(self.fd, <sockaddr*>&ss, sslen) < 0:
            raise_errno_msg(errno, f"bind({address!r})")
        return 0

    def bind(self, address):
        """Bind the socket to ``address`` (the socket must not be bound already)."""
        self._bind(address)

    cdef int _listen(self, int backlog) except -1:
        self._check()
        if backlog < 0:
            backlog = 0
        if listen(self.fd, backlog) < 0:
            raise_errno(errno)
        return 0

    def accept(self):
        """Wait for a connection; return ``(conn, address)``.  ``conn`` is a new blocking socket
        of the same class.  Blocks per the listening socket's mode."""
        cdef sockaddr_storage ss
        cdef IoArgs args
        cdef ssize_t r
        cdef SocketCore conn
        self._check()
        args.addr = <sockaddr*>&ss
        r = self._call(_op_accept, &args, POLLIN, 0, self._deadline(), False)
        if r < 0:
            raise_errno(self.err)
        conn = type(self).__new__(type(self))
        conn._adopt(<int>r, self.sock_family, self.sock_type, self.sock_proto)
        return conn, format_address(<sockaddr*>&ss, args.addrlen)

    def shutdown(self, int how):
        """Shut down reading (SHUT_RD), writing (SHUT_WR) or both (SHUT_RDWR)."""
        self._check()
        if shutdown(self.fd, how) < 0:
            raise_errno(errno)

    # ---- options and names -----------------------------------------------------------------

    def setsockopt(self, int level, int optname, value):
        """Set a socket option: ``value`` is an int (C int) or a bytes-like object."""
        cdef int ivalue
        cdef Py_buffer view
        cdef int r
        self._check()
        if isinstance(value, int):
            if not (-2**31 <= value < 2**31):
                raise ValueError(f"option value {value} does not fit a C int")
            ivalue = value
            r = setsockopt(self.fd, level, optname, &ivalue, sizeof(int))
        elif PyObject_CheckBuffer(value):
            PyObject_GetBuffer(value, &view, PyBUF_SIMPLE)
            try:
                r = setsockopt(self.fd, level, optname, view.buf, <socklen_t>view.len)
            finally:
                PyBuffer_Release(&view)
        else:
            raise TypeError(f"option value must be an int or a bytes-like object, "
                            f"not {type(value).__name__}")
        if r < 0:
            raise_errno_msg(errno, f"setsockopt(level={level}, optname={optname})")

    def getsockopt(self, int level, int optname, int buflen=0):
        """Return an option: an int when ``buflen`` is 0, else bytes of at most ``buflen``."""
        cdef int ivalue = 0
        cdef socklen_t size
        cdef char buf[1024]
        self._check()
        if buflen == 0:
            size = sizeof(int)
            if getsockopt(self.fd, level, optname, &ivalue, &size) < 0:
                raise_errno_msg(errno, f"getsockopt(level={level}, optname={optname})")
            return ivalue
        if not (0 < buflen <= 1024):
            raise ValueError(f"buflen must be in 1-1024, got {buflen}")
        size = buflen
        if getsockopt(self.fd, level, optname, buf, &size) < 0:
            raise_errno_msg(errno, f"getsockopt(level={level}, optname={optname})")
        return PyBytes_FromStringAndSize(buf, size)

    def getsockname(self):
        """Return the socket's own address."""
        cdef sockaddr_storage ss
        cdef socklen_t sslen = sizeof(ss)
        self._check()
        if getsockname(self.fd, <sockaddr*>&ss, &sslen) < 0:
            raise_errno(errno)
        return format_address(<sockaddr*>&ss, sslen)

    def getpeername(self):
        """Return the address of the connected peer (OSError ENOTCONN if none)."""
        cdef sockaddr_storage ss
        cdef socklen_t sslen = sizeof(ss)
        self._check()
        if getpeername(self.fd, <sockaddr*>&ss, &sslen) < 0:
            raise_errno(errno)
        return format_address(<sockaddr*>&ss, sslen)
