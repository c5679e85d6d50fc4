"""MicroPython's machine.Pin and Zerynth's gpio / v2 pin builtins over kiln.hw.pinctl, with the
GPIO chip substituted (tests/hw_fakegpio.py: this host has no GPIO chip; the real chardev runs
under QEMU), names resolved from the real board files (tests/hw_sysfs.py), edge events
delivered by the real kiln.hw.edges thread.  Zerynth's published Blink, Interrupt and Interrupts
examples run unmodified under the launcher."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import hw_fakegpio as fake
from hw_sysfs import board_root
from kiln.hw import pinctl, resolve
from zerynth_examples import example_source

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def board(tmp_path, monkeypatch):
    def make(name):
        monkeypatch.setenv("KILN_SYSROOT", str(board_root(tmp_path, name)))
        resolve.reset()
        pinctl.release_all()
        fake.reset()
        monkeypatch.setattr(pinctl, "Chip", fake.FakeChip)
    yield make
    pinctl.release_all()
    fake.reset()
    resolve.reset()


def wait_for(cond, timeout=3.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.01)
    return False


def test_machine_pin_modes_and_values(board):
    board("qemu-aarch64")
    from kiln.mpy.machine import Pin
    led = Pin("LED_BLUE", Pin.OUT, value=1)
    req = fake.REQUESTS[2]
    assert req.consumer == "kiln:LED_BLUE" and req.cfg["direction"] == "output" and req.out == 1
    assert led.value() == 1
    led.off()
    assert led() == 0
    led.toggle()
    assert led.value() == 1
    led(0)
    assert req.out == 0
    same = Pin(2)                            # the same line: one request, shared
    assert same.value() == 0 and fake.REQUESTS[2] is req
    b = Pin("BTN0", Pin.IN, Pin.PULL_UP)
    assert fake.REQUESTS[3].cfg["bias"] == "pull-up" and b.value() == 1
    b.init(Pin.IN, Pin.PULL_DOWN)
    assert fake.REQUESTS[3].cfg["bias"] == "pull-down" and b.value() == 0
    assert b.pull() == Pin.PULL_DOWN and b.mode() == Pin.IN
    od = Pin("D5", Pin.OPEN_DRAIN, value=1)
    assert fake.REQUESTS[5].cfg["drive"] == "open-drain"
    assert Pin("LED").value() == 0           # "LED" is LED0 where the board has no "LED"
    with pytest.raises(ValueError, match="pin 'D9' does not exist on qemu-aarch64"):
        Pin("D9")
    with pytest.raises(ValueError, match="pin 12 does not exist"):
        Pin(12)
    with pytest.raises(ValueError, match="ALT is not available on Linux"):
        Pin("D6", Pin.ALT)
    with pytest.raises(ValueError, match="mode must be"):
        Pin("D6", 17)
    with pytest.raises(ValueError, match="pull must be"):
        Pin("D6", Pin.IN, 9)
    with pytest.raises(ValueError, match="make it an output"):
        b.value(1)
    del od


def test_machine_pin_irq(board):
    board("qemu-aarch64")
    from kiln.mpy import machine
    from kiln.mpy.machine import Pin
    seen = []
    done = threading.Event()

    def handler(pin):
        seen.append((pin, threading.current_thread().name, irq.flags()))
        done.set()
    btn = Pin("BTN0", Pin.IN)
    irq = btn.irq(handler, Pin.IRQ_RISING)
    assert fake.REQUESTS[3].cfg["edge"] == "rising"
    fake.drive(3, 1)
    assert done.wait(3)
    assert seen == [(btn, "kiln-gpio-edges", Pin.IRQ_RISING)]
    fake.drive(3, 0)                         # falling: not asked for
    time.sleep(0.1)
    assert len(seen) == 1
    state = machine.disable_irq()            # handlers held off ...
    fake.drive(3, 1)
    time.sleep(0.2)
    assert len(seen) == 1
    machine.enable_irq(state)                # ... and run once enabled
    assert wait_for(lambda: len(seen) == 2)
    btn.irq(None)
    assert fake.REQUESTS[3].cfg["edge"] == "none"
    with pytest.raises(ValueError, match="level triggers"):
        btn.irq(handler, Pin.IRQ_LOW_LEVEL)
    with pytest.raises(TypeError, match="handler must be callable"):
        btn.irq(42)


def test_led_class_pins(board, tmp_path):
    board("rpi4b")
    from kiln.mpy.machine import Pin
    act = Pin("LED0", Pin.OUT)
    act.on()
    root = Path(os.environ["KILN_SYSROOT"])
    assert (root / "sys/class/leds/ACT/brightness").read_text().strip() == "1"
    assert act.value() == 1
    act.toggle()
    assert (root / "sys/class/leds/ACT/brightness").read_text().strip() == "0"
    with pytest.raises(ValueError, match="LED 'ACT': an output only"):
        Pin("LED0", Pin.IN)
    with pytest.raises(ValueError, match="no interrupts"):
        act.irq(lambda p: None)


def test_zerynth_gpio(board):
    board("rpi3b")
    from kiln.zerynth import gpio
    from kiln.hw.names import pin_names
    D = pin_names()
    gpio.mode(D["D10"], gpio.OUTPUT)
    gpio.high(D["D10"])
    assert gpio.get(D["D10"]) == 1 and gpio.latch(10) == 1
    gpio.low(10)
    assert gpio.get(D["PIN19"]) == 0                # header pin 19 is GPIO10
    gpio.toggle(10)
    assert fake.REQUESTS[10].out == 1
    gpio.set(10, 0)
    gpio.mode(11, gpio.INPUT_PULLUP)
    assert gpio.get(11) == 1
    got = []
    ev = threading.Event()
    gpio.on_rise(12, lambda pin, value: (got.append((pin, value)), ev.set()), debounce=20)
    assert fake.REQUESTS[12].cfg["bias"] == "pull-down"
    assert fake.REQUESTS[12].cfg["debounce_us"] == 20_000
    fake.drive(12, 1)
    assert ev.wait(3) and got == [(12, 1)]
    calls = []
    gpio.on_fall(13, lambda: calls.append("fall"))       # a callback without parameters
    assert fake.REQUESTS[13].cfg["bias"] == "pull-up"
    fake.drive(13, 0)
    assert wait_for(lambda: calls == ["fall"])
    gpio.disable_interrupt(13)
    assert fake.REQUESTS[13].cfg["edge"] == "none"
    with pytest.raises(ValueError, match="pin 'D99' does not exist"):
        gpio.set("D99", 1)
    with pytest.raises(ValueError, match="mode must be one of"):
        gpio.mode(10, 99)


def test_zerynth_v2_builtins(board):
    board("qemu-aarch64")
    from kiln.errors import InvalidPinError, UnsupportedError
    from kiln.zerynth import pins as z
    z.pinMode("LED0", z.OUTPUT)
    z.digitalWrite("LED0", z.HIGH)
    assert z.digitalRead("LED0") == z.HIGH
    z.pinToggle("LED0")
    assert z.digitalRead("LED0") == z.LOW
    z.pinMode("BTN0", z.INPUT_PULLUP)
    got = []
    z.onPinFall("BTN0", got.append, "fell", debounce=300)
    z.onPinRise("BTN0", got.append, "rose", debounce=500)
    cfg = fake.REQUESTS[3].cfg
    assert cfg["edge"] == "both" and cfg["debounce_us"] == 500_000 and cfg["bias"] == "pull-up"
    fake.drive(3, 0)
    fake.drive(3, 1)
    assert wait_for(lambda: got == ["fell", "rose"])
    z.onPinRise("BTN0", got.append, "r", debounce=1, time_unit=1)     # MICROS
    assert fake.REQUESTS[3].cfg["debounce_us"] == 300_000             # fall's 300 ms is larger
    with pytest.raises(InvalidPinError):
        z.digitalRead("D8")
    with pytest.raises(UnsupportedError, match="INPUT_ANALOG"):
        z.pinMode("D4", z.INPUT_ANALOG)
    with pytest.raises(ValueError, match="debounce must be"):
        z.onPinRise("D4", print, debounce=-1)
    with pytest.raises(TypeError, match="fun must be callable"):
        z.onPinRise("D4", 5)


# ---- Zerynth's published examples, unmodified, under the launcher --------------------------

def run_example(name, tmp_path, board_name, inject=(), seconds=3.5):
    src = example_source(name)
    app = tmp_path / f"{name}.py"
    app.write_text(src)
    root = board_root(tmp_path / "root", board_name)
    ctl = tmp_path / "ctl"
    os.mkfifo(ctl)
    log = tmp_path / "gpio.log"
    env = dict(os.environ, KILN_SYSROOT=str(root), KILN_FAKE_GPIO_CTL=str(ctl),
               KILN_FAKE_GPIO_LOG=str(log),
               PYTHONPATH=os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH",
                                                                                  "")]))
    code = ("import hw_fakegpio; hw_fakegpio.install(); from kiln.app import main; main()")
    proc = subprocess.Popen([sys.executable, "-c", code, "--api", "zerynth", "--net", "none",
                             str(app)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(1.0)
        for line, level in inject:
            with open(ctl, "w") as f:
                f.write(f"{line} {level}\n")
            time.sleep(0.3)
        time.sleep(seconds)
    finally:
        proc.terminate()
        out = proc.communicate(timeout=10)[0]
    return out, (log.read_text().splitlines() if log.exists() else [])


def test_blink_example(tmp_path):
    out, log = run_example("Blink", tmp_path, "qemu-aarch64")
    assert "Traceback" not in out, out
    sets = [l.split()[1:] for l in log]
    blue = [s for s in sets if s[0] in ("set", "request") and s[1] == "2"]
    green = [s for s in sets if s[0] in ("set", "request") and s[1] == "1"]
    assert len(blue) >= 4 and 2 <= len(green) <= len(blue), (out, log)   # 1 s vs 2 s


def test_interrupt_example_on_a_pi(tmp_path):
    out, log = run_example("Interrupt", tmp_path, "rpi3b",
                           inject=[(35, 1), (34, 1), (34, 0)], seconds=1)
    assert "Traceback" not in out, out
    assert "D35 = 0" in out and "D36 = 1" in out          # pull-down / pull-up
    assert "Positive edge triggered" in out and "Negative edge triggered" in out, out


def test_interrupts_example_v2(tmp_path):
    out, log = run_example("Interrupts", tmp_path, "qemu-aarch64",
                           inject=[(3, 0)], seconds=1)
    assert "Traceback" not in out, out
    assert "touched!" in out, out
    led = [l.split()[1:] for l in log if l.split()[1] == "set" and l.split()[2] == "0"]
    assert [s[2] for s in led][-2:] == ["1", "0"], log       # the LED flashed
