"""machine.Pin by the Raspberry Pi's names on QEMU's BCM2835 GPIO: outputs read back and as
the kernel shows them (consumer, direction, level), an input."""
from machine import Pin

from checks import debugfs

CHIP = "3f200000.gpio"


def run(ctx):
    out = Pin("D17", Pin.OUT)
    out.value(1)
    high = out.value()
    kernel_high = debugfs.line(CHIP, 17)
    out.off()
    low = out.value()
    kernel_low = debugfs.line(CHIP, 17)
    header = Pin("PIN13", Pin.OUT, value=1)         # header pin 13 = GPIO27
    kernel_27 = debugfs.line(CHIP, 27)
    inp = Pin("GPIO22", Pin.IN, Pin.PULL_DOWN)
    level = inp.value()
    kernel_22 = debugfs.line(CHIP, 22)
    return {"high": high, "low": low, "k17_high": kernel_high, "k17_low": kernel_low,
            "k27": kernel_27, "in22": level, "k22": kernel_22, "header": header.value()}
