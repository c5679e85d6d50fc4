"""The watchdog, ``/dev/watchdog`` (linux/watchdog.h).

Opening the device starts the watchdog; :meth:`Watchdog.keepalive` (``WDIOC_KEEPALIVE``)
restarts its count; ``timeout`` is ``WDIOC_SETTIMEOUT``/``WDIOC_GETTIMEOUT`` in whole seconds
(the driver may round: read it back).  Closing the device normally leaves the watchdog running
-- the board resets unless some process opens it again and keeps it fed -- which is what an
application that crashes needs.  Only ``close(magic=True)`` writes the magic character 'V'
first, which stops a driver that supports magic close (WDIOF_MAGICCLOSE) unless the kernel was
built with ``CONFIG_WATCHDOG_NOWAYOUT`` or the driver was loaded with ``nowayout=1``: then
nothing stops it.
"""
from libc.string cimport memset
from libc.stdint cimport uint32_t

from kiln.hw.linux cimport *
from kiln.hw.fdio cimport Device, open_device
from kiln.net.errors cimport raise_errno_msg
from kiln.net.libc cimport errno


cdef class Watchdog(Device):
    """``Watchdog(path="/dev/watchdog", timeout=None)``: opens (and so starts) the watchdog,
    then sets ``timeout`` seconds when given.  OSError EBUSY when another process has it open;
    FileNotFoundError naming the path when the board has no watchdog driver loaded."""

    cdef readonly str identity
    cdef readonly unsigned int options

    def __init__(self, path="/dev/watchdog", timeout=None):
        cdef watchdog_info info
        self.fd = open_device(path, O_WRONLY, "Watchdog")
        self.path = str(path)
        try:
            memset(&info, 0, sizeof(info))
            self.ioctl(WDIOC_GETSUPPORT, &info, "Watchdog")
            self.identity = (<bytes>(<char*>info.identity)).decode("utf-8", "replace")
            self.options = info.options
            if timeout is not None:
                self.timeout = timeout
        except BaseException:
            self._close()           # (leaves it running: the caller never owned it cleanly)
            raise

    @property
    def timeout(self):
        """The timeout in seconds (``WDIOC_GETTIMEOUT``)."""
        cdef int t = 0
        self.ioctl(WDIOC_GETTIMEOUT, &t, "timeout")
        return t

    @timeout.setter
    def timeout(self, seconds):
        cdef int t
        if isinstance(seconds, bool) or not isinstance(seconds, int):
            raise TypeError(f"timeout must be an int (seconds), not {type(seconds).__name__}")
        if not 1 <= seconds <= 65535:
            raise ValueError(f"timeout must be in 1..65535 seconds, got {seconds}")
        if not self.options & WDIOF_SETTIMEOUT:
            raise ValueError(f"timeout: the watchdog {self.identity!r} ({self.path}) has a "
                             f"fixed timeout (no WDIOF_SETTIMEOUT)")
        t = seconds
        self.ioctl(WDIOC_SETTIMEOUT, &t, "timeout")

    @property
    def timeleft(self):
        """Seconds until the reset (``WDIOC_GETTIMELEFT``); OSError(ENOTTY) where the driver
        cannot tell."""
        cdef int t = 0
        self.ioctl(WDIOC_GETTIMELEFT, &t, "timeleft")
        return t

    def keepalive(self):
        """Restart the watchdog's count.  Never blocks."""
        cdef int dummy = 0
        self.ioctl(WDIOC_KEEPALIVE, &dummy, "keepalive")

    def close(self, magic=False):
        """Close the device.  Without ``magic`` the watchdog keeps running (the board resets
        when nobody feeds it).  ``magic=True`` writes 'V' first: drivers with magic close stop
        the watchdog (unless nowayout); ValueError for drivers without it."""
        cdef ssize_t r
        if magic and self.fd >= 0:
            if not self.options & WDIOF_MAGICCLOSE:
                raise ValueError(f"close(): the watchdog {self.identity!r} has no magic close "
                                 f"(WDIOF_MAGICCLOSE); it cannot be stopped")
            r = write(self.fd, b"V", 1)
            if r < 0:
                raise_errno_msg(errno, f"close: {self.path}")
        self._close()

    def __exit__(self, *exc):
        self._close()
        return False
