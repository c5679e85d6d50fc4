"""Zerynth's pwm.write on D18 (PWM0) against the kernel's PWM class (the pwm-bcm2835 driver
QEMU's raspi3b lets bind): the period and pulse it was given, in each time unit, read back
from sysfs; period 0 stops it."""
import pwm

from kiln.hw import resolve


def state(chip, channel):
    d = chip / ("pwm%d" % channel)
    return "|".join((d / n).read_text().strip() for n in ("period", "duty_cycle", "enable"))


def run(ctx):
    chip, channel, _ = resolve.pwm_chip("PWM0")
    pwm.write(D18, 20, 5)                                  # MILLIS (Zerynth's default)
    millis = state(chip, channel)
    pwm.write(D18, 500, 125, MICROS)
    micros = state(chip, channel)
    pwm.write(D18, 0, 0)
    stopped = (chip / ("pwm%d" % channel)).exists() and state(chip, channel) or "unexported"
    return {"millis": millis, "micros": micros, "stopped": stopped}
