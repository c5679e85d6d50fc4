"""Board pin/bus tables (kiln.boardhw): every board file's names as PINS-CONTRACT.md fixes them,
and the schema's refusals (each names the file, table and key)."""
from __future__ import annotations

import copy
import tomllib
from pathlib import Path

import pytest

from kiln import boards
from kiln.boards import BoardError

CONFIGS = Path(__file__).resolve().parents[1] / "board_configs"
PIS = ("rpi3b", "rpi4b", "rpi-zero2w")
QEMU = ("qemu-aarch64", "qemu-arm")
# Header position -> BCM GPIO (the Raspberry Pi 40-pin header, positions with a GPIO).
HEADER = {3: 2, 5: 3, 7: 4, 8: 14, 10: 15, 11: 17, 12: 18, 13: 27, 15: 22, 16: 23, 18: 24,
          19: 10, 21: 9, 22: 25, 23: 11, 24: 8, 26: 7, 27: 0, 28: 1, 29: 5, 31: 6, 32: 12,
          33: 13, 35: 19, 36: 16, 37: 26, 38: 20, 40: 21}


@pytest.mark.parametrize("name", QEMU)
def test_qemu_virt_names(name):
    hw = boards.load(name).hw
    assert hw.chips["pl061"].node == "pl061@9030000"
    for n in range(8):
        for pname in (f"D{n}", f"GPIO{n}"):
            spec = hw.pins[pname]
            assert (spec.kind, spec.chip, spec.line, spec.number) == ("line", "pl061", n, n)
    assert "D8" not in hw.pins
    for led, line in (("LED0", 0), ("LED1", 1), ("LED2", 2), ("LED_RED", 0), ("LED_GREEN", 1),
                      ("LED_BLUE", 2), ("BTN0", 3)):
        assert hw.pins[led].line == line, led
    assert hw.watchdog == "/dev/watchdog"
    assert hw.buses == ()


@pytest.mark.parametrize("name", PIS)
def test_raspberry_pi_names(name):
    hw = boards.load(name).hw
    assert hw.chips["soc"].node == "gpio@7e200000"
    for n in range(54):
        assert hw.pins[f"D{n}"].line == n and hw.pins[f"GPIO{n}"].line == n
    for pos, bcm in HEADER.items():
        assert hw.pins[f"PIN{pos}"].line == bcm and hw.pins[f"PIN{pos}"].number == bcm
    for pos in (1, 2, 4, 6, 9, 14, 17, 20, 25, 30, 34, 39):      # power and ground
        assert f"PIN{pos}" not in hw.pins
    assert hw.pins["LED0"].kind == "led" and hw.pins["LED0"].led == "ACT"
    i2c = hw.bus("i2c", "I2C0")
    assert (i2c.id, i2c.node) == (1, "i2c@7e804000") and hw.bus("i2c", 1) is i2c
    spi = hw.bus("spi", "SPI0")
    assert (spi.id, spi.node, spi.cs) == (0, "spi@7e204000", ("GPIO8", "GPIO7"))
    uart = hw.bus("uart", 0)
    assert (uart.name, uart.node) == ("SERIAL1", "serial@7e201000")
    assert [(p.name, p.channel, p.pin) for p in hw.of_kind("pwm")] == [
        ("PWM0", 0, "GPIO18"), ("PWM1", 1, "GPIO19")]


def test_pi4_has_the_pwr_led_and_58_lines():
    hw = boards.load("rpi4b").hw
    assert hw.pins["LED1"].led == "PWR" and hw.pins["D57"].line == 57


def _load(tmp_path, edit):
    data = tomllib.loads((CONFIGS / "rpi3b.toml").read_text())
    data = copy.deepcopy(data)
    edit(data)
    return boards.from_dict(data, source=tmp_path / "rpi3b.toml")


BAD = [
    ("unknown gpio key", lambda d: d["gpio"].update(chip={}), "[gpio] chip is not a known key"),
    ("chip without node/label", lambda d: d["gpio"]["chips"].update(x={}),
     "entry 'x' must be a table with 'node' and/or 'label'"),
    ("numbered: unknown chip", lambda d: d["gpio"]["numbered"][0].update(chip="nope"),
     "chip 'nope' is not in [gpio] chips"),
    ("numbered: no {n}", lambda d: d["gpio"]["numbered"][0].update(names=["D"]),
     "patterns containing '{n}'"),
    ("numbered: last < first", lambda d: d["gpio"]["numbered"][0].update(first=9, last=3),
     "first/last"),
    ("lower-case name", lambda d: d["pins"].update(led="GPIO1"), "name 'led' must be upper"),
    ("duplicate name", lambda d: d["pins"].update(D5="GPIO6"), "'D5' is defined twice"),
    ("alias to nothing", lambda d: d["pins"].update(PIN99="GPIO99"), "[pins] PIN99 refers to"),
    ("alias loop", lambda d: d["pins"].update(AA="BB", BB="AA"), "aliases loop"),
    ("line not a number", lambda d: d["pins"].update(XX="soc:x"), "line 'x' is not a line"),
    ("unknown chip", lambda d: d["pins"].update(XX="gpioz:1"), "chip 'gpioz' is not in"),
    ("bus: unknown key", lambda d: d["i2c"][0].update(speed=1), "[i2c[0]] speed is not a known"),
    ("bus: missing id", lambda d: d["i2c"][0].pop("id"), "[i2c[0]] id is missing"),
    ("bus: id type", lambda d: d["i2c"][0].update(id="1"), "[i2c[0]] id must be int"),
    ("bus: repeated", lambda d: d["i2c"].append(dict(d["i2c"][0])), "repeats another"),
    ("spi cs unknown pin", lambda d: d["spi"][0].update(cs=["GPIO99"]), "names 'GPIO99'"),
    ("pwm pin unknown", lambda d: d["pwm"][0].update(pin="X1"), "[pwm[0]] pin names 'X1'"),
    ("pwm without channel", lambda d: d["pwm"][0].pop("channel"), "[pwm[0]] channel is missing"),
    ("bus table not array", lambda d: d.update(uart={"name": "X"}), "[uart] - must be an array"),
    ("watchdog not /dev", lambda d: d["watchdog"].update(device="watchdog"), "under /dev/"),
]


@pytest.mark.parametrize("label,edit,message", BAD, ids=[b[0] for b in BAD])
def test_schema_refuses(tmp_path, label, edit, message):
    with pytest.raises(BoardError) as info:
        _load(tmp_path, edit)
    assert message in str(info.value)
    assert "rpi3b.toml" in str(info.value)


def test_board_without_tables_has_no_pins(tmp_path):
    def strip(d):
        for t in ("gpio", "pins", "i2c", "spi", "uart", "pwm", "watchdog"):
            d.pop(t, None)
    board = _load(tmp_path, strip)
    assert board.hw.pins == {} and board.hw.buses == () and board.hw.watchdog == ""
