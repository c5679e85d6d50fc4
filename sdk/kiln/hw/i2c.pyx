"""I2C over ``/dev/i2c-N`` (i2c-dev): combined transactions by ``I2C_RDWR``, SMBus by
``I2C_SMBUS``, the adapter's abilities by ``I2C_FUNCS``.

Addresses are 7-bit (0..0x7f); 10-bit addresses (``ten_bit=True``) only where the adapter
reports ``I2C_FUNC_10BIT_ADDR``, else ValueError says so.  A device that does not answer makes
the kernel return ENXIO (or EREMOTEIO/EIO, per controller): OSError naming the address.
Transfers block in the kernel for at most the adapter's timeout (``set_timeout``), which the
controller enforces (there is no fd to poll); EINTR before the transfer starts is retried after
Python's signal handlers, as the socket core does.
"""
from libc.string cimport memset, memcpy
from libc.stdint cimport uint8_t, uint16_t, uint32_t
from libc.stdlib cimport malloc, free
from cpython.buffer cimport PyBuffer_Release

from kiln.hw.linux cimport *
from kiln.hw.fdio cimport Device, open_device
from kiln.net.buffers cimport data_view, writable_view

FUNC_I2C = I2C_FUNC_I2C
FUNC_10BIT_ADDR = I2C_FUNC_10BIT_ADDR
FUNC_NOSTART = I2C_FUNC_NOSTART
FUNC_SMBUS_QUICK = I2C_FUNC_SMBUS_QUICK
FUNC_SMBUS_READ_BYTE = I2C_FUNC_SMBUS_READ_BYTE
#: Most messages one I2C_RDWR carries (the kernel's limit).
MAX_MESSAGES = I2C_RDWR_IOCTL_MAX_MSGS
#: Most bytes in one message (its length field is 16 bits; the kernel caps at 8192).
MAX_MESSAGE = 8192


