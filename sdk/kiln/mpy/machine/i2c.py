"""``machine.I2C`` (docs/library/machine.I2C.rst) over i2c-dev (kiln.hw.i2c).

``I2C(id)``: ``id`` is MicroPython's bus number in the board file (on a Pi, ``I2C(1)`` is the
header bus).  ``freq`` is accepted and kept, but the bus clock is the device tree's
(``clock-frequency``): Linux has no call to change it.  ``timeout`` (µs) sets the adapter's
transfer timeout.  ``stop=False`` on a write is honoured the way hardware does it: the write is
held and sent with the next read from the same address as one combined transaction (repeated
start, ``I2C_RDWR``); any other next call sends it on its own first.
Errors: a device that does not acknowledge raises ``OSError(ENODEV)``; the primitive operations
(``start``, ``stop``, ``readinto``, ``write``) raise ``OSError(EOPNOTSUPP)``: i2c-dev cannot
leave the bus between a START and a STOP.
"""
import errno

from kiln.hw import resolve
from kiln.hw.i2c import I2CBus

_NACK = (errno.ENXIO, errno.EREMOTEIO, errno.EIO, errno.ENODEV)


def _check_addr(func, addr):
    if isinstance(addr, bool) or not isinstance(addr, int):
        raise TypeError(f"I2C.{func}(): addr must be an int, not {type(addr).__name__}")
    if not 0 <= addr <= 0x7F:
        raise ValueError(f"I2C.{func}(): addr must be a 7-bit address 0..0x7f, got {addr:#x}")


