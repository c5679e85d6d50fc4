"""machine.Pin on QEMU virt's PL061: LED0..LED2 as outputs read back (and as the kernel shows
them), BTN0 (line 3) as an input whose irq handler runs when the host presses QEMU's power
button (QMP system_powerdown: QEMU raises line 3, then lowers it ~100 ms later)."""
import time

from machine import Pin

from checks import debugfs

TIMEOUT = 90
CHIP = "9030000.pl061"


def run(ctx):
    leds = [Pin(name, Pin.OUT) for name in ("LED0", "LED1", "LED2")]
    leds[0].on()
    leds[1].off()
    leds[2].value(1)
    leds[2].toggle()
    values = "".join(str(led.value()) for led in leds)
    kernel = [debugfs.line(CHIP, n) for n in range(3)]
    seen = []
    button = Pin("BTN0", Pin.IN)
    button.irq(lambda pin: seen.append((pin.value(), time.ticks_ms())),
               trigger=Pin.IRQ_RISING | Pin.IRQ_FALLING)
    info = debugfs.line(CHIP, 3)
    before = button.value()
    for press in (1, 2):
        ctx.event("press", n=press)
        deadline = time.ticks_add(time.ticks_ms(), 30000)
        while len(seen) < 2 * press and time.ticks_diff(deadline, time.ticks_ms()) > 0:
            time.sleep_ms(20)
    button.irq(None)
    return {"values": values, "led0": kernel[0], "led1": kernel[1], "led2": kernel[2],
            "button": info, "before": before, "edges": ",".join(str(v) for v, _ in seen)}