cdef class I2CBus(Device):
    """An I2C adapter, ``/dev/i2c-N``, opened read-write.  FileNotFoundError naming the path
    when the bus is not there (its controller or i2c-dev not loaded)."""

    cdef readonly unsigned long funcs
    cdef int bound       # address the fd is bound to by I2C_SLAVE for SMBus (-1: none)

    def __init__(self, path):
        cdef unsigned long f = 0
        self.fd = open_device(path, O_RDWR, "I2CBus")
        self.path = str(path)
        self.bound = -1
        try:
            self.ioctl(I2C_FUNCS, &f, "I2CBus")
        except BaseException:
            self._close()
            raise
        self.funcs = f

    cdef int _addr(self, object addr, bint ten_bit, str func) except -1:
        if isinstance(addr, bool) or not isinstance(addr, int):
            raise TypeError(f"{func}() argument 'addr' must be an int, not "
                            f"{type(addr).__name__}")
        if ten_bit:
            if not self.funcs & I2C_FUNC_10BIT_ADDR:
                raise ValueError(f"{func}(): 10-bit addresses are not supported by the "
                                 f"adapter of {self.path} (no I2C_FUNC_10BIT_ADDR)")
            if not 0 <= addr <= 0x3ff:
                raise ValueError(f"{func}() argument 'addr' must be a 10-bit address "
                                 f"0..0x3ff, got {addr:#x}")
        elif not 0 <= addr <= 0x7f:
            raise ValueError(f"{func}() argument 'addr' must be a 7-bit address 0..0x7f, got "
                             f"{addr:#x}" + (" (10-bit addresses need ten_bit=True)"
                                             if 0x7f < addr <= 0x3ff else ""))
        return addr

    def set_timeout(self, ms):
        """Set the adapter's transfer timeout (``I2C_TIMEOUT``; the kernel counts in 10 ms,
        rounded up; at least 10 ms).  Applies to every user of the bus."""
        if isinstance(ms, bool) or not isinstance(ms, int):
            raise TypeError(f"set_timeout() argument 'ms' must be an int, not "
                            f"{type(ms).__name__}")
        if not 1 <= ms <= 600000:
            raise ValueError(f"set_timeout() argument 'ms' must be in 1..600000, got {ms}")
        self.check("set_timeout")
        from kiln.hw.fdio import _ioctl_int
        _ioctl_int(self, I2C_TIMEOUT, (ms + 9) // 10, "set_timeout")

    def transfer(self, addr, segments, ten_bit=False):
        """One combined transaction (``I2C_RDWR``: repeated starts between messages, one stop
        at the end) with device ``addr``.  ``segments``: a sequence of ``("w", data)`` (bytes-
        like, written) and ``("r", buffer)`` (writable bytes-like, filled) pairs; ``("W",
        data)`` continues the previous write without a new start (``I2C_M_NOSTART``: needs
        I2C_FUNC_NOSTART).  Blocks until the transfer ends (the adapter's timeout).
        OSError ENXIO/EREMOTEIO/EIO when the device does not acknowledge."""
        cdef i2c_rdwr_ioctl_data data
        cdef i2c_msg *msgs
        cdef Py_buffer *views
        cdef int n, i, got = 0
        cdef uint16_t a = self._addr(addr, ten_bit, "transfer")
        if isinstance(segments, (str, bytes)) or not hasattr(segments, "__len__"):
            raise TypeError(f"transfer() argument 'segments' must be a sequence of (kind, "
                            f"buffer) pairs, not {type(segments).__name__}")
        segs = list(segments)
        n = len(segs)
        if not 0 < n <= I2C_RDWR_IOCTL_MAX_MSGS:
            raise ValueError(f"transfer() argument 'segments' must hold 1..{MAX_MESSAGES} "
                             f"messages, got {n}")
        self.check("transfer")
        msgs = <i2c_msg*>malloc(n * sizeof(i2c_msg))
        views = <Py_buffer*>malloc(n * sizeof(Py_buffer))
        if msgs == NULL or views == NULL:
            free(msgs)
            free(views)
            raise MemoryError()
        try:
            for i in range(n):
                seg = segs[i]
                if not (isinstance(seg, tuple) and len(seg) == 2 and seg[0] in ("r", "w", "W")):
                    raise ValueError(f"transfer() argument 'segments' item {i} must be ('r', "
                                     f"buffer), ('w', data) or ('W', data), got {seg!r}")
                if seg[0] == "r":
                    writable_view(seg[1], &views[i], "transfer", f"segments[{i}]")
                else:
                    data_view(seg[1], &views[i], "transfer", f"segments[{i}]")
                got += 1
                if views[i].len > MAX_MESSAGE:
                    raise ValueError(f"transfer(): segments[{i}] is {views[i].len} bytes; one "
                                     f"I2C message holds at most {MAX_MESSAGE}")
                msgs[i].addr = a
                msgs[i].flags = (I2C_M_TEN if ten_bit else 0)
                if seg[0] == "r":
                    msgs[i].flags |= I2C_M_RD
                elif seg[0] == "W":
                    if i == 0 or segs[i - 1][0] == "r":
                        raise ValueError(f"transfer(): segments[{i}] ('W') must follow a write")
                    if not self.funcs & I2C_FUNC_NOSTART:
                        raise ValueError(f"transfer(): the adapter of {self.path} cannot "
                                         f"continue a write without a start (no "
                                         f"I2C_FUNC_NOSTART)")
                    msgs[i].flags |= I2C_M_NOSTART
                msgs[i].len = <uint16_t>views[i].len
                msgs[i].buf = <uint8_t*>views[i].buf
            data.msgs = msgs
            data.nmsgs = n
            self.ioctl(I2C_RDWR, &data, f"transfer to {addr:#04x}")
        finally:
            for i in range(got):
                PyBuffer_Release(&views[i])
            free(msgs)
            free(views)

    cdef int _bind(self, int addr, str func) except -1:
        if self.bound != addr:
            self.check(func)
            from kiln.hw.fdio import _ioctl_int
            _ioctl_int(self, I2C_SLAVE, addr, func)
            self.bound = addr
        return 0

    cdef int _smbus(self, object addr, int rw, int command, int size, i2c_smbus_data *d,
                    str func) except -1:
        cdef i2c_smbus_ioctl_data args
        cdef int a
        a = self._addr(addr, False, func)
        if not 0 <= command <= 255:
            raise ValueError(f"{func}() argument 'register' must be in 0..255, got {command}")
        self._bind(a, func)
        args.read_write = rw
        args.command = command
        args.size = size
        args.data = d
        return self.ioctl(I2C_SMBUS, &args, f"{func} at {addr:#04x}")

    def write_quick(self, addr):
        """SMBus quick write (the R/W bit only): whether a device acknowledges ``addr``.
        OSError when none does."""
        self._smbus(addr, I2C_SMBUS_WRITE, 0, I2C_SMBUS_QUICK, NULL, "write_quick")

    def read_byte(self, addr):
        """SMBus receive byte: one byte from ``addr`` (int)."""
        cdef i2c_smbus_data d
        self._smbus(addr, I2C_SMBUS_READ, 0, I2C_SMBUS_BYTE, &d, "read_byte")
        return d.byte

    def read_byte_data(self, addr, register):
        """SMBus read byte data: register ``register`` (0..255) of ``addr`` (int 0..255)."""
        cdef i2c_smbus_data d
        self._smbus(addr, I2C_SMBUS_READ, _reg(register, "read_byte_data"),
                    I2C_SMBUS_BYTE_DATA, &d, "read_byte_data")
        return d.byte

    def write_byte_data(self, addr, register, value):
        """SMBus write byte data: ``value`` (0..255) to register ``register``."""
        cdef i2c_smbus_data d
        d.byte = _u(value, 0xff, "write_byte_data", "value")
        self._smbus(addr, I2C_SMBUS_WRITE, _reg(register, "write_byte_data"),
                    I2C_SMBUS_BYTE_DATA, &d, "write_byte_data")

    def read_word_data(self, addr, register):
        """SMBus read word data (little-endian, as SMBus sends it): int 0..65535."""
        cdef i2c_smbus_data d
        self._smbus(addr, I2C_SMBUS_READ, _reg(register, "read_word_data"),
                    I2C_SMBUS_WORD_DATA, &d, "read_word_data")
        return d.word

    def write_word_data(self, addr, register, value):
        """SMBus write word data: ``value`` (0..65535) little-endian to register ``register``."""
        cdef i2c_smbus_data d
        d.word = _u(value, 0xffff, "write_word_data", "value")
        self._smbus(addr, I2C_SMBUS_WRITE, _reg(register, "write_word_data"),
                    I2C_SMBUS_WORD_DATA, &d, "write_word_data")

    def read_i2c_block_data(self, addr, register, length):
        """I2C block read (SMBus emulation): ``length`` (1..32) bytes from register
        ``register``; returns bytes."""
        cdef i2c_smbus_data d
        n = _u(length, I2C_SMBUS_BLOCK_MAX, "read_i2c_block_data", "length")
        if n == 0:
            raise ValueError("read_i2c_block_data() argument 'length' must be in 1..32, got 0")
        d.block[0] = n
        self._smbus(addr, I2C_SMBUS_READ, _reg(register, "read_i2c_block_data"),
                    I2C_SMBUS_I2C_BLOCK_DATA, &d, "read_i2c_block_data")
        return bytes(d.block[1:1 + d.block[0]])

    def write_i2c_block_data(self, addr, register, data):
        """I2C block write (SMBus emulation): ``data`` (1..32 bytes) to register ``register``."""
        cdef i2c_smbus_data d
        b = bytes(data) if not isinstance(data, str) else None
        if b is None:
            raise TypeError("write_i2c_block_data() argument 'data' must be bytes-like, not str")
        if not 1 <= len(b) <= I2C_SMBUS_BLOCK_MAX:
            raise ValueError(f"write_i2c_block_data() argument 'data' must be 1..32 bytes, "
                             f"got {len(b)}")
        d.block[0] = len(b)
        memcpy(&d.block[1], <const char*>b, len(b))
        self._smbus(addr, I2C_SMBUS_WRITE, _reg(register, "write_i2c_block_data"),
                    I2C_SMBUS_I2C_BLOCK_DATA, &d, "write_i2c_block_data")

    def probe(self, addr):
        """Whether a device answers at ``addr`` (0x08..0x77): the probe i2cdetect uses (a read
        byte for 0x30..0x37 and 0x50..0x5f, where a quick write could corrupt an EEPROM, a quick
        write elsewhere; a read when the adapter has no quick command).  Never raises for a
        missing device; OSError EBUSY is reported as present (a kernel driver owns it)."""
        if isinstance(addr, bool) or not isinstance(addr, int):
            raise TypeError(f"probe() argument 'addr' must be an int, not {type(addr).__name__}")
        if not 0x08 <= addr <= 0x77:
            raise ValueError(f"probe() argument 'addr' must be in 0x08..0x77 (the addresses "
                             f"a scan may touch), got {addr:#x}")
        buf = bytearray(1)
        try:
            if (0x30 <= addr <= 0x37 or 0x50 <= addr <= 0x5f
                    or not self.funcs & I2C_FUNC_SMBUS_QUICK):
                self.transfer(addr, [("r", buf)])
            else:
                self.write_quick(addr)
        except OSError as exc:
            if exc.errno == 16:         # EBUSY: a kernel driver holds the address
                return True
            return False
        return True


cdef int _reg(object register, str func) except -1:
    return _u(register, 0xff, func, "register")


cdef int _u(object value, int hi, str func, str name) except -1:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{func}() argument '{name}' must be an int, not {type(value).__name__}")
    if not 0 <= value <= hi:
        raise ValueError(f"{func}() argument '{name}' must be in 0..{hi}, got {value}")
    return value
