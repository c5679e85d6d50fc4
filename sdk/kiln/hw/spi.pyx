"""SPI over spidev (``/dev/spidevB.C``: bus B, chip select C): full-duplex transfers by
``SPI_IOC_MESSAGE(n)``, the mode (CPOL/CPHA, LSB first, CS active high, no CS), bits per word
and the maximum clock by the ``SPI_IOC_RD/WR_*`` ioctls.

A transfer blocks until the controller has clocked every byte (no fd to poll: the kernel's
SPI core bounds it by the controller's timeout, at the clock rate it is long before that);
EINTR before it starts is retried after Python's signal handlers.
"""
from libc.string cimport memset
from libc.stdint cimport uint8_t, uint32_t, uint64_t, uintptr_t
from libc.stdlib cimport malloc, free, calloc
from cpython.buffer cimport PyBuffer_Release

from kiln.hw.linux cimport *
from kiln.hw.fdio cimport Device, open_device
from kiln.net.buffers cimport data_view, writable_view

CPHA = SPI_CPHA
CPOL = SPI_CPOL
CS_HIGH = SPI_CS_HIGH
LSB_FIRST = SPI_LSB_FIRST
NO_CS = SPI_NO_CS
#: Most bytes spidev moves in one message by default (its ``bufsiz`` parameter).
DEFAULT_BUFSIZ = 4096


cdef int _check_options(length, speed_hz, delay_us) except -1:
    """transfer()'s optional arguments: ints (not bools) in their ranges."""
    for pname, pv in (("length", length), ("speed_hz", speed_hz), ("delay_us", delay_us)):
        if pv is not None and (isinstance(pv, bool) or not isinstance(pv, int)):
            raise TypeError(f"transfer() argument '{pname}' must be an int, not "
                            f"{type(pv).__name__}")
    if not 0 <= speed_hz <= 0xFFFFFFFF:
        raise ValueError(f"transfer() argument 'speed_hz' must be an int in "
                         f"0..4294967295, got {speed_hz!r}")
    if not 0 <= delay_us <= 0xFFFF:
        raise ValueError(f"transfer() argument 'delay_us' must be an int in 0..65535, got "
                         f"{delay_us!r}")
    return 0


