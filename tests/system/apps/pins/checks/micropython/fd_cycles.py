"""10,000 open/use/close cycles of each real device the faces sit on -- the BCM2835 GPIO chip
with a line requested (output, written), the I2C adapter with a register read from the TMP105,
the SPI flash with its JEDEC ID -- then 100 of ``machine.SPI`` created and deinitialised (it
resolves its device through sysfs each time), and no descriptor more than before
(``/proc/self/fd``).  Under TCG this takes minutes."""
import os

from machine import SPI
from kiln.hw import resolve
from kiln.hw.gpio import Chip
from kiln.hw.i2c import I2CBus
from kiln.hw.spi import SPIDevice

CYCLES = 10000
TIMEOUT = 400          # seconds (the harness's default is 60)


def fds():
    return len(os.listdir("/proc/self/fd"))


def run(ctx):
    chip_path = resolve.gpio_chip(next(iter(resolve.board().hw.chips)))
    i2c_path, spi_path = resolve.i2c_device(1), resolve.spi_device(0, 0)
    before = fds()
    temp = bytearray(2)
    jedec = bytearray(4)
    for i in range(CYCLES):
        with Chip(chip_path) as chip:
            req = chip.request([17], "fd-cycles", direction="output", values=[i & 1])
            req.close()
        bus = I2CBus(i2c_path)
        bus.transfer(0x48, [("w", b"\x00"), ("r", temp)])
        bus.close()
        dev = SPIDevice(spi_path)
        dev.transfer(b"\x9f\x00\x00\x00", jedec)
        dev.close()
    for _ in range(100):
        SPI(0).deinit()
    return {"cycles": CYCLES, "fds_before": before, "fds_after": fds(),
            "jedec": bytes(jedec[1:]).hex(), "temp_read": len(temp)}
