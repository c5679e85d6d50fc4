"""The board farm's parts without booting a board: the board host's rules (what the hardware of a
place refuses), the strategy cabling a place before power-on, labgrid's ``--lg-env`` choosing the
place, and the example environment of a real Raspberry Pi 4 place loading through a coordinator
and an exporter of its real exporter configuration on a machine without the Pi.

Needs root (network namespaces, the board host's ``ip netns exec``); no QEMU boot.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import attr
import pexpect
import pytest
from labgrid.driver import Driver
from labgrid.driver.exception import ExecutionError
from labgrid.factory import target_factory
from labgrid.protocol import ConsoleProtocol, DigitalOutputProtocol, PowerProtocol

from kiln.host.farm import farm as farm_mod
from kiln.host.farm.boardhost import READY_FILE
from kiln.host.farm.labgrid_parts import board_host_call
from kiln.host.runner.netlab import NetLab
from labgrid_env import PLACE_ENV_VAR, STRATEGY, TARGET, open_environment, take_labgrid_options
from layout import REPO

ENVS = Path(__file__).resolve().parent / "envs"
KILN = Path(sys.executable).with_name("kiln")


# -- the board host ----------------------------------------------------------------------------

@pytest.fixture
def board_host(tmp_path):
    """A board host with one qemu-aarch64 place (index 1); its URL and process.  Stopped (and
    checked gone) at the end."""
    workdir = tmp_path / "boardhost"
    proc = subprocess.Popen([sys.executable, "-m", "kiln.host.farm.boardhost", "--workdir",
                             str(workdir), "--place", "p1=qemu-aarch64:1"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.monotonic() + 30
    while not (workdir / READY_FILE).exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read().decode()
        time.sleep(0.05)
    info = json.loads((workdir / READY_FILE).read_text())
    yield SimpleNamespace(url=info["url"], place=info["places"]["p1"], proc=proc,
                          workdir=workdir)
    os.killpg(proc.pid, signal.SIGTERM)
    assert proc.wait(15) == 0, proc.stdout.read().decode()
    proc.stdout.close()


def _refused(method, url, body=None, **kw) -> str:
    with pytest.raises(ExecutionError) as info:
        board_host_call(method, url, body, **kw)
    return str(info.value)


def _card_file(card: Path, name: str) -> bytes:
    """``name`` as read back from the card's boot partition (mtools, 1 MiB offset)."""
    out = subprocess.run(["mcopy", "-n", "-i", f"{card}@@1048576", f"::{name}", "-"],
                         capture_output=True, check=True,
                         env=dict(os.environ, MTOOLS_SKIP_CHECK="1"))
    return out.stdout


def test_board_host_refuses_what_the_hardware_would(board_host, tmp_path):
    place = f"{board_host.url}/places/p1"
    power = f"{board_host.url}/power/1"
    state = json.loads(board_host_call("GET", place))
    assert (state["board"], state["mux"], state["power"], state["lab"]) == \
        ("qemu-aarch64", "dut", False, None)
    # The card: written only while the mux gives it to the host; config.txt is the firmware's.
    assert b"kernel=vmlinuz" in _card_file(Path(state["card"]), "config.txt")
    cmdline = tmp_path / "cmdline.txt"
    cmdline.write_text("console=ttyAMA0 kiln.net=dhcp\n")
    assert "not at the host" in _refused("PUT", f"{place}/card/1/cmdline.txt", path=cmdline)
    board_host_call("PUT", f"{place}/mux", "host")
    board_host_call("PUT", f"{place}/card/1/cmdline.txt", path=cmdline)
    assert _card_file(Path(state["card"]), "cmdline.txt") == cmdline.read_bytes()
    assert "top of a partition" in _refused("PUT", f"{place}/card/1/boot/x", path=cmdline)
    assert "not in the board" in _refused("PUT", power, "1")      # the host has the card
    board_host_call("PUT", f"{place}/mux", "dut")
    # Power needs the cable in a lab; the cable takes only a lab on this machine and this board.
    assert "no network lab" in _refused("PUT", power, "1")
    assert "no network lab kiln-nonexistent0" in _refused(
        "PUT", f"{place}/cable", json.dumps({"lab": "kiln-nonexistent0"}))
    with NetLab(dhcp=False) as lab:
        assert "qemu-aarch64 board; this boot is for qemu-arm" in _refused(
            "PUT", f"{place}/cable", json.dumps({"lab": lab.name, "board": "qemu-arm"}))
        board_host_call("PUT", f"{place}/cable",
                        json.dumps({"lab": lab.name, "board": "qemu-aarch64"}))
        # The firmware finds config.txt's kernel missing: no QEMU starts.
        assert "vmlinuz is not on the boot partition" in _refused("PUT", power, "1")
        assert board_host_call("GET", power) == "0"
        assert "is off" in _refused("PUT", f"{place}/link", "0")
        board_host_call("DELETE", f"{place}/cable")
    assert json.loads(board_host_call("GET", place))["boots"] == 0
    assert "no place" in _refused("GET", f"{board_host.url}/places/p2")
    assert "no place" in _refused("PUT", f"{board_host.url}/power/7", "1")
    assert "send 1 or 0" in _refused("PUT", power, "on")