cdef class SPIDevice(Device):
    """One spidev device (a bus and a chip select), opened read-write.

    ``SPIDevice(path, mode=0, bits=8, speed_hz=None, lsb_first=False)``: ``mode`` 0..3 (CPOL =
    bit 1, CPHA = bit 0) possibly ORed with :data:`CS_HIGH`/:data:`NO_CS`; ``speed_hz`` None
    keeps the device's.  FileNotFoundError naming the path when there is no such spidev."""

    def __init__(self, path, mode=0, bits=8, speed_hz=None, lsb_first=False):
        self.fd = open_device(path, O_RDWR, "SPIDevice")
        self.path = str(path)
        try:
            self.configure(mode=mode, bits=bits, speed_hz=speed_hz, lsb_first=lsb_first)
        except BaseException:
            self._close()
            raise

    def configure(self, mode=None, bits=None, speed_hz=None, lsb_first=None):
        """Set what is given (None: unchanged).  ``mode`` 0..3 plus flags, ``bits`` 1..32 (the
        controller may allow fewer: OSError EINVAL), ``speed_hz`` > 0, ``lsb_first`` bool."""
        cdef uint32_t m32, speed
        cdef uint8_t b8, lsb
        if mode is not None:
            if isinstance(mode, bool) or not isinstance(mode, int):
                raise TypeError(f"configure() argument 'mode' must be an int, not "
                                f"{type(mode).__name__}")
            if mode & ~(3 | SPI_CS_HIGH | SPI_NO_CS | SPI_LSB_FIRST) or mode < 0:
                raise ValueError(f"configure() argument 'mode' must be 0..3 (CPOL<<1 | CPHA), "
                                 f"optionally | CS_HIGH | NO_CS | LSB_FIRST, got {mode:#x}")
        if bits is not None:
            if isinstance(bits, bool) or not isinstance(bits, int):
                raise TypeError(f"configure() argument 'bits' must be an int, not "
                                f"{type(bits).__name__}")
            if not 1 <= bits <= 32:
                raise ValueError(f"configure() argument 'bits' must be in 1..32, got {bits}")
        if speed_hz is not None:
            if isinstance(speed_hz, bool) or not isinstance(speed_hz, int):
                raise TypeError(f"configure() argument 'speed_hz' must be an int (Hz), not "
                                f"{type(speed_hz).__name__}")
            if not 1 <= speed_hz <= 0xFFFFFFFF:
                raise ValueError(f"configure() argument 'speed_hz' must be in "
                                 f"1..4294967295 Hz, got {speed_hz}")
        if lsb_first is not None and not isinstance(lsb_first, (bool, int)):
            raise TypeError(f"configure() argument 'lsb_first' must be a bool, not "
                            f"{type(lsb_first).__name__}")
        if mode is not None:
            m32 = mode
            self.ioctl(SPI_IOC_WR_MODE32, &m32, "configure(mode)")
        if bits is not None:
            b8 = bits
            self.ioctl(SPI_IOC_WR_BITS_PER_WORD, &b8, "configure(bits)")
        if speed_hz is not None:
            speed = speed_hz
            self.ioctl(SPI_IOC_WR_MAX_SPEED_HZ, &speed, "configure(speed_hz)")
        if lsb_first is not None:
            lsb = SPI_LSB_FIRST if lsb_first else 0
            self.ioctl(SPI_IOC_WR_LSB_FIRST, &lsb, "configure(lsb_first)")

    @property
    def mode(self):
        """The mode bits (``SPI_IOC_RD_MODE32``)."""
        cdef uint32_t m = 0
        self.ioctl(SPI_IOC_RD_MODE32, &m, "mode")
        return m

    @property
    def bits(self):
        """Bits per word."""
        cdef uint8_t b = 0
        self.ioctl(SPI_IOC_RD_BITS_PER_WORD, &b, "bits")
        return b if b else 8

    @property
    def speed_hz(self):
        """The maximum clock in Hz."""
        cdef uint32_t s = 0
        self.ioctl(SPI_IOC_RD_MAX_SPEED_HZ, &s, "speed_hz")
        return s

    @property
    def lsb_first(self):
        """True when words go least significant bit first."""
        cdef uint8_t l = 0
        self.ioctl(SPI_IOC_RD_LSB_FIRST, &l, "lsb_first")
        return bool(l)

    def transfer(self, tx=None, rx=None, *, length=None, speed_hz=0, delay_us=0,
                 cs_change=False):
        """One full-duplex transfer (chip select held during it): writes ``tx`` (bytes-like;
        None sends zeros), reads into ``rx`` (writable bytes-like; None discards) -- as many
        bytes as the longer of them, or ``length`` when both are None; when both are given
        they must be the same length.  ``speed_hz`` (0: the device's), ``delay_us`` after the
        transfer, ``cs_change`` (deselect after it; for the last transfer of a message it
        leaves the device selected until the next message).  Returns None.  One
        ``SPI_IOC_MESSAGE(1)`` built on the stack (the common case, kept short)."""
        cdef spi_ioc_transfer x
        cdef Py_buffer tv, rv
        cdef bint has_tx = False, has_rx = False
        cdef Py_ssize_t n = -1
        if not (speed_hz is 0 and delay_us is 0 and length is None):   # the common call
            _check_options(length, speed_hz, delay_us)
        self.check("transfer")
        memset(&x, 0, sizeof(x))
        try:
            if tx is not None:
                data_view(tx, &tv, "transfer", "tx")
                has_tx = True
                x.tx_buf = <uintptr_t>tv.buf
                n = tv.len
            if rx is not None:
                writable_view(rx, &rv, "transfer", "rx")
                has_rx = True
                x.rx_buf = <uintptr_t>rv.buf
                if n >= 0 and n != rv.len:
                    raise ValueError(f"transfer(): tx ({n} bytes) and rx ({rv.len} bytes) "
                                     f"must be the same length (full duplex)")
                n = rv.len
            if n < 0:
                if length is None or length < 0:
                    raise ValueError(f"transfer(): with neither tx nor rx, 'length' must be "
                                     f"an int >= 0, got {length!r}")
                n = length
            elif length is not None and length != n:
                raise ValueError(f"transfer(): 'length' is {length!r} but the buffers hold "
                                 f"{n} bytes")
            if n > 0xFFFFFFFF:
                raise ValueError("transfer(): a transfer is at most 4 GiB")
            x.len = <uint32_t>n
            x.speed_hz = speed_hz
            x.delay_usecs = delay_us
            x.cs_change = 1 if cs_change else 0
            self.ioctl(SPI_IOC_MESSAGE(1), &x, "transfer")
        finally:
            if has_tx:
                PyBuffer_Release(&tv)
            if has_rx:
                PyBuffer_Release(&rv)

    def transfers(self, items, str func="transfers"):
        """Several transfers in one message (``SPI_IOC_MESSAGE(n)``: chip select stays active
        between them unless one sets ``cs_change``).  ``items``: sequence of ``(tx, rx,
        length, speed_hz, delay_us, cs_change)`` tuples as :meth:`transfer` takes them."""
        cdef spi_ioc_transfer *xfers
        cdef Py_buffer *views
        cdef char *views_used
        cdef int n, i, k
        cdef Py_ssize_t length
        if isinstance(items, (str, bytes)) or not hasattr(items, "__len__"):
            raise TypeError(f"{func}() argument 'items' must be a sequence of tuples")
        lst = list(items)
        n = len(lst)
        if not 0 < n <= 256:
            raise ValueError(f"{func}(): a message holds 1..256 transfers, got {n}")
        self.check(func)
        xfers = <spi_ioc_transfer*>calloc(n, sizeof(spi_ioc_transfer))
        views = <Py_buffer*>calloc(2 * n, sizeof(Py_buffer))
        views_used = <char*>calloc(2 * n, 1)
        if xfers == NULL or views == NULL or views_used == NULL:
            free(xfers); free(views); free(views_used)
            raise MemoryError()
        try:
            for i in range(n):
                it = lst[i]
                if not (isinstance(it, tuple) and len(it) == 6):
                    raise TypeError(f"{func}(): item {i} must be (tx, rx, length, speed_hz, "
                                    f"delay_us, cs_change), got {it!r}")
                tx, rx, nbytes, speed, delay, csc = it
                for pname, pv in (("length", nbytes), ("speed_hz", speed), ("delay_us", delay)):
                    if pv is not None and (isinstance(pv, bool) or not isinstance(pv, int)):
                        raise TypeError(f"{func}() argument '{pname}' must be an int, not "
                                        f"{type(pv).__name__}")
                length = -1
                if tx is not None:
                    data_view(tx, &views[2 * i], func, "tx")
                    views_used[2 * i] = 1
                    xfers[i].tx_buf = <uintptr_t>views[2 * i].buf
                    length = views[2 * i].len
                if rx is not None:
                    writable_view(rx, &views[2 * i + 1], func, "rx")
                    views_used[2 * i + 1] = 1
                    xfers[i].rx_buf = <uintptr_t>views[2 * i + 1].buf
                    if length >= 0 and length != views[2 * i + 1].len:
                        raise ValueError(f"{func}(): tx ({length} bytes) and rx "
                                         f"({views[2 * i + 1].len} bytes) must be the same "
                                         f"length (full duplex)")
                    length = views[2 * i + 1].len
                if length < 0:
                    if isinstance(nbytes, bool) or not isinstance(nbytes, int) or nbytes < 0:
                        raise ValueError(f"{func}(): with neither tx nor rx, 'length' must be "
                                         f"an int >= 0, got {nbytes!r}")
                    length = nbytes
                elif nbytes is not None and nbytes != length:
                    raise ValueError(f"{func}(): 'length' is {nbytes!r} but the buffers hold "
                                     f"{length} bytes")
                if length > 0xFFFFFFFF:
                    raise ValueError(f"{func}(): a transfer is at most 4 GiB")
                if isinstance(speed, bool) or not isinstance(speed, int) or \
                        not 0 <= speed <= 0xFFFFFFFF:
                    raise ValueError(f"{func}() argument 'speed_hz' must be an int in "
                                     f"0..4294967295, got {speed!r}")
                if isinstance(delay, bool) or not isinstance(delay, int) or \
                        not 0 <= delay <= 0xFFFF:
                    raise ValueError(f"{func}() argument 'delay_us' must be an int in "
                                     f"0..65535, got {delay!r}")
                xfers[i].len = <uint32_t>length
                xfers[i].speed_hz = speed
                xfers[i].delay_usecs = delay
                xfers[i].cs_change = 1 if csc else 0
            self.ioctl(SPI_IOC_MESSAGE(n), xfers, func)
        finally:
            for k in range(2 * n):
                if views_used[k]:
                    PyBuffer_Release(&views[k])
            free(xfers); free(views); free(views_used)