class I2C:
    """``I2C(id, *, scl=None, sda=None, freq=400000, timeout=50000)``."""

    def __init__(self, id, *, scl=None, sda=None, freq=400000, timeout=50000):
        if scl is not None or sda is not None:
            raise ValueError("I2C(): scl/sda are fixed by the device tree on Linux; pass only "
                             "the bus id (SoftI2C bit-banging is not provided)")
        if isinstance(id, bool) or not isinstance(id, (int, str)):
            raise TypeError(f"I2C(): id must be an int, not {type(id).__name__}")
        self._spec = resolve.bus("i2c", id)
        self._bus = None
        self._pending = None
        self.init(freq=freq, timeout=timeout)

    def init(self, *, freq=400000, timeout=50000, scl=None, sda=None):
        """(Re)open the bus; ``freq`` in Hz (kept, see module doc), ``timeout`` in µs."""
        if isinstance(freq, bool) or not isinstance(freq, int) or freq <= 0:
            raise ValueError(f"I2C.init(): freq must be a positive int (Hz), got {freq!r}")
        if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout <= 0:
            raise ValueError(f"I2C.init(): timeout must be a positive int (µs), got {timeout!r}")
        self.deinit()
        self._bus = I2CBus(resolve.i2c_device(self._spec.id))
        self._freq = freq
        try:
            self._bus.set_timeout(max(10, (timeout + 999) // 1000))
        except OSError:
            pass        # adapters without a settable timeout keep theirs

    def deinit(self):
        """Close the bus (idempotent)."""
        if self._bus is not None:
            self._bus.close()
            self._bus = None
        self._pending = None

    def _b(self, func):
        if self._bus is None:
            raise OSError(errno.EBADF, f"I2C.{func}(): the bus is closed (deinit)")
        return self._bus

    def _transfer(self, addr, segments):
        try:
            self._b("transfer").transfer(addr, segments)
        except OSError as exc:
            if exc.errno in _NACK:
                raise OSError(errno.ENODEV, f"no acknowledge from I2C device {addr:#04x} on "
                                            f"{self._spec.name} ({exc.strerror})") from None
            raise

    def _flush(self):
        pending, self._pending = self._pending, None
        if pending is not None:
            self._transfer(pending[0], [("w", pending[1])])

    def scan(self):
        """Addresses 0x08..0x77 that acknowledge (list of ints), as i2cdetect probes them."""
        bus = self._b("scan")
        self._flush()
        return [a for a in range(0x08, 0x78) if bus.probe(a)]

    def readfrom_into(self, addr, buf, stop=True):
        """Read ``len(buf)`` bytes from ``addr`` into ``buf``; a held ``stop=False`` write to
        ``addr`` goes first in the same transaction.  OSError(ENODEV) on no acknowledge."""
        _check_addr("readfrom_into", addr)
        self._b("readfrom_into")
        memoryview(buf)
        segments = [("r", buf)]
        if self._pending is not None and self._pending[0] == addr:
            segments.insert(0, ("w", self._pending[1]))
            self._pending = None
        else:
            self._flush()
        self._transfer(addr, segments)

    def readfrom(self, addr, nbytes, stop=True):
        """Read ``nbytes`` from ``addr``; returns bytes."""
        if isinstance(nbytes, bool) or not isinstance(nbytes, int) or nbytes < 0:
            raise ValueError(f"I2C.readfrom(): nbytes must be an int >= 0, got {nbytes!r}")
        buf = bytearray(nbytes)
        self.readfrom_into(addr, buf, stop)
        return bytes(buf)

    def writeto(self, addr, buf, stop=True):
        """Write ``buf`` to ``addr``; returns the number of bytes acknowledged (all of them:
        Linux reports a NACK as an error).  ``stop=False``: held for the next read (module
        doc)."""
        _check_addr("writeto", addr)
        self._b("writeto")
        data = bytes(buf) if not isinstance(buf, str) else None
        if data is None:
            raise TypeError("I2C.writeto(): buf must be bytes-like, not str")
        self._flush()
        if not stop:
            self._pending = (addr, data)
            return len(data)
        self._transfer(addr, [("w", data)])
        return len(data)

    def writevto(self, addr, vector, stop=True):
        """Write the buffers of ``vector`` to ``addr`` as one message (one START, one address
        byte); returns the bytes acknowledged."""
        data = b"".join(bytes(b) for b in vector)
        return self.writeto(addr, data, stop)

    def _memaddr(self, memaddr, addrsize):
        if addrsize not in (8, 16, 24, 32):
            raise ValueError(f"I2C: addrsize must be 8, 16, 24 or 32, got {addrsize!r}")
        if isinstance(memaddr, bool) or not isinstance(memaddr, int) or \
                not 0 <= memaddr < 1 << addrsize:
            raise ValueError(f"I2C: memaddr must be an int in 0..{(1 << addrsize) - 1}, got "
                             f"{memaddr!r}")
        return memaddr.to_bytes(addrsize // 8, "big")

    def readfrom_mem_into(self, addr, memaddr, buf, *, addrsize=8):
        """Write ``memaddr`` (``addrsize`` bits, big-endian), then read into ``buf`` with a
        repeated start: one ``I2C_RDWR`` transaction."""
        _check_addr("readfrom_mem_into", addr)
        self._b("readfrom_mem_into")
        self._flush()
        self._transfer(addr, [("w", self._memaddr(memaddr, addrsize)), ("r", buf)])

    def readfrom_mem(self, addr, memaddr, nbytes, *, addrsize=8):
        """``nbytes`` from register/memory address ``memaddr``; returns bytes."""
        if isinstance(nbytes, bool) or not isinstance(nbytes, int) or nbytes < 0:
            raise ValueError(f"I2C.readfrom_mem(): nbytes must be an int >= 0, got {nbytes!r}")
        buf = bytearray(nbytes)
        self.readfrom_mem_into(addr, memaddr, buf, addrsize=addrsize)
        return bytes(buf)

    def writeto_mem(self, addr, memaddr, buf, *, addrsize=8):
        """Write ``buf`` at ``memaddr``: address bytes and data in one message."""
        _check_addr("writeto_mem", addr)
        self._b("writeto_mem")
        self._flush()
        self._transfer(addr, [("w", self._memaddr(memaddr, addrsize) + bytes(buf))])

    def _primitive(self, name):
        raise OSError(errno.EOPNOTSUPP, f"I2C.{name}(): Linux's i2c-dev does whole "
                                        f"transactions only; there is no bare START/STOP/"
                                        f"byte primitive (use readfrom/writeto/... )")

    def start(self):
        self._primitive("start")

    def stop(self):
        self._primitive("stop")

    def readinto(self, buf, nack=True):
        self._primitive("readinto")

    def write(self, buf):
        self._primitive("write")

    def __repr__(self):
        return f"I2C({self._spec.id}, freq={getattr(self, '_freq', 0)})"


class SoftI2C:
    """Not provided: bit-banged I2C from user space on Linux would be unreliable (the kernel's
    i2c-gpio driver does it properly: add it in the device tree)."""

    def __init__(self, *args, **kwargs):
        raise ValueError("SoftI2C is not provided on Linux: enable an i2c-gpio bus in the "
                         "device tree and use I2C(id)")