# -- the strategy ------------------------------------------------------------------------------

EVENTS: list[str] = []


@target_factory.reg_driver
@attr.s(eq=False)
class KilnOrderPowerDriver(Driver, PowerProtocol):
    def on(self):
        EVENTS.append("power on")

    def off(self):
        EVENTS.append("power off")

    def cycle(self):
        self.off()
        self.on()


@target_factory.reg_driver
@attr.s(eq=False)
class KilnOrderConsoleDriver(Driver, ConsoleProtocol):
    @Driver.check_active
    def read(self, size=1, timeout=0.0, max_size=None):
        if EVENTS and EVENTS[-1] == "power on":
            EVENTS.append("console read")
            return b"KILN: board qemu-aarch64\r\n"
        time.sleep(timeout)
        raise pexpect.TIMEOUT("nothing")

    @Driver.check_active
    def write(self, data):
        return len(data)


@target_factory.reg_driver
@attr.s(eq=False)
class KilnOrderCableDriver(Driver, DigitalOutputProtocol):
    lab = attr.ib(default="", validator=attr.validators.instance_of(str))

    def on_activate(self):
        EVENTS.append(f"cable plugged into {self.lab}")

    def on_deactivate(self):
        EVENTS.append("cable unplugged")

    @Driver.check_active
    def set(self, status):
        EVENTS.append(f"link {status}")

    @Driver.check_active
    def get(self):
        return True


def test_strategy_plugs_the_cable_before_power_on(tmp_path):
    env_file = tmp_path / "place.yaml"
    env_file.write_text("imports: [kiln_labgrid]\ntargets:\n  main:\n    drivers:\n"
                        "      KilnOrderPowerDriver: {}\n      KilnOrderConsoleDriver: {}\n"
                        "      KilnOrderCableDriver: {lab: !template $LG_KILN_LAB}\n"
                        "      KilnStrategy: {board: qemu-aarch64}\n")
    EVENTS.clear()
    env = open_environment(env_file, {"LG_KILN_LAB": "kiln-0123abcd"})
    try:
        target = env.get_target(TARGET)
        strategy = target.get_driver(STRATEGY, activate=False)
        strategy.transition("booted", timeout=5)
        assert EVENTS == ["power off", "cable plugged into kiln-0123abcd", "power on",
                          "console read"]
        strategy.transition("off")
        target.deactivate_all_drivers()
        assert EVENTS[-2:] == ["power off", "cable unplugged"]
    finally:
        env.cleanup()


# -- choosing the place ------------------------------------------------------------------------

