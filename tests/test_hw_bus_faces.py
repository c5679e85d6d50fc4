"""machine.I2C / machine.SPI and Zerynth's i2c / spi over a substituted bus (this host has no
i2c-dev or spidev; the emulated TMP105/EEPROM/flash under QEMU are the system tests'): what
each face call becomes at the kiln.hw layer -- the exact I2C_RDWR message lists and spidev
transfers -- and the faces' own checks and errors."""
from __future__ import annotations

import errno

import pytest

from hw_sysfs import board_root
from kiln.hw import resolve


class FakeI2C:
    """kiln.hw.i2c.I2CBus's contract: transfer(addr, segments), probe(addr), set_timeout.
    Devices: {addr: bytearray memory with a register pointer}."""

    instances = []

    def __init__(self, path):
        self.path = path
        self.log = []
        self.devices = {0x48: bytearray(b"\x19\x80" + bytes(254)), 0x50: bytearray(256)}
        self.closed = False
        FakeI2C.instances.append(self)

    def set_timeout(self, ms):
        self.timeout = ms

    def transfer(self, addr, segments, ten_bit=False):
        self.log.append((addr, [(k, bytes(b) if k != "r" else len(b)) for k, b in segments]))
        mem = self.devices.get(addr)
        if mem is None:
            raise OSError(errno.ENXIO, "No such device or address")
        ptr = 0
        for kind, buf in segments:
            if kind == "w":
                data = bytes(buf)
                ptr = data[0] if data else ptr
                mem[ptr:ptr + len(data) - 1] = data[1:]
            else:
                buf[:] = mem[ptr:ptr + len(buf)]

    def probe(self, addr):
        assert 0x08 <= addr <= 0x77
        return addr in self.devices

    def close(self):
        self.closed = True


class FakeSPI:
    instances = []

    def __init__(self, path, mode=0, bits=8, speed_hz=None, lsb_first=False):
        self.path, self.mode, self.bits, self.speed, self.lsb = path, mode, bits, speed_hz, \
            lsb_first
        self.log = []
        self.closed = False
        FakeSPI.instances.append(self)

    def configure(self, mode=None, bits=None, speed_hz=None, lsb_first=None):
        self.mode, self.bits, self.speed, self.lsb = mode, bits, speed_hz, lsb_first

    def transfer(self, tx=None, rx=None, *, length=None, speed_hz=0, delay_us=0,
                 cs_change=False):
        self.log.append((bytes(tx) if tx is not None else None, cs_change))
        if tx is not None and rx is not None and len(tx) != len(rx):
            raise ValueError("transfer(): tx and rx must be the same length (full duplex)")
        if rx is not None:
            rx[:] = bytes((b ^ 0xFF) for b in (bytes(tx) if tx else bytes(len(rx))))

    def close(self):
        self.closed = True


@pytest.fixture
def pi(tmp_path, monkeypatch):
    monkeypatch.setenv("KILN_SYSROOT", str(board_root(tmp_path, "rpi3b")))
    resolve.reset()
    FakeI2C.instances.clear()
    FakeSPI.instances.clear()
    from kiln.mpy.machine import i2c as mi2c, spi as mspi
    from kiln.zerynth import i2c as zi2c, spi as zspi
    for mod in (mi2c, zi2c):
        monkeypatch.setattr(mod, "I2CBus", FakeI2C)
    for mod in (mspi, zspi):
        monkeypatch.setattr(mod, "SPIDevice", FakeSPI)
    yield
    resolve.reset()


def test_machine_i2c(pi):
    from kiln.mpy.machine import I2C
    bus = I2C(1, freq=100000)
    dev = FakeI2C.instances[-1]
    assert dev.path.endswith("/dev/i2c-20") and dev.timeout == 50
    assert bus.scan() == [0x48, 0x50]
    assert bus.readfrom_mem(0x48, 0, 2) == b"\x19\x80"
    assert dev.log[-1] == (0x48, [("w", b"\x00"), ("r", 2)])     # one combined transaction
    bus.writeto_mem(0x50, 0x10, b"abc")
    assert dev.log[-1] == (0x50, [("w", b"\x10abc")])
    buf = bytearray(3)
    bus.readfrom_mem_into(0x50, 0x10, buf)
    assert buf == b"abc"
    assert bus.writeto(0x50, b"\x10", False) == 1                # held: repeated start ...
    assert bus.readfrom(0x50, 3) == b"abc"                       # ... with this read
    assert dev.log[-1] == (0x50, [("w", b"\x10"), ("r", 3)])
    assert bus.writevto(0x50, [b"\x20", b"xy", b"z"]) == 4
    assert dev.log[-1] == (0x50, [("w", b"\x20xyz")])
    bus.readfrom_into(0x50, buf)
    bus.readfrom_mem(0x50, 0x0120, 1, addrsize=16)               # 16-bit memory address
    assert dev.log[-1][1][0] == ("w", b"\x01\x20")
    with pytest.raises(OSError) as info:
        bus.readfrom(0x51, 1)
    assert info.value.errno == errno.ENODEV and "0x51" in str(info.value)
    with pytest.raises(ValueError, match="7-bit address"):
        bus.writeto(0x80, b"x")
    with pytest.raises(ValueError, match="addrsize"):
        bus.readfrom_mem(0x50, 0, 1, addrsize=12)
    for prim in (bus.start, bus.stop, lambda: bus.write(b"x"), lambda: bus.readinto(buf)):
        with pytest.raises(OSError) as info:
            prim()
        assert info.value.errno == errno.EOPNOTSUPP and "whole transactions" in str(info.value)
    bus.deinit()
    assert dev.closed
    with pytest.raises(OSError, match="closed"):
        bus.scan()
    with pytest.raises(ValueError, match=r"I2C 0 does not exist on rpi3b .*I2C0 \(id 1\)"):
        I2C(0)
    with pytest.raises(ValueError, match="scl/sda are fixed"):
        I2C(1, scl=3)


