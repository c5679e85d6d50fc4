# GPIO proof on QEMU virt's PL061 (kiln.hw + both faces), run with --api micropython.
import os
import sys
import time

from kiln.hw import gpio, resolve
import machine

fails = []


def check(what, cond):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        fails.append(what)


print("board:", resolve.board().name)
path = resolve.gpio_chip("pl061")
print("pl061 is", path)
with gpio.Chip(path) as chip:
    print("chip:", chip.name, chip.label, chip.lines)
    check("PL061 has 8 lines", chip.lines == 8)
    info3 = chip.line_info(3)
    print("line 3 before:", info3)
    check("line 3 (power button) is free: gpio_keys did not claim it", not info3.used)
    req = chip.request([4, 5], "kiln-proof", direction="output", values=[1, 0])
    with req:
        check("outputs read back [1, 0]", req.get_values() == [1, 0])
        req.set_values([0, 1])
        check("outputs read back [0, 1]", req.get_values() == [0, 1])
        info = chip.line_info(4)
        print("line 4 while held:", info)
        check("line info: consumer kiln-proof", info.consumer == "kiln-proof")
        check("line info: direction output, used", info.direction == "output" and info.used)
        req.reconfigure(direction="input", edge="both")
        info = chip.line_info(5)
        print("line 5 reconfigured:", info)
        check("reconfigured to input with both edges", info.direction == "input" and
              info.edge == "both")
        check("no edge queued", req.read_edge_events(timeout=0) == [])
        t = time.monotonic()
        try:
            req.read_edge_events(timeout=0.2)
            check("edge wait times out", False)
        except TimeoutError:
            check("edge wait times out after 0.2 s", 0.15 < time.monotonic() - t < 1.0)
    check("released: line 4 free again", not chip.line_info(4).used)
    try:
        chip.request([9])
        check("line 9 refused", False)
    except ValueError as exc:
        check(f"line 9 refused: {exc}", "offsets" in str(exc))

# MicroPython face
led = machine.Pin("LED0", machine.Pin.OUT, value=0)
led.on()
check("Pin(LED0).on() reads 1", led.value() == 1)
led.toggle()
check("Pin(LED0).toggle() reads 0", led.value() == 0)
with gpio.Chip(path) as chip:
    info = chip.line_info(0)
    print("LED0 line:", info)
    check("LED0 held by kiln:LED0 as output", info.consumer == "kiln:LED0" and
          info.direction == "output")
btn = machine.Pin("BTN0", machine.Pin.IN)
check("BTN0 reads 0 (button released)", btn.value() == 0)
try:
    machine.Pin("D9")
    check("Pin(D9) refused", False)
except ValueError as exc:
    check(f"Pin(D9) refused: {exc}", "D9" in str(exc))

# Zerynth face
from kiln.zerynth import gpio as zgpio
zgpio.mode(6, zgpio.OUTPUT)
zgpio.high(6)
check("gpio.high(D6) -> get 1", zgpio.get(6) == 1)
zgpio.toggle(6)
check("gpio.toggle(D6) -> get 0", zgpio.get(6) == 0)

# no fd leak over 10,000 open/request/close cycles
before = len(os.listdir("/proc/self/fd"))
t = time.monotonic()
for _ in range(10000):
    with gpio.Chip(path) as chip:
        chip.request([7], "leak", direction="output", values=[1]).close()
after = len(os.listdir("/proc/self/fd"))
print(f"10000 cycles in {time.monotonic() - t:.1f} s; fds {before} -> {after}")
check("no fd leak over 10,000 cycles", before == after)

print("GPIO-PROOF", "FAILED" if fails else "OK", len(fails))
sys.exit(1 if fails else 0)
