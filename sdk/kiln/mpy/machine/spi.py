"""``machine.SPI`` (docs/library/machine.SPI.rst) over spidev (kiln.hw.spi).

``SPI(id)``: the board file's bus ``id``, chip select 0 (``/dev/spidev<bus>.0``; the kernel
drives the chip select around every call).  ``baudrate`` is the maximum clock (the controller
rounds it down to what it can divide), ``polarity``/``phase`` give the SPI mode, ``bits`` the
word size, ``firstbit`` ``SPI.MSB``/``SPI.LSB``.  ``sck``/``mosi``/``miso`` are the device
tree's: passing them raises ValueError.
"""
import errno

from kiln.hw import resolve
from kiln.hw.spi import SPIDevice


class SPI:
    """``SPI(id, baudrate=1000000, *, polarity=0, phase=0, bits=8, firstbit=SPI.MSB, sck=None,
    mosi=None, miso=None)``."""

    CONTROLLER = 0
    MSB = 0
    LSB = 1

    def __init__(self, id, baudrate=1000000, *, polarity=0, phase=0, bits=8, firstbit=0,
                 sck=None, mosi=None, miso=None, cs=0):
        if isinstance(id, bool) or not isinstance(id, (int, str)):
            raise TypeError(f"SPI(): id must be an int, not {type(id).__name__}")
        self._spec = resolve.bus("spi", id)
        self._cs = cs
        self._dev = None
        self.init(baudrate, polarity=polarity, phase=phase, bits=bits, firstbit=firstbit,
                  sck=sck, mosi=mosi, miso=miso)

    def init(self, baudrate=1000000, *, polarity=0, phase=0, bits=8, firstbit=0, sck=None,
             mosi=None, miso=None, pins=None):
        """(Re)configure: ``baudrate`` Hz, ``polarity`` 0/1 (clock idle level), ``phase`` 0/1
        (sample on the first/second edge), ``bits``, ``firstbit``."""
        if sck is not None or mosi is not None or miso is not None or pins is not None:
            raise ValueError("SPI.init(): sck/mosi/miso are fixed by the device tree on Linux")
        if polarity not in (0, 1) or isinstance(polarity, bool):
            raise ValueError(f"SPI.init(): polarity must be 0 or 1, got {polarity!r}")
        if phase not in (0, 1) or isinstance(phase, bool):
            raise ValueError(f"SPI.init(): phase must be 0 or 1, got {phase!r}")
        if firstbit not in (self.MSB, self.LSB):
            raise ValueError(f"SPI.init(): firstbit must be SPI.MSB or SPI.LSB, got "
                             f"{firstbit!r}")
        if isinstance(baudrate, bool) or not isinstance(baudrate, int) or baudrate <= 0:
            raise ValueError(f"SPI.init(): baudrate must be a positive int (Hz), got "
                             f"{baudrate!r}")
        if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= 32:
            raise ValueError(f"SPI.init(): bits must be an int in 1..32, got {bits!r}")
        mode = (polarity << 1) | phase
        if self._dev is None:
            self._dev = SPIDevice(resolve.spi_device(self._spec.id, self._cs), mode, bits,
                                  baudrate, firstbit == self.LSB)
        else:
            self._dev.configure(mode, bits, baudrate, firstbit == self.LSB)
        self._baudrate = baudrate

    def deinit(self):
        """Close the device (idempotent)."""
        if self._dev is not None:
            self._dev.close()
            self._dev = None

    def _d(self, func):
        if self._dev is None:
            raise OSError(errno.EBADF, f"SPI.{func}(): the bus is closed (deinit)")
        return self._dev

    def read(self, nbytes, write=0x00):
        """Read ``nbytes`` while sending ``write`` each time; returns bytes."""
        if isinstance(nbytes, bool) or not isinstance(nbytes, int) or nbytes < 0:
            raise ValueError(f"SPI.read(): nbytes must be an int >= 0, got {nbytes!r}")
        buf = bytearray(nbytes)
        self.readinto(buf, write)
        return bytes(buf)

    def readinto(self, buf, write=0x00):
        """Read ``len(buf)`` bytes into ``buf`` while sending ``write`` each time."""
        if isinstance(write, bool) or not isinstance(write, int) or not 0 <= write <= 255:
            raise ValueError(f"SPI.readinto(): write must be a byte value 0..255, got {write!r}")
        n = len(memoryview(buf).cast("B"))
        self._d("readinto").transfer(bytes([write]) * n, buf)

    def write(self, buf):
        """Write ``buf`` (received bytes are discarded); returns None."""
        dev = self._dev
        if dev is None:
            raise OSError(errno.EBADF, "SPI.write(): the bus is closed (deinit)")
        dev.transfer(buf)

    def write_readinto(self, write_buf, read_buf):
        """Write ``write_buf`` while reading into ``read_buf`` (full duplex; same length:
        ValueError otherwise)."""
        dev = self._dev
        if dev is None:
            raise OSError(errno.EBADF, "SPI.write_readinto(): the bus is closed (deinit)")
        dev.transfer(write_buf, read_buf)

    def __repr__(self):
        return f"SPI({self._spec.id}, baudrate={getattr(self, '_baudrate', 0)})"


class SoftSPI:
    """Not provided: use SPI(id) (the kernel's spi-gpio driver bit-bangs, from the DT)."""

    def __init__(self, *args, **kwargs):
        raise ValueError("SoftSPI is not provided on Linux: enable an spi-gpio bus in the "
                         "device tree and use SPI(id)")
