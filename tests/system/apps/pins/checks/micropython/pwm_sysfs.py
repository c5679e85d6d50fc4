"""machine.PWM on GPIO18 (PWM0: the BCM2835 PWM's channel 0, enabled on the header by the SD
image's DTB edits) against the kernel's real PWM class: QEMU does not emulate the PWM block's
output, but the kernel's pwm-bcm2835 driver binds and keeps the channel's state in sysfs, so
what machine.PWM asked for is read back from the kernel's own attributes."""
from machine import PWM, Pin

from kiln.hw import resolve


def attrs(chip, channel):
    d = chip / ("pwm%d" % channel)
    return {name: (d / name).read_text().strip()
            for name in ("period", "duty_cycle", "enable", "polarity")}


def run(ctx):
    chip, channel, _ = resolve.pwm_chip("PWM0")
    pwm = PWM(Pin("GPIO18"), freq=1000, duty_u16=16384)       # 1 kHz, 25 %
    first = attrs(chip, channel)
    pwm.freq(2000)
    pwm.duty_ns(100000)                                        # 20 % of 500 us
    second = attrs(chip, channel)
    freq, duty_u16, duty_ns = pwm.freq(), pwm.duty_u16(), pwm.duty_ns()
    pwm.init(freq=5000, duty_u16=65535, invert=True)
    third = attrs(chip, channel)
    pwm.deinit()
    exported = (chip / ("pwm%d" % channel)).exists()
    fmt = lambda a: "|".join(a[k] for k in ("period", "duty_cycle", "enable", "polarity"))
    return {"chip": chip.name, "first": fmt(first), "second": fmt(second), "third": fmt(third),
            "freq": freq, "duty_u16": duty_u16, "duty_ns": duty_ns,
            "exported_after_deinit": exported}
