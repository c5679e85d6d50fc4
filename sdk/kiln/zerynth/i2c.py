"""Zerynth v3 ``i2c`` (docs: reference/libs/stdlib/i2c.md) over i2c-dev (kiln.hw.i2c).

``I2c(addr, i2c=I2C0, clock=1000000)``: ``write``, ``read``, ``read_into``, ``write_read``,
``write_read_into``, ``transmit``, ``done``; ``scan(i2c=I2C0, start_addr=1, n_scan=126,
clock=400000)``.  A write-read is one combined transaction (repeated start, ``I2C_RDWR``).
``clock`` is kept but the bus clock is the device tree's.  ``timeout`` (ms; <= 0: the adapter's
default) sets the adapter's transfer timeout.  ``rx_ofs`` bytes at the start of what is read
are dropped, as Zerynth documents.  Errors: ``ValueError`` for bad arguments, ``IOError``
(OSError) when the device does not acknowledge.  Zerynth v2's ``I2C(drvname, addr, clock)``
(``start``, ``write``, ``read``, ``write_read``, ``stop``) is here too.
"""
from kiln.hw import resolve
from kiln.hw.i2c import I2CBus


def _bus_key(i2c):
    name = getattr(i2c, "name", None)
    if name is not None:
        return name
    if isinstance(i2c, bool) or not isinstance(i2c, int):
        raise TypeError(f"i2c: the bus must be I2C0, I2C1 ..., not {type(i2c).__name__}")
    return f"I2C{i2c}"


def _open(i2c):
    return I2CBus(resolve.i2c_device(resolve.bus("i2c", _bus_key(i2c)).id))


def _as_bytes(data, func):
    if isinstance(data, int) and not isinstance(data, bool):
        return bytes((data,))
    if isinstance(data, str):
        return data.encode()
    if isinstance(data, (list, tuple)):
        return bytes(data)
    try:
        return bytes(memoryview(data))
    except TypeError:
        raise TypeError(f"i2c.{func}(): data must be bytes, bytearray, a list of ints or str, "
                        f"not {type(data).__name__}") from None


def _ofs(func, name, value, limit):
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= limit:
        raise ValueError(f"i2c.{func}(): {name} must be in 0..{limit}, got {value!r}")
    return value