def test_zerynth_i2c(pi):
    from kiln.zerynth import i2c
    from kiln.hw.names import bus_names
    I2C0 = bus_names()["I2C0"]
    tmp = i2c.I2c(0x48, I2C0, 400000)
    assert tmp.write_read(b"\x00", 2) == bytearray(b"\x19\x80")
    dev = FakeI2C.instances[-1]
    assert dev.log[-1] == (0x48, [("w", b"\x00"), ("r", 2)])
    rx = bytearray(4)
    assert tmp.write_read_into(b"\xff\x00", rx, rx_size=3, tx_ofs=1, rx_ofs=1) == 2
    assert rx[:2] == b"\x80\x00" and dev.log[-1] == (0x48, [("w", b"\x00"), ("r", 3)])
    ee = i2c.I2c(0x50)
    ee.write(bytearray(b"\x05hello"))
    assert ee.write_read(b"\x05", 5) == bytearray(b"hello")
    assert ee.read(3) == bytearray(3)
    assert i2c.scan() == bytearray([0x48, 0x50])
    with pytest.raises(ValueError, match="rx_size must be in 0..4"):
        tmp.write_read_into(b"\x00", rx, rx_size=5)
    with pytest.raises(ValueError, match="7-bit address"):
        i2c.I2c(0x90)
    tmp.done()
    with pytest.raises(ValueError, match="done"):
        tmp.read(1)
    with pytest.raises(ValueError, match="I2C 'I2C3' does not exist"):
        i2c.I2c(0x48, 3)


def test_machine_spi(pi):
    from kiln.mpy.machine import SPI
    spi = SPI(0, baudrate=500000, polarity=1, phase=1)
    dev = FakeSPI.instances[-1]
    assert dev.path.endswith("/dev/spidev11.0") and dev.mode == 3 and dev.speed == 500000
    rx = bytearray(3)
    spi.write_readinto(b"\x9f\x00\x00", rx)
    assert rx == b"\x60\xff\xff" and dev.log[-1] == (b"\x9f\x00\x00", False)
    assert spi.read(2, 0xAA) == b"\x55\x55"
    spi.write(b"xyz")
    spi.init(baudrate=1000000, firstbit=SPI.LSB)
    assert dev.lsb and dev.mode == 0
    with pytest.raises(ValueError, match="same length"):
        spi.write_readinto(b"ab", bytearray(3))
    with pytest.raises(ValueError, match="polarity must be 0 or 1"):
        spi.init(polarity=2)
    with pytest.raises(ValueError, match="sck/mosi/miso"):
        SPI(0, sck=11)
    spi.deinit()
    with pytest.raises(OSError, match="closed"):
        spi.read(1)


def test_zerynth_spi(pi, monkeypatch):
    from kiln.zerynth import spi
    from kiln.hw.names import bus_names, pin_names
    D = pin_names()
    s = spi.Spi(D["D8"], bus_names()["SPI0"], 1000000, spi.SPI_MODE_HIGH_SECOND)
    dev = FakeSPI.instances[-1]
    assert dev.path.endswith("/dev/spidev11.0") and dev.mode == 3   # CE0: hardware CS
    s.select()
    s.write(b"\x9f")
    assert s.read(3) == bytearray(b"\xff\xff\xff")
    assert [c for _, c in dev.log] == [True, True]                 # CS held between calls
    s.unselect()
    assert dev.log[-1] == (None, False)                             # a 0-byte message ends it
    s2 = spi.Spi(D["D7"])                                           # CE1
    assert FakeSPI.instances[-1].path.endswith("/dev/spidev11.1")
    assert s.exchange(b"\x01\x02") == bytearray(b"\xfe\xfd")
    s.done()
    s2.done()
    with pytest.raises(ValueError, match="done"):
        s.read(1)
    with pytest.raises(ValueError, match="mode must be"):
        spi.Spi(D["D8"], 0, 1000, 7)
