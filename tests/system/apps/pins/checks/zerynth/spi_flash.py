"""Zerynth's spi.Spi on SPI0 (chip select D8 = CE0, spidev0.0) against QEMU's N25Q128: the
JEDEC ID by exchange, and by write then read within one selection."""
import spi


def run(ctx):
    flash = spi.Spi(D8, SPI0, clock=1000000)
    flash.select()
    rx = flash.exchange(bytes([0x9F]) + bytes(6))
    flash.unselect()
    flash.select()
    again = flash.exchange(bytes([0x9F, 0, 0, 0, 0, 0, 0]))
    flash.unselect()
    flash.done()
    return {"id": bytes(rx[1:4]).hex(), "again": bytes(again[1:4]).hex()}