class I2c:
    """An I2C device at ``addr`` (7-bit, 0..0x7f) on bus ``i2c``."""

    def __init__(self, addr, i2c=0, clock=1000000):
        if isinstance(addr, bool) or not isinstance(addr, int) or not 0 <= addr <= 0x7F:
            raise ValueError(f"I2c(): addr must be a 7-bit address 0..0x7f, got {addr!r}")
        if isinstance(clock, bool) or not isinstance(clock, int) or clock <= 0:
            raise ValueError(f"I2c(): clock must be a positive int (Hz), got {clock!r}")
        self.addr = addr
        self.clock = clock
        self._bus = _open(i2c)
        self._timeout = None

    def _b(self, func, timeout):
        if self._bus is None:
            raise ValueError(f"i2c.{func}(): done() was called: the device is closed")
        if isinstance(timeout, bool) or not isinstance(timeout, int):
            raise TypeError(f"i2c.{func}(): timeout must be an int (ms), not "
                            f"{type(timeout).__name__}")
        if timeout > 0 and timeout != self._timeout:
            self._bus.set_timeout(timeout)
            self._timeout = timeout
        return self._bus

    def write(self, tx, ofs=0, timeout=0):
        """Write ``tx[ofs:]``."""
        data = _as_bytes(tx, "write")
        _ofs("write", "ofs", ofs, len(data))
        self._b("write", timeout).transfer(self.addr, [("w", data[ofs:])])

    def read_into(self, rx, size=-1, ofs=0, timeout=0):
        """Read ``size`` bytes (-1: ``len(rx)``), drop the first ``ofs``, put the rest at the
        start of ``rx``; returns the count stored."""
        n = len(rx) if size == -1 else _ofs("read_into", "size", size, len(rx))
        _ofs("read_into", "ofs", ofs, n)
        buf = bytearray(n)
        self._b("read_into", timeout).transfer(self.addr, [("r", buf)])
        rx[:n - ofs] = buf[ofs:]
        return n - ofs

    def read(self, size, timeout=0):
        """Read ``size`` bytes; returns a bytearray."""
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ValueError(f"i2c.read(): size must be an int >= 0, got {size!r}")
        buf = bytearray(size)
        self._b("read", timeout).transfer(self.addr, [("r", buf)])
        return buf

    def write_read_into(self, tx, rx, rx_size=-1, tx_ofs=0, rx_ofs=0, timeout=0):
        """Write ``tx[tx_ofs:]`` then read ``rx_size`` bytes (-1: ``len(rx)``) in one
        transaction; the first ``rx_ofs`` read are dropped, the rest stored at ``rx[0:]``."""
        data = _as_bytes(tx, "write_read_into")
        _ofs("write_read_into", "tx_ofs", tx_ofs, len(data))
        n = len(rx) if rx_size == -1 else _ofs("write_read_into", "rx_size", rx_size, len(rx))
        _ofs("write_read_into", "rx_ofs", rx_ofs, n)
        buf = bytearray(n)
        self._b("write_read_into", timeout).transfer(self.addr,
                                                     [("w", data[tx_ofs:]), ("r", buf)])
        rx[:n - rx_ofs] = buf[rx_ofs:]
        return n - rx_ofs

    transmit = write_read_into

    def write_read(self, tx, rx_size, tx_ofs=0, timeout=0):
        """Write ``tx[tx_ofs:]`` then read ``rx_size`` bytes; returns a bytearray."""
        if isinstance(rx_size, bool) or not isinstance(rx_size, int) or rx_size < 0:
            raise ValueError(f"i2c.write_read(): rx_size must be an int >= 0, got {rx_size!r}")
        rx = bytearray(rx_size)
        self.write_read_into(tx, rx, rx_size, tx_ofs, 0, timeout)
        return rx

    def done(self):
        """Release the bus (idempotent)."""
        if self._bus is not None:
            self._bus.close()
            self._bus = None


def scan(i2c=0, start_addr=1, n_scan=126, clock=400000):
    """Addresses that acknowledge among ``start_addr`` .. ``start_addr + n_scan - 1``, as a
    bytearray.  Only 0x08..0x77 are probed (the others are reserved by the I2C specification;
    probing them can upset devices)."""
    for name, v, lo, hi in (("start_addr", start_addr, 0, 0x7F), ("n_scan", n_scan, 0, 128)):
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise ValueError(f"i2c.scan(): {name} must be in {lo}..{hi}, got {v!r}")
    bus = _open(i2c)
    try:
        lo = max(start_addr, 0x08)
        hi = min(start_addr + n_scan - 1, 0x77)
        return bytearray(a for a in range(lo, hi + 1) if bus.probe(a))
    finally:
        bus.close()


class I2C:
    """Zerynth v2: ``I2C(drvname, addr, clock=100000)``; ``start()`` before use."""

    def __init__(self, drvname, addr, clock=100000):
        self._drv = drvname
        self.addr = addr
        self.clock = clock
        self._dev = None

    def set_addr(self, addr):
        self.addr = addr
        if self._dev is not None:
            self._dev.addr = addr

    def start(self):
        self._dev = I2c(self.addr, self._drv, self.clock)

    def _d(self):
        if self._dev is None:
            raise ValueError("I2C: call start() first")
        return self._dev

    def write_bytes(self, *args, timeout=-1):
        self._d().write(bytes(args), 0, max(timeout, 0))

    def write(self, data, timeout=-1):
        self._d().write(data, 0, max(timeout, 0))

    def read(self, n, timeout=-1):
        return self._d().read(n, max(timeout, 0))

    def write_read(self, data, n, timeout=-1):
        return self._d().write_read(data, n, 0, max(timeout, 0))

    def stop(self):
        if self._dev is not None:
            self._dev.done()
            self._dev = None

    def lock(self):
        pass

    def unlock(self):
        pass
