"""Issue #20 under QEMU: pins and buses on emulated hardware, from MicroPython's ``machine`` and
Zerynth's ``gpio``/``i2c``/``spi``, ONE boot per board.

What each board's QEMU emulates (board_configs/, ``[qemu] test_devices``):

* ``qemu-aarch64``, ``qemu-arm`` (``virt``): the PL061 GPIO controller -- LED0..LED2 are lines
  0..2, BTN0 is line 3, which QEMU's power button drives (QMP ``system_powerdown`` raises it,
  ~100 ms later it falls); on qemu-aarch64 an Intel 6300ESB watchdog on PCI (Debian's armmp
  kernel has no driver for it, so qemu-arm has no watchdog).
* ``rpi3b`` (``raspi3b``, QEMU 10): the BCM2835 GPIO, I2C (a TMP105 at 0x48 and an EEPROM at
  0x50 on i2c1) and SPI (an N25Q128 flash on spi0, its chip select wired to GPIO 8 over QMP:
  ``[qemu] wires``) controllers, and the PL011 connected to a Unix socket the test talks
  through (``Guest.uart_socket``).

The image's app is ``apps/pins/`` with only the check modules the board's hardware serves
(:data:`PLANS`) and the programs the plan runs: each face's checks print ``CHECK`` lines (the
program-test harness, ``apps/programs/harness``), the host answers their ``event`` lines
(QMP, the UART socket), then whole programs run as a board runs its app -- Zerynth's published
``Blink`` and ``Interrupt`` examples unmodified, a MicroPython sensor program, a Zerynth
blink+button program -- their lines on the console as ``PROGRAM <name> | ...``; the watchdog
program runs last on the board that has one, and the test sees the board reset.
"""
from __future__ import annotations

import dataclasses
import random
import re
import shutil
import socket
import sys
import time
from pathlib import Path

import pytest

from guest import GuestStarter
from image_cache import session_image
from layout import APPS, REPO
from test_programs import Result, parse_facts
from kiln import boards
from kiln.host.runner import netns, qemutool
from kiln.host.runner.boot import guest_cmdline
from kiln.host.runner.netlab import NetLab

sys.path.insert(0, str(REPO))
from tests.zerynth_examples import example_source  # noqa: E402

pytestmark = pytest.mark.system

PINS = APPS / "pins"
HARNESS = APPS / "programs" / "harness" / "__init__.py"
QUIET_TIMEOUT_S = 240.0
RUN_TIMEOUT_S = 900.0
LINE_RE = (r"(?:CHECK (\S+) (ok|FAIL|event)(?: ([^\r\n]*))?|PROGRAM (\S+) \| ([^\r\n]*)|"
           r"KILN: app exited with status (-?\d+)|KILN: board (\S+))\r?\n")
FLASH_ID = "20ba18"                      # Micron N25Q128 (QEMU's m25p80 model)


@dataclasses.dataclass(frozen=True)
class Plan:
    """What one board's boot exercises: check modules per face, programs run after them
    (``NAME:API:MAX_SECONDS:UNTIL``, apps/pins/main.py), GPIO lines sampled while programs
    run, the last program."""

    checks: dict[str, tuple[str, ...]]
    programs: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()
    watch: str = ""
    last: str = ""


VIRT = dict(checks={"micropython": ("gpio_button",), "zerynth": ("gpio_button",)},
            programs=("Blink:zerynth:90:changes=10", "blink_button:zerynth:120:lines=30"),
            examples=("Blink",),
            watch="gpiochip0:1,gpiochip0:2")
PLANS = {
    "qemu-aarch64": Plan(**VIRT, last="watchdog:micropython"),
    "qemu-arm": Plan(**VIRT),
    "rpi3b": Plan(checks={"micropython": ("i2c_tmp105", "spi_flash", "uart", "gpio_pi",
                                          "pwm_sysfs", "fd_cycles"),
                          "zerynth": ("i2c_eeprom", "spi_flash", "gpio_pi", "pwm_sysfs")},
                  programs=("sensor:micropython:120:lines=14", "Interrupt:zerynth:90:lines=6"),
                  examples=("Interrupt",)),
}


