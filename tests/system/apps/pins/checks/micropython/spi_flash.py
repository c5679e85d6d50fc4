"""machine.SPI(0) (spidev0.0) against QEMU's N25Q128 serial flash: its JEDEC ID read by
full-duplex transfers, in several call styles.  (QEMU cannot wire the flash's chip select to
the GPIO the kernel drives, so the flash is always selected: only commands of exact length can
follow each other -- images/README.md, "Buses under QEMU".)"""
from machine import SPI

READ_ID = 0x9F


def run(ctx):
    spi = SPI(0, baudrate=1000000, polarity=0, phase=0)
    rx = bytearray(7)
    spi.write_readinto(bytes([READ_ID]) + bytes(6), rx)
    again = bytearray(7)
    spi.write_readinto(bytes([READ_ID, 0, 0, 0, 0, 0, 0]), again)
    spi.init(baudrate=500000)
    third = bytearray(7)
    spi.write_readinto(bytearray([READ_ID]) + bytearray(6), third)
    spi.deinit()
    return {"id": bytes(rx[1:4]).hex(), "again": bytes(again[1:4]).hex(),
            "third": bytes(third[1:4]).hex(), "ext": bytes(rx[4:]).hex()}
