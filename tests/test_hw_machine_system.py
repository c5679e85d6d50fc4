"""machine's board-level functions: unique_id from the recorded device trees, RTC.datetime from
the system clock, freq, the irq gate, reset's refusal without the right to reboot."""
from __future__ import annotations

import threading
import time

import pytest

from hw_sysfs import FIXTURES
from kiln.mpy import machine


@pytest.mark.parametrize("board,serial", [("rpi3b", "00000000765fc593"),
                                          ("rpi4b", "10000000a1b2c3d4")])
def test_unique_id_is_the_boards_serial(monkeypatch, board, serial):
    monkeypatch.setenv("KILN_SYSROOT", str(FIXTURES / board))
    assert machine.unique_id() == bytes.fromhex(serial)


def test_unique_id_falls_back_to_machine_id(monkeypatch, tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/machine-id").write_text("0123456789abcdef0123456789abcdef\n")
    monkeypatch.setenv("KILN_SYSROOT", str(tmp_path))
    assert machine.unique_id() == bytes.fromhex("0123456789abcdef0123456789abcdef")
    (tmp_path / "etc/machine-id").unlink()
    with pytest.raises(OSError, match="no serial-number"):
        machine.unique_id()


def test_rtc_datetime_is_the_system_clock():
    before = time.time()
    y, mo, d, wd, h, mi, s, sub = machine.RTC().datetime()
    t = time.gmtime(before)
    assert (y, mo, d, wd) == (t.tm_year, t.tm_mon, t.tm_mday, t.tm_wday) or \
        time.gmtime(time.time()).tm_mday != t.tm_mday
    assert 0 <= sub < 1_000_000 and 0 <= h < 24 and 0 <= s < 62
    with pytest.raises(ValueError, match="expected"):
        machine.RTC().datetime((2024, 1))


def test_freq_and_idle():
    assert isinstance(machine.freq(), int) and machine.freq() >= 0
    with pytest.raises(ValueError, match="cpufreq"):
        machine.freq(48_000_000)
    t = time.monotonic()
    machine.idle()
    machine.lightsleep(20)
    assert time.monotonic() - t >= 0.02
    assert machine.reset_cause() == machine.PWRON_RESET


def test_disable_irq_holds_the_edge_thread_off():
    from kiln.hw import edges
    state = machine.disable_irq()
    got = []
    t = threading.Thread(target=lambda: (edges._lock.acquire(), got.append(1),
                                         edges._lock.release()))
    t.start()
    time.sleep(0.1)
    assert got == []
    machine.enable_irq(state)
    t.join(2)
    assert got == [1]
