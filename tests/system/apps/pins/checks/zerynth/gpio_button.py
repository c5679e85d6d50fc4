"""Zerynth's gpio on QEMU virt's PL061: LED0..LED2 driven with mode/high/low/set/toggle and
read back with get (and as the kernel shows them), BTN0's on_rise/on_fall callbacks run when
the host presses QEMU's power button (QMP system_powerdown)."""
import gpio

from checks import debugfs

TIMEOUT = 90
CHIP = "9030000.pl061"


def run(ctx):
    for led in (LED0, LED1, LED2):
        gpio.mode(led, OUTPUT_PUSHPULL)
    gpio.high(LED0)
    gpio.low(LED1)
    gpio.set(LED2, 1)
    gpio.toggle(LED2)
    values = "".join(str(gpio.get(led)) for led in (LED0, LED1, LED2))
    kernel = [debugfs.line(CHIP, n) for n in range(3)]
    rises, falls = [], []
    gpio.on_rise(BTN0, lambda: rises.append(1))
    gpio.on_fall(BTN0, lambda: falls.append(1))
    info = debugfs.line(CHIP, 3)
    ctx.event("press", n=1)
    for _ in range(1500):
        if rises and falls:
            break
        sleep(20)
    return {"values": values, "led0": kernel[0], "led1": kernel[1], "led2": kernel[2],
            "button": info, "rises": len(rises), "falls": len(falls)}
