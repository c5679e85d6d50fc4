"""The system tests through a labgrid coordinator: a loopback board farm (``labgrid-coordinator``,
the board host, ``labgrid-exporter``) with one qemu-aarch64 place, and the Ethernet system tests
of that board run against it with ``kiln farm test`` -- the same test files as the local run,
only the environment file differs (``--lg-env envs/farm-qemu.yaml``, a ``RemotePlace``).

Checked: the place is created, tagged and exported with the resources of a Raspberry Pi place;
every selected test passes through it; every boot went through the place's power outlet (the
board host counts them); afterwards no farm process, no QEMU, no network lab, no tap in the host
namespace and no temporary directory is left.  (The two-place parallel run is a benchmark,
``bench/farm_bench.py``, recorded in docs/performance.md.)
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from kiln.host.farm import testrun
from kiln.host.farm.farm import Farm, running
from kiln.host.runner import netns
from kiln.host.runner.netlab import TAP_NAME
from layout import REPO

pytestmark = pytest.mark.system

KILN = Path(sys.executable).with_name("kiln")
BOARD = "qemu-aarch64"
# The Ethernet tests of one board, plus the cable fault case (the place's cable switch).
TESTS = ["tests/system/test_system_qemu.py", "tests/system/test_zerynth_apps.py",
         "-k", f"{BOARD} or test_cable_pulled_and_restored"]
EXPORTED = ("NetworkSerialPort", "NetworkPowerPort", "KilnFarmSDCard", "KilnFarmTapPort")


def _host_taps() -> bool:
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    return f" {TAP_NAME}:" in links


def _farm_temp_dirs() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("kiln-farm-*")}


def test_ethernet_tests_pass_through_a_remote_place(tmp_path):
    expected = testrun.collect(TESTS, REPO)
    assert len(expected) >= 7, expected
    temp_before = _farm_temp_dirs()
    junit = tmp_path / "farm.xml"
    farm = Farm(BOARD, 1)
    farm.start()
    try:
        place = farm.places[0]
        shown = farm.client("-p", place, "show").stdout
        assert f"tags: board={BOARD}" in shown, shown
        for cls in EXPORTED:
            assert f"{farm.exporter_name}/{place}/{cls}/{cls}" in shown, shown
        run = subprocess.run([str(KILN), "farm", "test", "--coordinator", farm.coordinator,
                              "--place", place, "--junitxml", str(junit), "--", *TESTS],
                             cwd=REPO, capture_output=True, text=True, timeout=3000)
        status = farm.place_status(place)
    finally:
        farm.close()                 # raises FarmError naming any process or QEMU left behind
    output = run.stdout[-6000:] + run.stderr[-3000:]

    outcomes = testrun.read_junit(junit)
    assert outcomes == {testrun.junit_key(i): "passed" for i in expected}, output
    assert run.returncode == 0, output
    # Every test booted the board through the place: the outlet, the card, the cable.
    assert status["boots"] == len(expected), (status, output)
    assert (status["power"], status["lab"]) == (False, None), status
    assert len(farm.labs()) == len(expected)

    assert not any(running(pid) for pid in farm.pids + farm.qemu_pids())
    left_labs = [lab for lab in farm.labs() if netns.exists(lab)]
    assert not left_labs and not _host_taps(), (left_labs, output)
    assert not farm.workdir.exists()
    assert _farm_temp_dirs() <= temp_before, "a kiln farm temporary directory was left behind"
