"""``SocketCore``: the socket object both faces build on, written directly over Linux syscalls.
(On Linux EWOULDBLOCK == EAGAIN, so only EAGAIN is tested.)

Modes (one field, ``timeout_ns``): blocking (-1, the default), non-blocking (0) and timeout (>0).
In blocking mode the fd is blocking and each syscall runs with the GIL released.  In the other
modes the fd is ``O_NONBLOCK``: the syscall is tried first (it cannot block, so the GIL is kept
for small transfers), and only on EAGAIN does a timeout socket wait in ``wait_ready`` (``poll``
without the GIL) until the operation's deadline.  EINTR runs the Python signal handlers and
retries (PEP 475).  All of this is one loop, :meth:`SocketCore._call`.  Failures become
exceptions through ``kiln.net.errors``; bad arguments are refused by ``kiln.net.args`` and
``kiln.net.buffers``.

One place per concern:

- closed sockets: every operation starts with :meth:`SocketCore._check` (or reaches the kernel
  through ``_call``, which re-checks the fd after each signal handler);
- the pending-bytes rule: a read that took bytes from the kernel and then fails (timeout, error,
  exception from a signal handler) puts them back with :meth:`SocketCore._unread`; every read
  returns ``held`` first.  Nothing is lost and nothing is duplicated.
"""
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING
from cpython.bytearray cimport (PyByteArray_FromStringAndSize, PyByteArray_AS_STRING,
                                PyByteArray_GET_SIZE, PyByteArray_Resize)
from cpython.buffer cimport PyObject_CheckBuffer, PyBuffer_Release
from cpython.exc cimport PyErr_CheckSignals
from libc.stdint cimport int64_t

from kiln.net.libc cimport *
from kiln.net.errors cimport raise_errno, raise_errno_msg
from kiln.net.wait cimport wait_ready, deadline_after
from kiln.net.addr cimport parse_address, format_address
from kiln.net.args cimport int_or_fail, count_arg
from kiln.net.buffers cimport data_view, writable_view

cdef enum:
    # Reads up to this size go through a stack buffer and are copied into an exact-size result;
    # larger ones are received straight into the result object.
    STACK_RECV = 8192
    # Sends larger than this release the GIL even on a non-blocking fd (the copy into the kernel
    # takes a while); smaller non-blocking sends keep it.
    NOGIL_SEND = 65536
    # read() without a size grows its result by this much per recv.
    READ_CHUNK = 65536
    # readline() peeks at most this much to find the newline.
    LINE_PEEK = 1024


# ---- the syscalls, as operations for SocketCore._call ---------------------------------------
# Each takes the fd and a pointer to its arguments, returns the syscall's result (-1 + errno on
# failure), and runs without the GIL.

cdef Py_ssize_t _op_recv(int fd, void *args, short *events) noexcept nogil:
    cdef IoArgs *a = <IoArgs*>args
    return recv(fd, a.buf, a.n, a.flags)


cdef Py_ssize_t _op_recvfrom(int fd, void *args, short *events) noexcept nogil:
    cdef IoArgs *a = <IoArgs*>args
    a.addrlen = sizeof(sockaddr_storage)
    a.addr.sa_family = AF_UNSPEC
    return recvfrom(fd, a.buf, a.n, a.flags, a.addr, &a.addrlen)


cdef Py_ssize_t _op_send(int fd, void *args, short *events) noexcept nogil:
    cdef IoArgs *a = <IoArgs*>args
    return send(fd, a.buf, a.n, a.flags | MSG_NOSIGNAL)


cdef Py_ssize_t _op_sendto(int fd, void *args, short *events) noexcept nogil:
    cdef IoArgs *a = <IoArgs*>args
    return sendto(fd, a.buf, a.n, a.flags | MSG_NOSIGNAL, a.addr, a.addrlen)


cdef Py_ssize_t _op_accept(int fd, void *args, short *events) noexcept nogil:
    cdef IoArgs *a = <IoArgs*>args
    a.addrlen = sizeof(sockaddr_storage)
    return accept4(fd, a.addr, &a.addrlen, SOCK_CLOEXEC)


cdef Py_ssize_t _op_connect(int fd, void *args, short *events) noexcept nogil:
    """connect(2), called once: interrupted (EINTR), it goes on in the kernel, so a retry
    reports EINPROGRESS instead of starting it again (CPython's internal_connect)."""
    global errno
    cdef IoArgs *a = <IoArgs*>args
    if a.started:
        errno = EINPROGRESS
        return -1
    a.started = True
    return connect(fd, a.addr, a.addrlen)


