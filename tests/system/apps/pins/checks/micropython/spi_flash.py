"""machine.SPI(0) (spidev0.0) against QEMU's N25Q128 serial NOR flash, whose chip select the
board's ``[qemu] wires`` connect to GPIO 8 (CE0, driven by the kernel around every call): the
JEDEC ID read by full-duplex transfers in several call styles, then a 4 KiB subsector erased,
a 256-byte page programmed with a random pattern and read back -- each command one call, as a
MicroPython program drives an SPI flash (WREN, erase, status polling, page program, read)."""
import os

from machine import SPI

READ_ID, WREN, RDSR, SUBSECTOR_ERASE, PAGE_PROGRAM, READ = 0x9F, 0x06, 0x05, 0x20, 0x02, 0x03
PAGE = 256


def command(op, addr):
    return bytes([op, (addr >> 16) & 0xFF, (addr >> 8) & 0xFF, addr & 0xFF])


def wait_ready(spi):
    """Poll the status register until the write-in-progress bit clears; the polls it took."""
    status = bytearray(2)
    for polls in range(1, 10001):
        spi.write_readinto(bytes([RDSR, 0]), status)
        if not status[1] & 1:
            return polls
    raise OSError("the flash stayed busy")


def run(ctx):
    spi = SPI(0, baudrate=1000000, polarity=0, phase=0)
    rx = bytearray(7)
    spi.write_readinto(bytes([READ_ID]) + bytes(6), rx)
    again = bytearray(7)
    spi.write_readinto(bytes([READ_ID, 0, 0, 0, 0, 0, 0]), again)
    spi.init(baudrate=500000)
    third = bytearray(7)
    spi.write_readinto(bytearray([READ_ID]) + bytearray(6), third)

    addr = 0x10000 + (os.urandom(1)[0] << 12)       # a random 4 KiB subsector past 64 KiB
    pattern = os.urandom(PAGE)
    spi.write(bytes([WREN]))
    spi.write(command(SUBSECTOR_ERASE, addr))
    erase_polls = wait_ready(spi)
    buf = bytearray(4 + PAGE)
    spi.write_readinto(command(READ, addr) + bytes(PAGE), buf)
    erased = bytes(buf[4:])
    spi.write(bytes([WREN]))
    spi.write(command(PAGE_PROGRAM, addr) + pattern)
    wait_ready(spi)
    back = bytearray(4 + PAGE)
    spi.write_readinto(command(READ, addr) + bytes(PAGE), back)
    spi.deinit()
    return {"id": bytes(rx[1:4]).hex(), "again": bytes(again[1:4]).hex(),
            "third": bytes(third[1:4]).hex(), "ext": bytes(rx[4:]).hex(),
            "addr": "%06x" % addr, "erased_ff": erased == b"\xff" * PAGE,
            "back_ok": bytes(back[4:]) == pattern, "erase_polls": erase_polls,
            "pattern_head": pattern[:8].hex(), "back_head": bytes(back[4:12]).hex()}
