"""Zerynth v3 ``spi`` (docs: reference/libs/stdlib/spi.md) over spidev (kiln.hw.spi).

``Spi(nss, spi=SPI0, clock=20000000, mode=SPI_MODE_LOW_FIRST)``: ``select``, ``unselect``,
``write``, ``read``, ``exchange``, ``exchange_into``, ``done``.  ``nss`` is a pin: when it is one
of the bus's hardware chip selects (board file ``cs``: a Pi's GPIO8 = CE0, GPIO7 = CE1) the
device is ``spidev<bus>.<cs>`` and chip select is held from ``select()`` to ``unselect()`` (the
transfers between are one ``SPI_IOC_MESSAGE`` each, with ``cs_change`` keeping the device
selected); any other pin is driven as a GPIO chip select by ``select``/``unselect`` around
transfers on ``spidev<bus>.0`` opened with ``SPI_NO_CS``.
"""
from kiln.hw import resolve
from kiln.hw.names import pin_key
from kiln.hw.spi import NO_CS, SPIDevice

SPI_MODE_LOW_FIRST = 0
SPI_MODE_LOW_SECOND = 1
SPI_MODE_HIGH_FIRST = 2
SPI_MODE_HIGH_SECOND = 3


class Spi:
    """An SPI device selected by ``nss`` on bus ``spi``."""

    def __init__(self, nss, spi=0, clock=20000000, mode=SPI_MODE_LOW_FIRST):
        name = getattr(spi, "name", None) or (f"SPI{spi}" if isinstance(spi, int) and
                                              not isinstance(spi, bool) else None)
        if name is None:
            raise TypeError(f"Spi(): spi must be SPI0, SPI1 ..., not {type(spi).__name__}")
        if mode not in (0, 1, 2, 3) or isinstance(mode, bool):
            raise ValueError(f"Spi(): mode must be SPI_MODE_LOW_FIRST .. SPI_MODE_HIGH_SECOND "
                             f"(0..3), got {mode!r}")
        if isinstance(clock, bool) or not isinstance(clock, int) or clock <= 0:
            raise ValueError(f"Spi(): clock must be a positive int (Hz), got {clock!r}")
        spec = resolve.bus("spi", name)
        target = resolve.pin(pin_key(nss, "Spi"))
        cs = None
        for i, cs_pin in enumerate(spec.cs):
            chip_select = resolve.pin(cs_pin)      # the same line under any of its names
            if (chip_select.kind, chip_select.chip, chip_select.line) == \
                    (target.kind, target.chip, target.line):
                cs = i
        self._gpio = None
        if cs is None:
            from kiln.hw.pinctl import PinLine
            self._gpio = PinLine.of(target.name)
            self._gpio.configure("output", value=1)
            self._dev = SPIDevice(resolve.spi_device(spec.id, 0), mode | NO_CS, 8, clock)
        else:
            self._dev = SPIDevice(resolve.spi_device(spec.id, cs), mode, 8, clock)
        self._selected = False
        self._pending_first = True

    def _d(self, func):
        if self._dev is None:
            raise ValueError(f"spi.{func}(): done() was called: the device is closed")
        return self._dev

    def select(self):
        """Select the device; transfers until ``unselect()`` keep it selected."""
        self._d("select")
        self._selected = True
        if self._gpio is not None:
            self._gpio.set(0)

    def unselect(self):
        """Deselect the device."""
        dev = self._d("unselect")
        if self._selected and self._gpio is None:
            dev.transfer(None, None, length=0)     # a 0-byte message ends the selection
        self._selected = False
        if self._gpio is not None:
            self._gpio.set(1)

    def _xfer(self, func, tx, rx):
        # While selected, ``cs_change`` on the last transfer keeps chip select active after
        # the message (spidev's documented behaviour); unselect() ends it.
        self._d(func).transfer(tx, rx, cs_change=self._selected and self._gpio is None)

    def exchange_into(self, tx, rx, n_bytes=-1):
        """Write ``tx`` while reading ``n_bytes`` (-1: ``len(rx)``) into ``rx``."""
        n = len(rx) if n_bytes == -1 else n_bytes
        if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= len(rx):
            raise ValueError(f"spi.exchange_into(): n_bytes must be in 0..{len(rx)}, got "
                             f"{n_bytes!r}")
        out = bytes(tx)[:n].ljust(n, b"\0")
        buf = bytearray(n)
        self._xfer("exchange_into", out, buf)
        rx[:n] = buf
        return n

    def exchange(self, tx, n_bytes=-1):
        """Write ``tx`` while reading as many bytes (``n_bytes``, -1: ``len(tx)``); returns a
        bytearray."""
        n = len(tx) if n_bytes == -1 else n_bytes
        rx = bytearray(n)
        self.exchange_into(tx, rx, n)
        return rx

    def write(self, tx, n_bytes=-1):
        """Write ``tx`` (the first ``n_bytes``; -1: all)."""
        data = bytes(tx) if not isinstance(tx, str) else tx.encode()
        if n_bytes != -1:
            if isinstance(n_bytes, bool) or not isinstance(n_bytes, int) or \
                    not 0 <= n_bytes <= len(data):
                raise ValueError(f"spi.write(): n_bytes must be in 0..{len(data)}, got "
                                 f"{n_bytes!r}")
            data = data[:n_bytes]
        self._xfer("write", data, None)

    def read(self, n_bytes):
        """Read ``n_bytes`` (sending zeros); returns a bytearray."""
        if isinstance(n_bytes, bool) or not isinstance(n_bytes, int) or n_bytes < 0:
            raise ValueError(f"spi.read(): n_bytes must be an int >= 0, got {n_bytes!r}")
        buf = bytearray(n_bytes)
        self._xfer("read", None, buf)
        return buf

    def done(self):
        """Release the device (idempotent)."""
        if self._dev is not None:
            if self._selected:
                self.unselect()
            self._dev.close()
            self._dev = None