cdef Py_ssize_t _op_connect_result(int fd, void *args, short *events) noexcept nogil:
    """The outcome of a connect() that went on in the background: 0, or -1 with its errno."""
    global errno
    cdef int soerr = 0
    cdef socklen_t size = sizeof(int)
    if getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &size) < 0:
        return -1
    if soerr == 0:
        return 0
    errno = soerr
    return -1


cdef class Layer:
    """Base of record layers (see core.pxd); this base is never installed on a socket."""

    cdef Py_ssize_t buffered(self) noexcept:
        return 0

    cdef int raise_failure(self) except -1:
        raise_errno(EPROTO)

    cdef void release(self, int fd) noexcept:
        pass


cdef class SocketCore:
    """A BSD socket over a Linux file descriptor (base class of both faces; not used directly)."""

    def __cinit__(self, *args, **kwargs):
        self.fd = -1
        self.timeout_ns = -1

    def __dealloc__(self):
        if self.layer is not None:
            self.layer.release(self.fd)
            self.layer = None
        if self.fd >= 0:
            close(self.fd)
            self.fd = -1

    # ---- lifetime ------------------------------------------------------------------------

    cdef int _open(self, int family, int stype, int proto, object fileno) except -1:
        cdef int fd, value
        cdef socklen_t size = sizeof(int)
        if fileno is not None:
            fd = int_or_fail(fileno, "socket", "fileno")
            if fd < 0:
                raise ValueError(f"socket() argument 'fileno' must be a descriptor >= 0 or None, "
                                 f"got {fd}")
            if getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &value, &size) < 0:
                raise_errno_msg(errno, f"socket(fileno={fd})")
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
        """The closed-socket check: OSError(EBADF) once the socket is closed or detached."""
        if self.fd < 0:
            raise_errno_msg(EBADF, "the socket is closed")
        return 0

    def fileno(self):
        """Return the socket's file descriptor (-1 once closed)."""
        return self.fd

    def pending(self):
        """The number of received bytes Kiln already holds for the next read (kept after a
        timeout or error, see docs/sockets.md; later: decrypted TLS bytes).  A poll on the fd
        does not see them: a socket with ``pending() > 0`` is readable.  0 once closed."""
        cdef Py_ssize_t n = 0 if self.held is None else len(self.held)
        if self.layer is not None and self.fd >= 0:
            n += self.layer.buffered()
        return n

    def close(self):
        """Close the socket; later operations raise OSError(EBADF).  Closing twice is harmless.
        A TLS socket sends its close_notify first when the kernel takes it at once."""
        cdef int fd = self.fd
        self.fd = -1
        self.held = None
        if self.layer is not None:
            self.layer.release(fd)
            self.layer = None
        if fd >= 0:
            # Linux always releases the fd, even when close() reports EINTR: never retry it.
            if close(fd) < 0 and errno != EINTR and errno != ECONNRESET:
                raise_errno(errno)

    def detach(self):
        """Give up ownership of the fd without closing it; return the fd (-1 if closed).
        Bytes kept for the next read (see docs/sockets.md) are dropped with the socket."""
        fd = self.fd
        self.fd = -1
        self.held = None
        if self.layer is not None:      # the fd goes on without the layer's state
            self.layer.release(-1)
            self.layer = None
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

    # ---- the one retry/wait loop -----------------------------------------------------------

    cdef Py_ssize_t _call(self, sock_op op, void *args, short events, int flags,
                          int64_t deadline, bint release_gil, bint wait_first) except -2:
        """Run ``op`` on the fd until it succeeds, per the socket's mode (CPython's sock_call_ex).

        Returns the syscall's result (>= 0), or -1 with the errno in ``self.err`` (EAGAIN only
        for a non-blocking socket or MSG_DONTWAIT in ``flags``, which never waits).  EINTR runs the Python signal handlers and
        retries (PEP 475; a handler's exception propagates, -2); on a timeout socket EAGAIN waits
        for ``events`` until ``deadline`` (TimeoutError, -2).  ``release_gil`` drops the GIL
        around the syscall (always when the fd is blocking).  ``wait_first`` waits for ``events``
        before the first call, whatever the mode (the outcome of a connect in progress).
        """
        cdef ssize_t r
        cdef int err
        cdef short want
        cdef int fd = self.fd
        if wait_first and fd >= 0:
            wait_ready(fd, events, deadline)
            fd = self.fd
        while True:
            if fd < 0:
                self.err = EBADF
                return -1
            want = events
            if release_gil or self.timeout_ns < 0:
                with nogil:
                    r = op(fd, args, &want)
                    err = errno
            else:
                r = op(fd, args, &want)
                err = errno
            if r >= 0:
                return r
            if err == EINTR:
                PyErr_CheckSignals()  # runs handlers; raises what they raise
            elif err == EAGAIN and self.timeout_ns > 0 and not (flags & MSG_DONTWAIT):
                wait_ready(fd, want, deadline)
            elif err == E_LAYER and self.layer is not None:
                self.err = EPROTO
                self.layer.raise_failure()
                return -2
            else:
                self.err = err
                return -1
            fd = self.fd     # a signal handler may have closed the socket

    # ---- receiving -----------------------------------------------------------------------

    cdef Py_ssize_t _recv_raw(self, char *buf, Py_ssize_t n, int flags,
                              int64_t deadline) except -2:
        """One recv(2) through :meth:`_call`: >0 bytes, 0 at EOF, -1 on failure."""
        cdef IoArgs args
        args.buf, args.n, args.flags = buf, n, flags
        if self.layer is not None:
            args.ctx = self.layer.ctx
            return self._call(self.layer.recv_op, &args, POLLIN, flags, deadline, True, False)
        return self._call(_op_recv, &args, POLLIN, flags, deadline, False, False)

    cdef int _unread(self, const char *buf, Py_ssize_t n) except -1:
        """Put ``n`` bytes back in front of ``held``: the next read returns them first."""
        if n <= 0:
            return 0
        data = PyByteArray_FromStringAndSize(buf, n)
        if self.held is None:
            self.held = data
        else:
            self.held[:0] = data
        return 0

    cdef Py_ssize_t _recv_fill(self, char *buf, Py_ssize_t n, int flags, bint fill) except -2:
        """Receive into ``buf``: one recv, or (``fill``, stream sockets) until ``n`` bytes or EOF.

        ``held`` comes first.  Returns the count, or -1 (``self.err``) if nothing was
        received.  Bytes received before a timeout, an error or an exception are put back
        (:meth:`_unread`) and the timeout/error/exception is reported; a non-blocking socket
        returns what it got before EAGAIN.
        """
        cdef Py_ssize_t got = 0, r, take
        cdef int64_t deadline
        self._check()
        if self.held is not None:
            take = min(n, len(self.held))
            memcpy(buf, PyByteArray_AS_STRING(self.held), take)
            if not (flags & MSG_PEEK):
                del self.held[:take]
                if not self.held:
                    self.held = None
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
                    self._unread(buf, got)
                    return -1
                got += r
                if not fill or got == n:
                    return got
                # A signal arriving while data keeps coming makes recv() return short instead of
                # failing with EINTR: run the handlers between chunks (PEP 475).
                PyErr_CheckSignals()
        except BaseException:
            self._unread(buf, got)
            raise

    cdef object _recv_object(self, Py_ssize_t n, int flags, bint fill, bint as_bytearray):
        """A new bytes/bytearray with what was received; None on failure (``self.err``).
        ``n`` has been checked (``args.size_or_fail``): it is >= 0 and can be allocated."""
        cdef char small[STACK_RECV]
        cdef Py_ssize_t got
        cdef object result
        if n <= STACK_RECV:
            got = self._recv_fill(small, n, flags, fill)
            if got < 0:
                return None
            if as_bytearray:
                return PyByteArray_FromStringAndSize(small, got)
            return PyBytes_FromStringAndSize(small, got)
        self._check()
        if as_bytearray:
            # Grown from empty: PyByteArray_FromStringAndSize(NULL, n) mishandles a failed
            # allocation in CPython 3.11 ("deallocated bytearray object has exported buffers").
            result = PyByteArray_FromStringAndSize(NULL, 0)
            PyByteArray_Resize(result, n)
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

    cdef Py_ssize_t _recv_into(self, object buffer, object nbytes, int flags, bint fill,
                               str func, str buf_name, str count_name,
                               bint none_is_all) except -2:
        """Receive into the writable ``buffer``; ``nbytes`` per ``args.count_arg`` (None, or
        else -1, is the whole buffer).  Argument names are for the error messages."""
        cdef Py_buffer view
        cdef Py_ssize_t got, n
        writable_view(buffer, &view, func, buf_name)
        try:
            n = count_arg(nbytes, view.len, func, count_name, none_is_all, not none_is_all)
            got = self._recv_fill(<char*>view.buf, n, flags, fill)
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
        self._check()
        if self.sock_type == SOCK_STREAM and (self.held is not None or self.layer is not None):
            data = self._recv_object(n, flags, False, as_bytearray)
            return None if data is None else (data, None)
        if n > STACK_RECV:
            result = PyByteArray_FromStringAndSize(NULL, 0)
            PyByteArray_Resize(result, n)
            buf = PyByteArray_AS_STRING(result)
        args.buf, args.n, args.flags, args.addr = buf, n, flags, <sockaddr*>&ss
        r = self._call(_op_recvfrom, &args, POLLIN, flags, self._deadline(), False, False)
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

    cdef object _read_to_eof(self):
        """Everything until EOF (MicroPython's ``read()``); a non-blocking socket stops at EAGAIN
        and returns what it got (None if nothing).  On a failure or an exception every byte
        gathered is put back first (:meth:`_unread`)."""
        cdef bytearray acc = bytearray()
        cdef Py_ssize_t used = 0, r
        try:
            while True:
                PyByteArray_Resize(acc, used + READ_CHUNK)
                r = self._recv_fill(PyByteArray_AS_STRING(acc) + used, READ_CHUNK, 0, False)
                if r <= 0:
                    break
                used += r
        except BaseException:
            self._unread(PyByteArray_AS_STRING(acc), used)
            raise
        PyByteArray_Resize(acc, used)
        if r < 0:
            if self.err != EAGAIN:
                self._unread(PyByteArray_AS_STRING(acc), used)
                return None
            if used == 0:
                return None
        return bytes(acc)

    cdef object _read_line(self, Py_ssize_t limit):
        """One line through b"\\n" or EOF (MicroPython's ``readline()``), of at most ``limit``
        bytes when ``limit`` >= 0; b"" at EOF.  Reads no byte past the newline or the limit
        (peeks, then takes).  A non-blocking socket returns the part there now (None if
        nothing).  On a failure or an exception the partial line is put back."""
        cdef char peek[LINE_PEEK]
        cdef bytearray line = bytearray()
        cdef Py_ssize_t n = 0, take, start, want
        cdef const char *nl
        self._check()
        try:
            while limit < 0 or PyByteArray_GET_SIZE(line) < limit:
                want = LINE_PEEK
                if limit >= 0 and limit - PyByteArray_GET_SIZE(line) < want:
                    want = limit - PyByteArray_GET_SIZE(line)
                n = self._recv_fill(peek, want, MSG_PEEK, False)
                if n <= 0:
                    break
                nl = <const char*>memchr(peek, 10, n)
                take = (nl - peek) + 1 if nl != NULL else n
                start = PyByteArray_GET_SIZE(line)
                PyByteArray_Resize(line, start + take)
                n = self._recv_fill(PyByteArray_AS_STRING(line) + start, take, 0, True)
                if n < take:
                    PyByteArray_Resize(line, start + (n if n > 0 else 0))
                    if n < 0:
                        break
                if nl != NULL:
                    return bytes(line)
        except BaseException:
            self._unread(PyByteArray_AS_STRING(line), PyByteArray_GET_SIZE(line))
            raise
        if n < 0:
            if self.err != EAGAIN:
                self._unread(PyByteArray_AS_STRING(line), PyByteArray_GET_SIZE(line))
                return None
            if not line:
                return None
        return bytes(line)

    def recvfrom_into(self, buffer, nbytes=-1, flags=0):
        """Receive one datagram (or what a stream has) into ``buffer``; return ``(n, address)``.
        ``nbytes`` -1 means ``len(buffer)``."""
        cdef Py_buffer view
        cdef sockaddr_storage ss
        cdef IoArgs args
        cdef ssize_t r = 0
        cdef Py_ssize_t n
        cdef int c_flags = int_or_fail(flags, "recvfrom_into", "flags")
        writable_view(buffer, &view, "recvfrom_into", "buffer")
        try:
            n = count_arg(nbytes, view.len, "recvfrom_into", "nbytes", False, True)
            self._check()
            if self.sock_type == SOCK_STREAM and (self.held is not None or self.layer is not None):
                r = self._recv_fill(<char*>view.buf, n, c_flags, False)
                if r < 0:
                    raise_errno(self.err)
                return r, None
            args.buf, args.n, args.flags = <char*>view.buf, n, c_flags
            args.addr = <sockaddr*>&ss
            r = self._call(_op_recvfrom, &args, POLLIN, c_flags, self._deadline(), False, False)
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
        if self.layer is not None:
            args.ctx = self.layer.ctx
            return self._call(self.layer.send_op, &args, POLLOUT, flags, deadline, True, False)
        return self._call(_op_send, &args, POLLOUT, flags, deadline, n > NOGIL_SEND, False)

    cdef Py_ssize_t _send_all(self, object data, int flags, bint partial_ok,
                              str func, str name) except -2:
        """Send all of ``data`` (one deadline for the whole call); return the count sent.

        -1 (``self.err``) on failure.  With ``partial_ok`` a non-blocking socket stops at EAGAIN
        and returns what was sent so far (-1 with EAGAIN if nothing): MicroPython's ``write``.
        """
        cdef Py_buffer view
        data_view(data, &view, func, name)
        try:
            return self._send_buf(<const char*>view.buf, view.len, flags, partial_ok)
        finally:
            PyBuffer_Release(&view)

    cdef Py_ssize_t _send_buf(self, const char *buf, Py_ssize_t n, int flags,
                              bint partial_ok) except -2:
        """:meth:`_send_all` of ``n`` bytes at ``buf`` (the caller holds the buffer)."""
        cdef Py_ssize_t sent = 0, r
        cdef int64_t deadline
        self._check()
        deadline = self._deadline()
        while sent < n:
            r = self._send_raw(buf + sent, n - sent, flags, deadline)
            if r < 0:
                if partial_ok and self.err == EAGAIN and sent > 0:
                    return sent
                return -1
            sent += r
            if sent < n:
                # As in CPython's sendall: a signal during a partial send shows up as a
                # short count, not EINTR, so run the handlers between chunks.
                PyErr_CheckSignals()
        return sent

    def send(self, data, flags=0):
        """Send ``data`` (bytes-like or str as UTF-8) once; return the count sent (may be short).

        Blocks per the socket's mode; raises OSError (BlockingIOError when a non-blocking socket
        cannot take any byte, TimeoutError at the timeout).
        """
        cdef Py_buffer view
        cdef Py_ssize_t r
        cdef int c_flags = int_or_fail(flags, "send", "flags")
        data_view(data, &view, "send", "data")
        try:
            r = self._send_raw(<const char*>view.buf, view.len, c_flags, self._deadline())
        finally:
            PyBuffer_Release(&view)
        if r < 0:
            raise_errno(self.err)
        return r

    def sendall(self, data, flags=0):
        """Send all of ``data``; return None.  On error (or timeout) raise: how much was sent is
        not reported.  The timeout, if any, bounds the whole call."""
        if self._send_all(data, int_or_fail(flags, "sendall", "flags"), False, "sendall",
                          "data") < 0:
            raise_errno(self.err)

    def sendto(self, data, address, flags=0):
        """Send one datagram ``data`` to ``address``; return the count sent."""
        cdef Py_buffer view
        cdef sockaddr_storage ss
        cdef IoArgs args
        cdef ssize_t r
        cdef int c_flags = int_or_fail(flags, "sendto", "flags")
        parse_address(address, self.sock_family, &ss, &args.addrlen, "sendto")
        if self.layer is not None:
            raise ValueError("sendto() is not allowed on a TLS socket (its peer is fixed): "
                             "use send() or write()")
        data_view(data, &view, "sendto", "data")
        try:
            args.buf, args.n, args.flags = <char*>view.buf, view.len, c_flags
            args.addr = <sockaddr*>&ss
            r = self._call(_op_sendto, &args, POLLOUT, c_flags, self._deadline(),
                           view.len > NOGIL_SEND, False)
        finally:
            PyBuffer_Release(&view)
        if r < 0:
            raise_errno(self.err)
        return r

    # ---- connection set-up -----------------------------------------------------------------

    def connect(self, address):
        """Connect to ``address``.  Blocks per the socket's mode (TimeoutError at the timeout;
        a non-blocking socket raises BlockingIOError(EINPROGRESS) and completes in background).
        A connected UDP socket only receives datagrams from ``address``."""
        cdef sockaddr_storage ss
        cdef IoArgs args
        cdef Py_ssize_t r
        cdef int64_t deadline
        parse_address(address, self.sock_family, &ss, &args.addrlen, "connect")
        args.addr = <sockaddr*>&ss
        args.started = False
        self._check()
        deadline = self._deadline()
        # As CPython's internal_connect() through sock_call_ex(): one connect(2) (EINTR runs the
        # signal handlers; the connection goes on in the kernel), then, when it is in progress on
        # a blocking or timeout socket, _call waits for it and reads its outcome.  An EAGAIN
        # (AF_UNIX listener's queue full) is reported, not waited for (MSG_DONTWAIT).
        r = self._call(_op_connect, &args, POLLOUT, MSG_DONTWAIT, deadline, False, False)
        if r == 0:
            return None
        if self.err == EINPROGRESS and self.timeout_ns != 0:
            r = self._call(_op_connect_result, NULL, POLLOUT, 0, deadline, False, True)
            if r == 0:
                return None
        raise_errno(self.err)

    cdef int _bind(self, object address, str func) except -1:
        cdef sockaddr_storage ss
        cdef socklen_t sslen
        parse_address(address, self.sock_family, &ss, &sslen, func)
        self._check()
        if bind(self.fd, <sockaddr*>&ss, sslen) < 0:
            raise_errno_msg(errno, f"{func}({address!r})")
        return 0

    def bind(self, address):
        """Bind the socket to ``address`` (the socket must not be bound already)."""
        self._bind(address, "bind")

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
        r = self._call(_op_accept, &args, POLLIN, 0, self._deadline(), False, False)
        if r < 0:
            raise_errno(self.err)
        conn = type(self).__new__(type(self))
        conn._adopt(<int>r, self.sock_family, self.sock_type, self.sock_proto)
        return conn, format_address(<sockaddr*>&ss, args.addrlen)

    def shutdown(self, how):
        """Shut down reading (SHUT_RD), writing (SHUT_WR) or both (SHUT_RDWR)."""
        cdef int c_how = int_or_fail(how, "shutdown", "how")
        if c_how != SHUT_RD and c_how != SHUT_WR and c_how != SHUT_RDWR:
            raise ValueError(f"shutdown() argument 'how' must be SHUT_RD ({SHUT_RD}), SHUT_WR "
                             f"({SHUT_WR}) or SHUT_RDWR ({SHUT_RDWR}), got {c_how}")
        self._check()
        if shutdown(self.fd, c_how) < 0:
            raise_errno(errno)

    # ---- options and names -----------------------------------------------------------------

    def setsockopt(self, level, optname, value):
        """Set a socket option: ``value`` is an int (C int) or a bytes-like object."""
        cdef int ivalue
        cdef Py_buffer view
        cdef int r
        cdef int c_level = int_or_fail(level, "setsockopt", "level")
        cdef int c_optname = int_or_fail(optname, "setsockopt", "optname")
        if isinstance(value, int):
            ivalue = int_or_fail(value, "setsockopt", "value")
            self._check()
            r = setsockopt(self.fd, c_level, c_optname, &ivalue, sizeof(int))
        elif PyObject_CheckBuffer(value):
            data_view(value, &view, "setsockopt", "value")
            try:
                self._check()
                r = setsockopt(self.fd, c_level, c_optname, view.buf, <socklen_t>view.len)
            finally:
                PyBuffer_Release(&view)
        else:
            raise TypeError(f"setsockopt() argument 'value' must be an int or a bytes-like "
                            f"object, not {type(value).__name__}")
        if r < 0:
            raise_errno_msg(errno, f"setsockopt(level={c_level}, optname={c_optname})")

    def getsockopt(self, level, optname, buflen=0):
        """Return an option: an int when ``buflen`` is 0, else bytes of at most ``buflen``
        (1..1024)."""
        cdef int ivalue = 0
        cdef socklen_t size
        cdef char buf[1024]
        cdef int c_level = int_or_fail(level, "getsockopt", "level")
        cdef int c_optname = int_or_fail(optname, "getsockopt", "optname")
        cdef int c_buflen = int_or_fail(buflen, "getsockopt", "buflen")
        if not (0 <= c_buflen <= 1024):
            raise ValueError(f"getsockopt() argument 'buflen' must be 0 (an int option) or "
                             f"1..1024 (bytes), got {c_buflen}")
        self._check()
        if c_buflen == 0:
            size = sizeof(int)
            if getsockopt(self.fd, c_level, c_optname, &ivalue, &size) < 0:
                raise_errno_msg(errno, f"getsockopt(level={c_level}, optname={c_optname})")
            return ivalue
        size = c_buflen
        if getsockopt(self.fd, c_level, c_optname, buf, &size) < 0:
            raise_errno_msg(errno, f"getsockopt(level={c_level}, optname={c_optname})")
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
