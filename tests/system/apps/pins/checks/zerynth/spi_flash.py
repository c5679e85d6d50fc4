"""Zerynth's spi.Spi on SPI0 (chip select D8 = CE0, spidev0.0) against QEMU's N25Q128, whose
chip select the board's ``[qemu] wires`` connect to GPIO 8: the JEDEC ID by exchange, then a
subsector erased, a page programmed and read back as a Zerynth flash driver does it -- each
command between select() and unselect(), the read's command and data in one selection."""
import os

import spi

WREN, RDSR, SUBSECTOR_ERASE, PAGE_PROGRAM, READ = 0x06, 0x05, 0x20, 0x02, 0x03
PAGE = 256


def command(op, addr):
    return bytes([op, (addr >> 16) & 0xFF, (addr >> 8) & 0xFF, addr & 0xFF])


def selected(flash, data):
    flash.select()
    flash.write(data)
    flash.unselect()


def wait_ready(flash):
    for _ in range(10000):
        flash.select()
        status = flash.exchange(bytes([RDSR, 0]))
        flash.unselect()
        if not status[1] & 1:
            return
    raise OSError("the flash stayed busy")


def run(ctx):
    flash = spi.Spi(D8, SPI0, clock=1000000)
    flash.select()
    rx = flash.exchange(bytes([0x9F]) + bytes(6))
    flash.unselect()
    flash.select()
    again = flash.exchange(bytes([0x9F, 0, 0, 0, 0, 0, 0]))
    flash.unselect()

    addr = 0x200000 + (os.urandom(1)[0] << 12)      # a random subsector past 2 MiB
    pattern = os.urandom(PAGE)
    selected(flash, bytes([WREN]))
    selected(flash, command(SUBSECTOR_ERASE, addr))
    wait_ready(flash)
    selected(flash, bytes([WREN]))
    selected(flash, command(PAGE_PROGRAM, addr) + pattern)
    wait_ready(flash)
    flash.select()
    flash.write(command(READ, addr))
    back = flash.read(PAGE)
    flash.unselect()
    flash.done()
    return {"id": bytes(rx[1:4]).hex(), "again": bytes(again[1:4]).hex(),
            "addr": "%06x" % addr, "back_ok": bytes(back) == pattern,
            "pattern_head": pattern[:8].hex(), "back_head": bytes(back[:8]).hex()}
