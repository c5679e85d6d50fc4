"""Zerynth's gpio by the Raspberry Pi's names on QEMU's BCM2835 GPIO (and the v2 builtins)."""
import gpio

from checks import debugfs

CHIP = "3f200000.gpio"


def run(ctx):
    gpio.mode(D17, OUTPUT_PUSHPULL)
    gpio.high(D17)
    high = gpio.get(D17)
    kernel_high = debugfs.line(CHIP, 17)
    gpio.toggle(D17)
    low = gpio.get(D17)
    pinMode(D27, OUTPUT)
    digitalWrite(D27, HIGH)
    kernel_27 = debugfs.line(CHIP, 27)
    return {"high": high, "low": low, "k17_high": kernel_high, "k27": kernel_27}
