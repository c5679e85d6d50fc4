"""Board names to devices (kiln.hw.resolve) on each board's recorded tree plus the sysfs layout
of its controllers (tests/hw_sysfs.py), and the errors for what is absent."""
from __future__ import annotations

import pytest

from kiln.hw import names, resolve
from kiln.hw.resolve import BusError, DeviceMissingError, PinNameError
from hw_sysfs import board_root

PIS = ("rpi3b", "rpi4b", "rpi-zero2w")


@pytest.fixture
def sysroot(tmp_path, monkeypatch):
    def make(board, **kwargs):
        root = board_root(tmp_path, board, **kwargs)
        monkeypatch.setenv("KILN_SYSROOT", str(root))
        resolve.reset()
        return root
    yield make
    resolve.reset()


@pytest.mark.parametrize("board", ("qemu-aarch64", "qemu-arm"))
def test_qemu_pins(sysroot, board):
    root = sysroot(board)
    assert resolve.board().name == board
    chip = str(root / "dev/gpiochip512")
    assert resolve.line("LED_BLUE")[:2] == (chip, 2)
    assert resolve.line("BTN0")[:2] == (chip, 3)
    assert resolve.line(7)[:2] == (chip, 7)
    assert resolve.line("gpio5")[:2] == (chip, 5)          # case-insensitive names
    with pytest.raises(PinNameError, match="pin 'D8' does not exist on " + board):
        resolve.pin("D8")
    with pytest.raises(PinNameError, match=r"pin numbers: 0\.\.7"):
        resolve.pin(8)
    with pytest.raises(BusError, match="I2C 'I2C0' does not exist .* none"):
        resolve.i2c_device("I2C0")
    assert resolve.watchdog_device() == str(root / "dev/watchdog")


@pytest.mark.parametrize("board", PIS)
def test_pi_buses(sysroot, board):
    root = sysroot(board)
    assert resolve.line("PIN11")[1] == 17
    assert resolve.i2c_device(1) == str(root / "dev/i2c-20")        # by node, not number
    assert resolve.i2c_device("I2C0") == resolve.i2c_device(1)
    assert resolve.spi_device(0, 1) == str(root / "dev/spidev11.1")
    assert resolve.uart_device(0) == str(root / "dev/ttyAMA0")
    chipdir, channel, spec = resolve.pwm_chip("PWM1")
    assert (chipdir.name, channel) == ("pwmchip4", 1)
    assert resolve.pwm_for_pin("PIN12").name == "PWM0"                # GPIO18 by position
    assert resolve.pwm_for_pin(19).name == "PWM1"
    with pytest.raises(BusError, match="pin GPIO17 has no PWM channel"):
        resolve.pwm_for_pin("GPIO17")
    with pytest.raises(BusError, match=r"I2C 0 does not exist .*I2C0 \(id 1\)"):
        resolve.bus("i2c", 0)
    led = resolve.pin("LED0")
    assert resolve.led_dir(led) == root / "sys/class/leds/ACT"
    with pytest.raises(PinNameError, match="LED 'ACT'.*not a GPIO line"):
        resolve.line("LED0")


@pytest.mark.parametrize("missing,call,message", [
    ("gpio", lambda: resolve.line("D4"), "GPIO controller 'gpio@7e200000'.*not on this system"),
    ("i2c", lambda: resolve.i2c_device(1), "I2C bus I2C0 .*not on this system"),
    ("i2c-dev", lambda: resolve.i2c_device(1), "i2c-dev module is not loaded"),
    ("spi", lambda: resolve.spi_device(0), "SPI bus SPI0 .*not on this system"),
    ("spidev", lambda: resolve.spi_device(0), "no spidev child"),
    ("uart", lambda: resolve.uart_device(0), "UART SERIAL1 .*not on this system"),
    ("pwm", lambda: resolve.pwm_chip(0), "PWM PWM0 .*not on this system"),
    ("watchdog", resolve.watchdog_device, "no watchdog driver loaded"),
    ("leds", lambda: resolve.led_dir(resolve.pin("LED0")), "which this system does not have"),
])
def test_missing_devices_are_named(sysroot, missing, call, message):
    sysroot("rpi3b", missing=(missing,))
    with pytest.raises(DeviceMissingError, match=message):
        call()


def test_not_a_kiln_board(tmp_path, monkeypatch):
    monkeypatch.setenv("KILN_SYSROOT", str(tmp_path))
    resolve.reset()
    try:
        with pytest.raises(BusError, match="not a Kiln board"):
            resolve.pin("D1")
        assert names.pin_names() == {} and names.bus_names() == {}
    finally:
        resolve.reset()


def test_names_are_ints_that_remember(sysroot):
    sysroot("rpi3b")
    pins = names.pin_names()
    assert pins["D18"] == 18 and repr(pins["PIN12"]) == "PIN12" and pins["PIN12"] == 18
    assert pins["D18"].PWM is pins["D18"]
    with pytest.raises(BusError):
        pins["D17"].PWM
    assert pins["LED0"] >= 256 and names.pin_key(int(pins["LED0"])) == "LED0"
    buses = names.bus_names()
    assert (buses["I2C0"], buses["SPI0"], buses["SERIAL1"], buses["PWM1"]) == (0, 0, 1, 1)
    import bsp.board
    assert bsp.board.D35 == 35 and bsp.board.I2C0.name == "I2C0"
    with pytest.raises(AttributeError, match="not a pin or bus"):
        bsp.board.D99
