"""``kiln run`` end to end: the real command, as a user runs it, on each QEMU board.

The image fixture has already built ``apps/lab_checks.py`` into ``image_dir(board)``, so
``kiln run --app apps/lab_checks.py --out-dir image_dir(board)`` reuses it.  With no ``kiln.test`` argument that app
resolves now.zerynth.com and exits with status ``RUN_SCENARIO_STATUS``.
"""
from __future__ import annotations

import secrets
import signal
import subprocess
import sys
import time

import pytest

from image_cache import locked
from layout import APPS, image_dir
from guest import BOOT_TIMEOUT_S, running
from lab_checks import RUN_SCENARIO_STATUS
from kiln.host.runner import netns

pytestmark = pytest.mark.system

APP = APPS / "lab_checks.py"
KILN = [sys.executable, "-m", "kiln.host"]


def test_kiln_run_serves_dns_records_and_returns_app_status(board, image, resources):
    name = f"kiln-test-{secrets.token_hex(3)}"
    resources.namespaces.add(name)
    with locked(image_dir(board)):
        result = subprocess.run(
            [*KILN, "run", "--board", board.name, "--app", str(APP),
             "--out-dir", str(image_dir(board)), "--netns", name,
             "--dns-record", "now.zerynth.com=10.77.0.200", "--timeout", str(BOOT_TIMEOUT_S)],
            capture_output=True, text=True, timeout=BOOT_TIMEOUT_S + 60)

    assert result.returncode == RUN_SCENARIO_STATUS, result.stdout + result.stderr
    assert f"network namespace {name}" in result.stderr
    assert "host side 10.77.0.1/24" in result.stderr
    assert f"ip netns exec {name} python3 -m http.server 80" in result.stderr
    assert "CHECK kiln_run resolved=10.77.0.200" in result.stdout
    assert f"KILN: app exited with status {RUN_SCENARIO_STATUS}" in result.stdout
    assert not netns.exists(name)


def test_kiln_run_static_address(board, image, resources):
    name = f"kiln-test-{secrets.token_hex(3)}"
    resources.namespaces.add(name)
    with locked(image_dir(board)):
        result = subprocess.run(
            [*KILN, "run", "--board", board.name, "--app", str(APP),
             "--out-dir", str(image_dir(board)), "--netns", name,
             "--static", "192.168.50.7/24", "--dns-record", "now.zerynth.com=192.168.50.1",
             "--timeout", str(BOOT_TIMEOUT_S)],
            capture_output=True, text=True, timeout=BOOT_TIMEOUT_S + 60)

    assert result.returncode == RUN_SCENARIO_STATUS, result.stdout + result.stderr
    assert "host side 192.168.50.1/24" in result.stderr
    assert "KILN: net static 192.168.50.7/24 gw=192.168.50.1 dns=192.168.50.1" in result.stdout
    assert "CHECK kiln_run resolved=192.168.50.1" in result.stdout
    assert not netns.exists(name)


def test_kiln_run_tears_everything_down_on_sigterm(board, image, resources):
    name = f"kiln-test-{secrets.token_hex(3)}"
    resources.namespaces.add(name)
    with locked(image_dir(board)):
        status, pids = _run_and_terminate(board, name)
    resources.qemu_pids.update(pids)

    assert status == 128 + signal.SIGTERM
    assert not netns.exists(name)
    assert [p for p in pids if running(p)] == []


def _run_and_terminate(board, name: str) -> tuple[int, list[int]]:
    """Start ``kiln run`` with a host-side server, SIGTERM it once the guest prints its first
    line; return its exit status and the pids that were in its namespace."""
    proc = subprocess.Popen(
        [*KILN, "run", "--board", board.name, "--app", str(APP), "--out-dir", str(image_dir(board)),
         "--netns", name, "--host-server", "sleep 600"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        # Wait for the guest's first console line: lab, dnsmasq, server and QEMU all exist then.
        line = b""
        deadline = time.monotonic() + BOOT_TIMEOUT_S
        while b"KILN: board" not in line and time.monotonic() < deadline:
            line = proc.stdout.readline()
            assert line, "kiln run ended before the guest printed anything"
        pids = [int(p) for p in subprocess.run(["ip", "netns", "pids", name], capture_output=True,
                                               text=True).stdout.split()]
        assert len(pids) >= 3, f"expected dnsmasq, the host server and QEMU in {name}: {pids}"
        proc.send_signal(signal.SIGTERM)
        return proc.wait(timeout=30), pids
    finally:
        if proc.poll() is None:  # a failed check above: still let kiln run tear down
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        proc.stdout.close()