def pins_app(plan: Plan, dest: Path) -> Path:
    """The app for ``plan`` in ``dest``: apps/pins/ with only the plan's checks and programs,
    the program-test harness, and the plan's Zerynth examples as published."""
    app = dest / "pins"
    shutil.copytree(PINS, app, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (app / "harness").mkdir()
    shutil.copy(HARNESS, app / "harness" / "__init__.py")
    for face in ("micropython", "zerynth"):
        for module in (app / "checks" / face).glob("*.py"):
            if module.name != "__init__.py" and module.stem not in plan.checks.get(face, ()):
                module.unlink()
    wanted = {p.split(":")[0] for p in (*plan.programs, plan.last) if p}
    for program in (app / "programs").glob("*.py"):
        if program.stem not in wanted:
            program.unlink()
    for name in plan.examples:
        (app / "examples" / name).mkdir(parents=True)
        (app / "examples" / name / "main.py").write_text(example_source(name))
    return app


@dataclasses.dataclass
class PinsRun:
    """What one boot reported: check results, program output, what the host did."""

    board: str
    results: dict[str, Result]
    programs: dict[str, list[str]]
    host: dict[str, object]
    peer_errors: dict[str, str]
    app_status: int | None
    transcript: str
    seconds: float

    def output(self, program: str) -> list[str]:
        """What ``program`` printed (without the launcher's ``KILN:`` lines)."""
        return [line for line in self.programs.get(program, []) if not line.startswith("KILN: ")]

    def result(self, name: str) -> Result:
        found = self.results.get(name)
        assert found is not None, f"check {name} did not report on {self.board}:\n" \
                                  f"{self.transcript}"
        assert found.ok, f"check {name} failed on {self.board}: {found.reason}\n" \
                         f"{self.transcript}"
        return found


class Host:
    """The host's side of the checks and programs: QMP on the guest's QEMU, the UART socket."""

    def __init__(self, guest):
        self.guest = guest
        self.seen: dict[str, object] = {"presses": 0, "uart_got": b""}
        self.uart = None
        if guest.uart_socket is not None:
            self.uart = socket.socket(socket.AF_UNIX)
            self.uart.connect(str(guest.uart_socket))
            self.uart.settimeout(30)

    def press(self) -> None:
        self.guest.qmp("system_powerdown")
        self.seen["presses"] += 1

    def set_temperature(self, key: str) -> float:
        celsius = random.randrange(-80, 240) / 2          # -40 .. 119.5 C, 0.5 C steps
        self.guest.qmp("qom-set", path="/machine/peripheral/tmp105", property="temperature",
                       value=int(celsius * 1000))
        self.seen[key] = celsius
        return celsius

    def uart_line(self) -> bytes:
        """One line from the guest's UART (what follows it stays in ``uart_rest``)."""
        data = self.seen.pop("uart_rest", b"")
        while b"\n" not in data:
            chunk = self.uart.recv(256)
            assert chunk, "the UART socket closed"
            data += chunk
        line, _, rest = data.partition(b"\n")
        self.seen["uart_rest"] = rest
        return line + b"\n"

    def event(self, check: str, what: str, facts: dict[str, str]) -> None:
        if what == "press":
            self.press()
        elif what == "set_temperature":
            self.set_temperature(check)
        elif what == "ping":
            self.seen["ping_event_at"] = time.monotonic()
            got = self.uart_line()
            self.seen["uart_got"] = got
            assert got == f"ping {facts['token']}\n".encode(), got
            self.uart.sendall(f"pong {facts['token']}\n".encode())
            self.seen["pong_after_s"] = time.monotonic() - self.seen["ping_event_at"]
            self.seen["uart_sent"] = f"pong {facts['token']}"
        elif what == "started" and check == "program.watchdog":
            # -no-reboot turns a reset into power-off: let this reset reboot the board.
            self.guest.qmp("set-action", reboot="reset")
            self.seen["watchdog_armed_at"] = time.monotonic()
        else:
            raise AssertionError(f"unexpected event {what!r} from {check}")

    def program_line(self, name: str, line: str) -> None:
        if name == "sensor" and line.startswith("devices:"):
            self.set_temperature("sensor")
        elif name == "blink_button" and line == "ready":
            for _ in range(2):
                time.sleep(1.0)
                self.press()
        elif name == "watchdog" and line == "stopped feeding":
            self.seen["stopped_at"] = time.monotonic()

    def close(self) -> None:
        if self.uart is not None:
            self.uart.settimeout(2)
            self.seen["uart_after"] = self.seen.pop("uart_rest", b"")
            try:                       # what the guest wrote after the exchange ("fast\n")
                while chunk := self.uart.recv(256):
                    self.seen["uart_after"] += chunk
            except OSError:
                pass
            self.uart.close()


@pytest.fixture(scope="module")
def boot(resources, tmp_path_factory):
    """``boot(board_name)``: the board's :class:`PinsRun`, booted on first use (once per
    board for the whole module)."""
    runs: dict[str, PinsRun] = {}

    def get(name: str) -> PinsRun:
        if name not in runs:
            runs[name] = boot_pins(name, resources, tmp_path_factory)
        return runs[name]

    return get


@pytest.fixture
def pins(board_name, boot) -> PinsRun:
    """The run of the board the test is parametrized with (``board_name``)."""
    return boot(board_name)


def boot_pins(name: str, resources, tmp_path_factory) -> PinsRun:
    """Boot ``apps/pins/`` once on board ``name``, answer its events, follow it to the end."""
    board = boards.load(name)
    plan = PLANS[board.name]
    qemutool.ensure(board)
    app = pins_app(plan, tmp_path_factory.mktemp(f"pins-app-{board.name}"))
    out_dir = REPO / "out" / "system-tests" / f"{board.name}-pins"
    image = session_image(board, app, out_dir, tmp_path_factory.mktemp(f"pins-{board.name}"))
    args = {"test_programs": ",".join(plan.programs), "test_watch_lines": plan.watch,
            "test_last": plan.last}
    extra = " ".join(f"kiln.{k}={v}" for k, v in sorted(args.items()) if v) + " kiln.net=none"
    with NetLab() as lab:
        resources.namespaces.add(lab.name)
        starter = GuestStarter(board, image, resources)
        host = None
        try:
            t0 = time.monotonic()
            guest = starter.start(lab, guest_cmdline(image, lab, False, extra))
            host = Host(guest)
            results: dict[str, Result] = {}
            programs: dict[str, list[str]] = {}
            peer_errors: dict[str, str] = {}
            status = None
            while True:
                assert time.monotonic() - t0 < RUN_TIMEOUT_S, \
                    f"the pin checks took over {RUN_TIMEOUT_S} s:\n{guest.transcript}"
                m = guest.expect(LINE_RE, 60 if "watchdog_armed_at" in host.seen
                                 else QUIET_TIMEOUT_S)
                if m.group(7) is not None:          # a boot: the first, or the watchdog's
                    if "stopped_at" in host.seen:
                        host.seen["reset_after_s"] = time.monotonic() - host.seen["stopped_at"]
                        break
                    continue
                if m.group(6) is not None:
                    status = int(m.group(6))
                    break
                if m.group(4) is not None:
                    programs.setdefault(m.group(4), []).append(m.group(5))
                    host.program_line(m.group(4), m.group(5))
                    continue
                name, kind, rest = m.group(1), m.group(2), m.group(3) or ""
                if kind == "event":
                    what, _, facts = rest.partition(" ")
                    try:
                        host.event(name, what, parse_facts(facts))
                    except Exception as exc:
                        peer_errors[name] = f"{type(exc).__name__}: {exc}"
                elif kind == "ok":
                    results[name] = Result(name, True, parse_facts(rest))
                else:
                    results[name] = Result(name, False, {}, rest)
            run = PinsRun(board.name, results, programs, host.seen, peer_errors, status,
                          guest.transcript, time.monotonic() - t0)
        finally:
            try:
                if host is not None:
                    host.close()
            finally:
                starter.close_all()
    assert not netns.exists(lab.name), f"namespace {lab.name} survived close()"
    print(f"pins on {board.name}: {len(run.results)} checks, app status {run.app_status}, "
          f"{run.seconds:.0f} s from power-on")
    return run


def plan_of(pins: PinsRun) -> Plan:
    return PLANS[pins.board]


@pytest.mark.parametrize("board_name", sorted(PLANS))
def test_every_check_passed(pins):
    failed = {r.name: r.reason for r in pins.results.values() if not r.ok}
    assert not failed, f"failed on {pins.board}: {failed}\n{pins.transcript}"
    assert not pins.peer_errors, f"host side failed on {pins.board}: {pins.peer_errors}\n" \
                                 f"{pins.transcript}"
    plan = plan_of(pins)
    for face, checks in plan.checks.items():
        pins.result(f"face.{face}")
        for check in checks:
            pins.result(f"{face}.{check}")
    for program in (*plan.programs, plan.last):
        if program and program != plan.last:
            pins.result(f"program.{program.split(':')[0]}")
    if not plan.last:
        assert pins.app_status == 0, pins.transcript


def boards_with(check: str) -> list[str]:
    """The boards whose plan runs ``check`` (``face.module``, ``program:NAME``,
    ``example:NAME``, ``last:NAME``): what the test is parametrized over."""
    kind, _, name = check.partition(".") if "." in check else check.partition(":")
    found = []
    for board, plan in sorted(PLANS.items()):
        if kind in plan.checks and name in plan.checks[kind] or \
                kind == "program" and name in [p.split(":")[0] for p in plan.programs] or \
                kind == "example" and name in plan.examples or \
                kind == "last" and plan.last.split(":")[0] == name:
            found.append(board)
    assert found, f"no board runs {check}"
    return found


def needs(pins, check: str) -> Result:
    return pins.result(check)


# --- GPIO on QEMU virt: LEDs, the power button -------------------------------------------------

@pytest.mark.parametrize("board_name", boards_with("micropython.gpio_button"))
def test_micropython_pin_outputs_and_button_irq(pins):
    """machine.Pin: LED0..2 read back as set and the kernel shows them requested as outputs at
    those levels; BTN0's irq handler saw a rising then a falling edge per QMP press."""
    facts = needs(pins, "micropython.gpio_button").facts
    assert facts["values"] == "100", facts
    assert [facts[f"led{n}"].split("|")[1:] for n in range(3)] == \
        [["out", "hi"], ["out", "lo"], ["out", "lo"]], facts
    assert facts["led0"].split("|")[0], f"no consumer for LED0: {facts}"
    assert facts["button"].split("|")[1] == "in", facts
    assert facts["before"] == "0"
    assert facts["edges"] == "1,0,1,0", facts


@pytest.mark.parametrize("board_name", boards_with("zerynth.gpio_button"))
def test_zerynth_gpio_outputs_and_button_callbacks(pins):
    facts = needs(pins, "zerynth.gpio_button").facts
    assert facts["values"] == "100", facts
    assert [facts[f"led{n}"].split("|")[1:] for n in range(3)] == \
        [["out", "hi"], ["out", "lo"], ["out", "lo"]], facts
    assert facts["button"].split("|")[1] == "in", facts
    assert (facts["rises"], facts["falls"]) == ("1", "1"), facts


@pytest.mark.parametrize("board_name", boards_with("example:Blink"))
def test_zerynth_blink_example_toggles_blue_and_green(pins):
    """Zerynth's published ``Blink``, unmodified: LED_BLUE (line 2) toggles every second and
    LED_GREEN (line 1) every two, as the kernel shows the lines while it runs."""
    facts = pins.result("program.Blink").facts
    changes = [c for c in facts["gpio"].split(",") if c]
    blue = [c for c in changes if c.startswith("gpiochip0:2=")]
    green = [c for c in changes if c.startswith("gpiochip0:1=")]
    assert len(blue) >= 4 and len(green) >= 2, changes
    assert len(blue) > len(green), changes
    assert not [line for line in pins.output("Blink") if "Traceback" in line]


@pytest.mark.parametrize("board_name", boards_with("program:blink_button"))
def test_zerynth_blink_and_button_program(pins):
    """A Zerynth program that blinks LED_GREEN and toggles LED_RED from BTN0's on_rise: both
    presses reached it, the red LED followed."""
    lines = pins.output("blink_button")
    assert lines[0] == "ready", lines
    assert "button pressed 1 red led 1" in lines and "button pressed 2 red led 0" in lines, \
        lines
    blinks = [line for line in lines if line.startswith("blink ")]
    assert len(blinks) >= 10 and {line[-1] for line in blinks} == {"0", "1"}, lines


@pytest.mark.parametrize("board_name", boards_with("last:watchdog"))
def test_watchdog_resets_the_board(pins):
    """machine.WDT on the i6300esb: fed five times, then not; the board reset itself and
    booted again (QEMU's -no-reboot switched to reset for this)."""
    plan = plan_of(pins)
    lines = pins.output("watchdog")
    assert lines[:6] == [f"fed {i}" for i in range(5)] + ["stopped feeding"], lines
    assert 1.5 < pins.host["reset_after_s"] < 30, pins.host
    assert pins.transcript.count("KILN: board") == 2, pins.transcript


# --- rpi3b: I2C, SPI, UART, GPIO by the Pi's names ---------------------------------------------

@pytest.mark.parametrize("board_name", boards_with("micropython.i2c_tmp105"))
def test_micropython_i2c_sensor_and_eeprom(pins):
    facts = needs(pins, "micropython.i2c_tmp105").facts
    assert facts["scan"] == "0x48,0x50", facts
    assert (facts["config"], facts["plain"], facts["into"]) == ("60", "60", "60"), facts
    assert float(facts["temperature"]) == pins.host["micropython.i2c_tmp105"], facts
    assert (facts["eeprom_ok"], facts["writevto_ok"]) == ("True", "True"), facts
    # No device at the address: OSError(ENODEV), as MicroPython's ports raise on a NACK.
    assert facts["missing_errno"] == "19", facts


@pytest.mark.parametrize("board_name", boards_with("micropython.spi_flash"))
def test_micropython_spi_flash_id_and_page_program(pins):
    facts = needs(pins, "micropython.spi_flash").facts
    assert facts["id"] == facts["again"] == facts["third"] == FLASH_ID, facts
    # Page program + read back: works only because the chip select toggles between commands
    # (GPIO 8 -> the flash's CS, the board's [qemu] wires); erased first, so the page was 0xFF.
    assert facts["erased_ff"] == "True", facts
    assert facts["back_ok"] == "True", facts


@pytest.mark.parametrize("board_name", boards_with("micropython.pwm_sysfs"))
def test_micropython_pwm_on_the_kernels_pwm_class(pins):
    """machine.PWM(Pin("GPIO18")) drives PWM0 (the board file's channel, enabled on the header
    by the image's DTB edits; pwm-bcm2835 bound): what it set is what the kernel's sysfs PWM
    class holds (period|duty_cycle|enable|polarity), MicroPython's units converted."""
    facts = needs(pins, "micropython.pwm_sysfs").facts
    assert facts["chip"].startswith("pwmchip"), facts
    assert facts["first"] == f"1000000|{round(1_000_000 * 16384 / 65535)}|1|normal", facts
    assert facts["second"] == "500000|100000|1|normal", facts
    assert (facts["freq"], facts["duty_ns"]) == ("2000", "100000"), facts
    assert facts["duty_u16"] == str(round(100000 * 65535 / 500000)), facts
    assert facts["third"] == "200000|200000|1|inversed", facts     # polarity set while off
    assert facts["exported_after_deinit"] == "False", facts


@pytest.mark.parametrize("board_name", boards_with("micropython.fd_cycles"))
def test_no_fd_leak_over_10000_cycles_of_the_real_devices(pins):
    """10,000 cycles of the GPIO chip + a line request, the I2C adapter + a register read, the
    spidev + a JEDEC read, machine.SPI + deinit: the app holds as many descriptors after them
    as before, and the last transfers still read the devices."""
    facts = needs(pins, "micropython.fd_cycles").facts
    assert facts["cycles"] == "10000", facts
    assert facts["fds_after"] == facts["fds_before"], facts
    assert facts["jedec"] == FLASH_ID, facts


@pytest.mark.parametrize("board_name", boards_with("zerynth.pwm_sysfs"))
def test_zerynth_pwm_write_on_the_kernels_pwm_class(pins):
    facts = needs(pins, "zerynth.pwm_sysfs").facts
    assert facts["millis"] == "20000000|5000000|1", facts          # MILLIS, the default unit
    assert facts["micros"] == "500000|125000|1", facts
    assert facts["stopped"] == "unexported", facts


@pytest.mark.parametrize("board_name", boards_with("micropython.uart"))
def test_micropython_uart_both_ways(pins):
    facts = needs(pins, "micropython.uart").facts
    assert pins.host["uart_got"] == f"ping {facts['token']}\n".encode()
    assert facts["line"] == pins.host["uart_sent"], (facts, pins.host)
    assert facts["nothing"] in ("None", "b''"), facts
    assert facts["waited_ok"] == "True", facts
    assert pins.host.get("uart_after", b"").startswith(b"fast\n"), pins.host


@pytest.mark.parametrize("board_name", boards_with("micropython.gpio_pi"))
def test_micropython_pins_by_pi_names(pins):
    facts = needs(pins, "micropython.gpio_pi").facts
    assert (facts["high"], facts["low"], facts["header"]) == ("1", "0", "1"), facts
    assert facts["k17_high"].split("|")[1:] == ["out", "hi"], facts
    assert facts["k17_low"].split("|")[1:] == ["out", "lo"], facts
    assert facts["k27"].split("|")[1:] == ["out", "hi"], facts
    assert facts["k22"].split("|")[1] == "in", facts


@pytest.mark.parametrize("board_name", boards_with("zerynth.i2c_eeprom"))
def test_zerynth_i2c_eeprom_and_sensor(pins):
    facts = needs(pins, "zerynth.i2c_eeprom").facts
    assert (facts["back_ok"], facts["read_ok"]) == ("True", "True"), facts
    assert facts["config"] == "20", facts
    assert facts["scan"] == "0x48,0x50", facts


@pytest.mark.parametrize("board_name", boards_with("zerynth.spi_flash"))
def test_zerynth_spi_flash_id_and_page_program(pins):
    facts = needs(pins, "zerynth.spi_flash").facts
    assert facts["id"] == facts["again"] == FLASH_ID, facts
    assert facts["back_ok"] == "True", facts


@pytest.mark.parametrize("board_name", boards_with("zerynth.gpio_pi"))
def test_zerynth_pins_by_pi_names(pins):
    facts = needs(pins, "zerynth.gpio_pi").facts
    assert (facts["high"], facts["low"]) == ("1", "0"), facts
    assert facts["k17_high"].split("|")[1:] == ["out", "hi"], facts
    assert facts["k27"].split("|")[1:] == ["out", "hi"], facts


@pytest.mark.parametrize("board_name", boards_with("program:sensor"))
def test_micropython_sensor_program(pins):
    """A MicroPython sensor program, as a user writes it: the temperature the host set on the
    emulated TMP105 is what it prints."""
    lines = pins.output("sensor")
    assert lines[0] == "devices: ['0x48', '0x50']", lines
    assert f"temperature: {pins.host['sensor']:.4f} C" in lines, (pins.host, lines)


@pytest.mark.parametrize("board_name", boards_with("example:Interrupt"))
def test_zerynth_interrupt_example(pins):
    """Zerynth's published ``Interrupt`` example, unmodified, on the Pi's D34..D36: it sets up
    its pins and callbacks and reads D35 and D36 every 3 s.  (QEMU's BCM2835 GPIO does not
    model the pull resistors: both read 0 under QEMU, D36 reads 1 on a Pi -- hardware check.)"""
    lines = pins.output("Interrupt")
    assert not [line for line in lines if "Traceback" in line or "Error" in line], lines
    assert len(lines) >= 4 and lines[:4] == ["D35 = 0", "D36 = 0"] * 2, lines
    assert all(re.fullmatch(r"D3[56] = [01]", line) for line in lines), lines