def test_lg_env_option_chooses_the_place(monkeypatch, tmp_path):
    # setenv first, so that monkeypatch restores (or removes) what take_labgrid_options sets:
    # a delenv of an unset variable records nothing to undo, and the session's later boots
    # would all go to the farm's place.
    for name in (PLACE_ENV_VAR, "LG_COORDINATOR", "LG_ENV"):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    config = SimpleNamespace(option=SimpleNamespace(lg_env="tests/system/envs/farm-qemu.yaml",
                                                    lg_coordinator="127.0.0.1:1234"))
    take_labgrid_options(config)
    assert os.environ[PLACE_ENV_VAR] == str(Path("tests/system/envs/farm-qemu.yaml").resolve())
    assert os.environ["LG_COORDINATOR"] == "127.0.0.1:1234"
    assert config.option.lg_env is None       # labgrid's plugin does not open it without a boot

    # Through pytest itself: labgrid's plugin (which opens --lg-env at start-up) must not see
    # the file, whose per-boot LG_KILN_* variables do not exist yet.
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
         "tests/system/test_strategy.py", "--lg-env", "tests/system/envs/farm-qemu.yaml",
         f"--basetemp={tmp_path / 'inner'}"],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "test_strategy.py::test_states_in_order" in result.stdout


# -- the example Raspberry Pi 4 place ----------------------------------------------------------

def test_pi4_environment_loads_through_a_coordinator_without_the_hardware():
    """envs/farm-rpi4.yaml against a coordinator and an exporter running the real exporter
    configuration of the place (envs/exporter-rpi4.yaml): USB devices absent, every driver of
    the strategy resolves to the place's exported resource."""
    workdir = Path(tempfile.mkdtemp(prefix="kiln-farm-pi4-"))
    services = []
    try:
        coordinator, address = farm_mod.start_coordinator(workdir, "127.0.0.1:0")
        services.append(coordinator)
        services.append(farm_mod.start_exporter(address, ENVS / "exporter-rpi4.yaml",
                                                "lab-host-1", workdir / "exporter.log"))
        farm_mod.wait_for_resources(address, ["rpi4-1"], "lab-host-1")
        farm_mod.create_place(address, "rpi4-1", "lab-host-1", "rpi4-1", {"board": "rpi4b"})
        farm_mod.labgrid_client(address, "-p", "rpi4-1", "acquire")
        checked = subprocess.run(
            [str(KILN), "farm", "check-env", str(ENVS / "farm-rpi4.yaml"), "--place", "rpi4-1",
             "--coordinator", address], capture_output=True, text=True, timeout=120)
        farm_mod.labgrid_client(address, "-p", "rpi4-1", "release")
    finally:
        for service in reversed(services):
            service.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    target = json.loads(checked.stdout)["targets"]["main"]
    resources = {r["class"]: r for r in target["resources"]}
    assert set(resources) == {"RemotePlace", "NetworkSerialPort", "NetworkPowerPort",
                              "NetworkUSBSDMuxDevice", "RemoteNetworkInterface"}
    assert (resources["NetworkPowerPort"]["model"], resources["NetworkPowerPort"]["host"]) == \
        ("gude", "pdu1.lab.example")
    # The hardware is absent, and nothing needed it: the USB resources are merely unavailable.
    assert not resources["NetworkSerialPort"]["avail"]
    assert not resources["NetworkUSBSDMuxDevice"]["avail"]
    strategy = target["drivers"]["KilnStrategy"]
    assert {k: v["class"] for k, v in strategy.items() if v} == {
        "power": "NetworkPowerDriver", "console": "SerialDriver", "sdmux": "USBSDMuxDriver",
        "storage": "USBStorageDriver"}
    assert target["drivers"]["NetworkPowerDriver"]["port"]["class"] == "NetworkPowerPort"
    assert target["drivers"]["SerialDriver"]["port"]["class"] == "NetworkSerialPort"
    assert target["drivers"]["USBSDMuxDriver"]["mux"]["class"] == "NetworkUSBSDMuxDevice"
    assert target["drivers"]["USBStorageDriver"]["storage"]["class"] == "NetworkUSBSDMuxDevice"
    assert all(not farm_mod.running(s.pid) for s in services)
    assert not workdir.exists()
