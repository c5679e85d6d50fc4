"""Serial ports over termios2 (``TCGETS2``/``TCSETS2``): any baud rate the driver can make
(``BOTHER``: the rate as a number, not a ``Bnnn`` constant), data bits 5..8, parity none/even/
odd/mark/space, 1 or 2 stop bits, RTS/CTS flow control; raw mode (no echo, no line editing, no
CR/LF translation, no XON/XOFF).

The fd is non-blocking and every wait is ``poll(2)`` against a monotonic deadline (the socket
core's ``wait_ready``: EINTR runs Python's signal handlers, a handler's exception aborts the
call, otherwise the wait goes on with the time left), so ``VMIN``/``VTIME`` stay 0 and timeouts
are exact rather than in tenths of seconds.
"""
from libc.string cimport memset
from libc.stdint cimport int64_t, uint32_t
from cpython.buffer cimport PyBuffer_Release
from cpython.exc cimport PyErr_CheckSignals

from kiln.hw.linux cimport *
from kiln.hw.fdio cimport Device, open_device
from kiln.net.errors cimport raise_errno_msg
from kiln.net.wait cimport wait_ready, deadline_after, now_ns
from kiln.net.args cimport timeout_arg
from kiln.net.buffers cimport data_view, writable_view
from kiln.net.libc cimport errno, EINTR, EAGAIN, POLLIN, POLLOUT

PARITIES = (None, "N", "E", "O", "M", "S")


cdef int64_t _timeout(object value, str func, str name) except? -2:
    return timeout_arg(value, func, name, 1000000000, "seconds")


