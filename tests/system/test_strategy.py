"""``KilnStrategy`` without QEMU: its states on a place built like a Raspberry Pi's (power port,
serial console, USB-SD-mux with its storage, an Ethernet relay), whose drivers are fakes that
act on a simulated board.  The place is an environment file of the same shape a real board's
would have (``docs/farm.md``, "A real board's place"), so this also checks that nothing but the
environment changes between QEMU and a board.  No root, no network."""
from __future__ import annotations

import time
from pathlib import Path

import attr
import pexpect
import pytest
from labgrid.driver import Driver, USBSDMuxDriver, USBStorageDriver
from labgrid.factory import target_factory
from labgrid.protocol import ConsoleProtocol, DigitalOutputProtocol, PowerProtocol
from labgrid.strategy import StrategyError

from kiln_labgrid import ConsoleTimeout, Status
from labgrid_env import STRATEGY, TARGET, open_environment


class Board:
    """The simulated hardware: power, a serial line, an SD card that is either at the host or
    at the board, an Ethernet cable.  Powering on plays ``script`` on the serial line."""

    def __init__(self, script: list[bytes]) -> None:
        self.script = script
        self.events: list[str] = []
        self.serial: list[bytes] = []
        self.card: dict[str, bytes] = {}
        self.card_at = "dut"
        self.cable = True

    def power(self, on: bool) -> None:
        self.events.append("power on" if on else "power off")
        if on:
            assert self.card_at == "dut", "board powered on without its SD card"
            self.serial = list(self.script)
        else:
            self.serial = []


BOARD: Board | None = None


@target_factory.reg_driver
@attr.s(eq=False)
class KilnFakePowerDriver(Driver, PowerProtocol):
    def on(self):
        BOARD.power(True)

    def off(self):
        BOARD.power(False)

    def cycle(self):
        self.off()
        self.on()


@target_factory.reg_driver
@attr.s(eq=False)
class KilnFakeSerialDriver(Driver, ConsoleProtocol):
    """Like labgrid's SerialDriver: ``read`` raises pexpect's TIMEOUT when nothing came."""

    @Driver.check_active
    def read(self, size=1, timeout=0.0, max_size=None):
        if BOARD.serial:
            return BOARD.serial.pop(0)
        time.sleep(timeout)
        raise pexpect.TIMEOUT(f"Timeout of {timeout:.2f} seconds exceeded")

    @Driver.check_active
    def write(self, data):
        return len(data)


@target_factory.reg_driver
@attr.s(eq=False)
class KilnFakeSDMuxDriver(USBSDMuxDriver):
    bindings = {}

    @Driver.check_active
    def set_mode(self, mode):
        BOARD.events.append(f"sdmux {mode}")
        BOARD.card_at = mode


@target_factory.reg_driver
@attr.s(eq=False)
class KilnFakeStorageDriver(USBStorageDriver):
    bindings = {}

    @Driver.check_active
    def write_files(self, sources, target, partition, target_is_directory=True):
        assert BOARD.card_at == "host", "SD card written while the board has it"
        BOARD.events.append(f"write partition {partition}")
        for source in sources:
            BOARD.card[str(target / Path(source).name)] = Path(source).read_bytes()


@target_factory.reg_driver
@attr.s(eq=False)
class KilnFakeRelayDriver(Driver, DigitalOutputProtocol):
    @Driver.check_active
    def set(self, status):
        BOARD.cable = bool(status)

    @Driver.check_active
    def get(self):
        return BOARD.cable