cdef class Serial(Device):
    """A serial port (``/dev/ttyAMA0``, ``/dev/ttyS1``, a pty ...), opened read-write without
    becoming the controlling terminal, in raw mode.

    ``Serial(path, baudrate=9600, bits=8, parity=None, stop=1, rtscts=False)``; arguments as
    :meth:`configure`.  FileNotFoundError naming the path when the port does not exist,
    OSError(ENOTTY) when it is not a terminal."""

    def __init__(self, path, baudrate=9600, bits=8, parity=None, stop=1, rtscts=False):
        self.fd = open_device(path, O_RDWR | O_NOCTTY | O_NONBLOCK, "Serial")
        self.path = path
        try:
            self.configure(baudrate, bits, parity, stop, rtscts)
        except BaseException:
            self._close()
            raise

    def configure(self, baudrate=9600, bits=8, parity=None, stop=1, rtscts=False):
        """Set the line: ``baudrate`` (bits/s, any positive int the driver accepts; the driver
        may round it: read :attr:`baudrate` back), ``bits`` 5..8, ``parity`` None/"N" (none),
        "E", "O", "M" (mark), "S" (space), ``stop`` 1 or 2, ``rtscts`` hardware flow control.
        Never blocks.  ValueError naming a bad argument; OSError from the driver."""
        cdef termios2 t
        if isinstance(baudrate, bool) or not isinstance(baudrate, int):
            raise TypeError(f"configure() argument 'baudrate' must be an int (bits/s), not "
                            f"{type(baudrate).__name__}")
        if not 1 <= baudrate <= 0xFFFFFFFF:
            raise ValueError(f"configure() argument 'baudrate' must be > 0 bits/s, got "
                             f"{baudrate}")
        if isinstance(bits, bool) or bits not in (5, 6, 7, 8):
            raise ValueError(f"configure() argument 'bits' must be 5, 6, 7 or 8, got {bits!r}")
        if parity not in PARITIES or isinstance(parity, bool):
            raise ValueError(f"configure() argument 'parity' must be None, 'N', 'E', 'O', 'M' "
                             f"or 'S', got {parity!r}")
        if isinstance(stop, bool) or stop not in (1, 2):
            raise ValueError(f"configure() argument 'stop' must be 1 or 2, got {stop!r}")
        if not isinstance(rtscts, (bool, int)):
            raise TypeError(f"configure() argument 'rtscts' must be a bool, not "
                            f"{type(rtscts).__name__}")
        memset(&t, 0, sizeof(t))
        self.ioctl(TCGETS2, &t, "configure")
        t.c_iflag &= ~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON |
                       IXOFF | IXANY | INPCK | IGNPAR)
        t.c_oflag &= ~OPOST
        t.c_lflag &= ~(ECHO | ECHONL | ICANON | ISIG | IEXTEN)
        t.c_cflag &= ~(CSIZE | PARENB | PARODD | CMSPAR | CSTOPB | CRTSCTS | CBAUD |
                       (CBAUD << IBSHIFT))
        t.c_cflag |= CREAD | CLOCAL | BOTHER | (BOTHER << IBSHIFT)
        t.c_cflag |= (CS5 if bits == 5 else CS6 if bits == 6 else CS7 if bits == 7 else CS8)
        if parity in ("E", "O", "M", "S"):
            t.c_cflag |= PARENB
            t.c_iflag |= INPCK
            if parity in ("O", "M"):
                t.c_cflag |= PARODD
            if parity in ("M", "S"):
                t.c_cflag |= CMSPAR
        if stop == 2:
            t.c_cflag |= CSTOPB
        if rtscts:
            t.c_cflag |= CRTSCTS
        t.c_ispeed = baudrate
        t.c_ospeed = baudrate
        t.c_cc[VMIN] = 0
        t.c_cc[VTIME] = 0
        self.ioctl(TCSETS2, &t, "configure")

    def settings(self):
        """The line as the driver has it: dict with baudrate, bits, parity, stop, rtscts."""
        cdef termios2 t
        memset(&t, 0, sizeof(t))
        self.ioctl(TCGETS2, &t, "settings")
        size = t.c_cflag & CSIZE
        bits = 5 if size == CS5 else 6 if size == CS6 else 7 if size == CS7 else 8
        if not t.c_cflag & PARENB:
            parity = None
        elif t.c_cflag & CMSPAR:
            parity = "M" if t.c_cflag & PARODD else "S"
        else:
            parity = "O" if t.c_cflag & PARODD else "E"
        return {"baudrate": t.c_ospeed, "bits": bits, "parity": parity,
                "stop": 2 if t.c_cflag & CSTOPB else 1, "rtscts": bool(t.c_cflag & CRTSCTS)}

    @property
    def baudrate(self):
        """The output baud rate the driver set (bits/s)."""
        return self.settings()["baudrate"]

    cdef Py_ssize_t _read(self, char *buf, Py_ssize_t n, int64_t deadline) except -2:
        """Wait for input until ``deadline`` (-1: none); read what is there (up to n).
        Returns 0 at the deadline."""
        cdef ssize_t r
        cdef int err
        cdef bint waited = False
        while True:
            self.check("read")
            with nogil:
                r = read(self.fd, buf, n)
                err = errno
            if r > 0 or (r == 0 and (waited or n == 0)):
                return r
            if r == 0:
                # A serial tty in raw mode with VMIN = VTIME = 0 reads 0 bytes when nothing is
                # there, even with O_NONBLOCK (n_tty_read: no timeout -> return before the
                # EAGAIN check); wait for input, and take a 0 after a wakeup as hang-up/EOF.
                err = EAGAIN
            if err == EINTR:
                PyErr_CheckSignals()
                continue
            if err != EAGAIN:
                return raise_errno_msg(err, f"read: {self.path}")
            if deadline >= 0 and deadline <= now_ns():
                return 0
            try:
                wait_ready(self.fd, POLLIN, deadline)
            except TimeoutError:
                return 0
            waited = r == 0

    def readinto(self, buffer, nbytes=None, timeout=None, timeout_char=None):
        """Read into ``buffer`` (writable bytes-like; ``nbytes`` of it, default all): wait at
        most ``timeout`` seconds (None: forever, 0: only what is there) for the first byte,
        then keep reading while the next byte comes within ``timeout_char`` seconds (None:
        the same as ``timeout``) until ``nbytes`` have arrived.  Returns the count (0 when
        nothing came).  ValueError when closed."""
        cdef Py_buffer view
        cdef Py_ssize_t want, got = 0, r
        cdef int64_t t = _timeout(timeout, "readinto", "timeout")
        cdef int64_t tc = t if timeout_char is None else _timeout(timeout_char, "readinto",
                                                                    "timeout_char")
        self.check("readinto")
        writable_view(buffer, &view, "readinto", "buffer")
        try:
            if nbytes is None:
                want = view.len
            else:
                if isinstance(nbytes, bool) or not isinstance(nbytes, int):
                    raise TypeError(f"readinto() argument 'nbytes' must be an int, not "
                                    f"{type(nbytes).__name__}")
                if not 0 <= nbytes <= view.len:
                    raise ValueError(f"readinto() argument 'nbytes' must be in "
                                     f"0..{view.len} (the buffer's size), got {nbytes}")
                want = nbytes
            while got < want:
                r = self._read(<char*>view.buf + got, want - got,
                               deadline_after(t if got == 0 else tc))
                if r == 0:
                    break
                got += r
            return got
        finally:
            PyBuffer_Release(&view)

    def read(self, nbytes, timeout=None, timeout_char=None):
        """Read up to ``nbytes`` (as :meth:`readinto`); returns bytes (b"" when nothing came)."""
        if isinstance(nbytes, bool) or not isinstance(nbytes, int):
            raise TypeError(f"read() argument 'nbytes' must be an int, not "
                            f"{type(nbytes).__name__}")
        if not 0 <= nbytes <= 1 << 30:
            raise ValueError(f"read() argument 'nbytes' must be in 0..{1 << 30}, got {nbytes}")
        self.check("read")
        buf = bytearray(nbytes)
        n = self.readinto(buf, nbytes, timeout, timeout_char)
        return bytes(buf[:n])

    def write(self, data, timeout=None):
        """Write ``data`` (bytes-like or str, UTF-8), waiting up to ``timeout`` seconds (None:
        forever) for room in the driver's buffer.  Returns the count written: all of it, or
        fewer when the timeout passed (then TimeoutError if none was written)."""
        cdef Py_buffer view
        cdef Py_ssize_t done = 0
        cdef ssize_t r
        cdef int err
        cdef int64_t t = _timeout(timeout, "write", "timeout")
        cdef int64_t deadline = deadline_after(t)
        self.check("write")
        data_view(data, &view, "write", "data")
        try:
            while done < view.len:
                with nogil:
                    r = write(self.fd, <char*>view.buf + done, view.len - done)
                    err = errno
                if r >= 0:
                    done += r
                    continue
                if err == EINTR:
                    PyErr_CheckSignals()
                    continue
                if err != EAGAIN:
                    raise_errno_msg(err, f"write: {self.path}")
                try:
                    wait_ready(self.fd, POLLOUT, deadline)
                except TimeoutError:
                    if done:
                        break
                    raise
                self.check("write")
            return done
        finally:
            PyBuffer_Release(&view)

    @property
    def in_waiting(self):
        """Bytes received and not read yet (``TIOCINQ``)."""
        cdef int n = 0
        self.ioctl(TIOCINQ, &n, "in_waiting")
        return n

    @property
    def out_waiting(self):
        """Bytes written and not sent yet (``TIOCOUTQ``)."""
        cdef int n = 0
        self.ioctl(TIOCOUTQ, &n, "out_waiting")
        return n

    def drain(self, timeout=None):
        """Wait until everything written has left the driver's buffer (polled every
        millisecond, so it has a ``timeout`` in seconds, unlike ``tcdrain``); TimeoutError
        after it.  The last byte may still be in the UART's shift register."""
        import time
        cdef int64_t deadline = deadline_after(_timeout(timeout, "drain", "timeout"))
        while self.out_waiting:
            if deadline >= 0 and now_ns() >= deadline:
                raise TimeoutError(110, f"drain(): {self.path} still has bytes to send")
            time.sleep(0.001)

    def flush_input(self):
        """Discard bytes received and not read (``TCFLSH``/``TCIFLUSH``)."""
        from kiln.hw.fdio import _ioctl_int
        _ioctl_int(self, TCFLSH, TCIFLUSH, "flush_input")

    def send_break(self, duration=0.25):
        """Hold the line in the break condition for ``duration`` seconds (``TIOCSBRK``, sleep,
        ``TIOCCBRK``); blocks for that long.  Drivers without break support ignore it."""
        import time
        if isinstance(duration, bool) or not isinstance(duration, (int, float)) or \
                not 0 <= duration <= 60:
            raise ValueError(f"send_break() argument 'duration' must be 0..60 seconds, got "
                             f"{duration!r}")
        self.ioctl(TIOCSBRK, NULL, "send_break")
        try:
            time.sleep(duration)
        finally:
            if self.fd >= 0:
                self.ioctl(TIOCCBRK, NULL, "send_break")