PLACE = """\
imports:
  - kiln_labgrid
targets:
  main:
    drivers:
      KilnFakePowerDriver: {}       # a real place: NetworkPowerDriver on a NetworkPowerPort
      KilnFakeSerialDriver: {}      # SerialDriver on a RawSerialPort
      KilnFakeSDMuxDriver: {}       # USBSDMuxDriver on a USBSDMuxDevice
      KilnFakeStorageDriver: {}     # USBStorageDriver on the same USBSDMuxDevice
      %(relay)s
      KilnStrategy:
        board: rpi4b
        cmdline: !template $LG_KILN_CMDLINE
        boot_files: [kernel, initrd]
images:
  kernel: !template $LG_KILN_KERNEL
  initrd: !template $LG_KILN_INITRD
"""
BOOT = [b"[    0.000000] Booting Linux\r\n", b"KILN: board rp",
        b"i4b\r\nKILN: net dhcp 10.77.0.5/24\r\n", b"hello \xe2\x9c", b"\x93 from the app\r\n",
        b"KILN: app exited with status 3\r\n"]


@pytest.fixture
def place(tmp_path):
    """``place(script, relay=True)``: the strategy of a fresh environment on a simulated board."""
    global BOARD
    envs = []

    def make(script, relay=True):
        global BOARD
        BOARD = Board(script)
        (tmp_path / "vmlinuz").write_bytes(b"kernel")
        (tmp_path / "initramfs.cpio.zst").write_bytes(b"initrd")
        path = tmp_path / "rpi4.yaml"
        path.write_text(PLACE % {"relay": "KilnFakeRelayDriver: {}" if relay else ""})
        env = open_environment(path, {"LG_KILN_CMDLINE": "console=serial0 kiln.net=dhcp",
                                      "LG_KILN_KERNEL": str(tmp_path / "vmlinuz"),
                                      "LG_KILN_INITRD": str(tmp_path / "initramfs.cpio.zst")})
        envs.append(env)
        return env.get_target(TARGET).get_driver(STRATEGY, activate=False)

    yield make
    for env in envs:
        env.cleanup()
    BOARD = None


def test_states_in_order_write_the_card_boot_and_read_the_exit_status(place):
    strategy = place(BOOT)
    strategy.transition("booted")
    assert strategy.status == Status.booted
    assert BOARD.events == ["power off", "sdmux host", "write partition 1", "sdmux dut", "power on"]
    assert BOARD.card == {"/vmlinuz": b"kernel", "/initramfs.cpio.zst": b"initrd",
                          "/cmdline.txt": b"console=serial0 kiln.net=dhcp\n"}
    assert strategy.transcript.endswith("KILN: board rpi4b\r\n")

    assert strategy.expect(r"hello (\S) from", 5).group(1) == "\u2713"   # split UTF-8 char
    strategy.transition("finished", timeout=5)
    assert strategy.app_status == 3 and strategy.status == Status.finished
    assert "KILN: net dhcp 10.77.0.5/24" in strategy.transcript

    strategy.transition("off")
    assert BOARD.events[-1] == "power off" and strategy.status == Status.off
    strategy.transition("finished", timeout=5)       # from off: a whole new boot
    assert BOARD.events.count("power on") == 2 and strategy.app_status == 3
    assert strategy.transcript.count("KILN: board rpi4b") == 1   # one boot's console


def test_wrong_board_and_missing_lines_fail_with_the_console(place):
    strategy = place([b"KILN: board qemu-arm\r\n"])
    with pytest.raises(StrategyError, match="board qemu-arm.*expects rpi4b"):
        strategy.transition("booted")

    strategy = place([b"KILN: board rpi4b\r\n", b"Traceback (most recent call last):\r\n"])
    strategy.transition("booted")
    with pytest.raises(ConsoleTimeout, match="app exited"):
        strategy.transition("finished", timeout=0.3)
    assert strategy.unmatched.startswith("Traceback") and strategy.app_status is None
    with pytest.raises(StrategyError):
        strategy.transition("unknown")


def test_cable_is_the_places_digital_output(place):
    strategy = place(BOOT)
    strategy.transition("booted")
    strategy.set_cable(False)
    assert BOARD.cable is False
    strategy.set_cable(True)
    assert BOARD.cable is True

    strategy = place(BOOT, relay=False)
    with pytest.raises(StrategyError, match="no cable switch"):
        strategy.set_cable(False)
