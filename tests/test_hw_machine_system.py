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


class FakeWatchdog:
    """kiln.hw.watchdog.Watchdog's contract (no /dev/watchdog on this host; the QEMU boards'
    i6300esb / bcm2835_wdt are the system tests')."""

    def __init__(self, path, timeout=None):
        self.path, self.timeout, self.kicks, self.closed = path, timeout, 0, False

    def keepalive(self):
        self.kicks += 1


@pytest.fixture
def board_with_watchdog(tmp_path, monkeypatch):
    from hw_sysfs import board_root
    from kiln.hw import resolve
    from kiln.mpy.machine import wdt
    from kiln.zerynth import watchdog
    monkeypatch.setenv("KILN_SYSROOT", str(board_root(tmp_path, "qemu-aarch64")))
    resolve.reset()
    monkeypatch.setattr(wdt, "Watchdog", FakeWatchdog)
    monkeypatch.setattr(wdt, "_active", None)
    monkeypatch.setattr(watchdog, "Watchdog", FakeWatchdog)
    monkeypatch.setattr(watchdog, "_wd", None)
    yield
    resolve.reset()


def test_machine_wdt(board_with_watchdog):
    w = machine.WDT(timeout=2500)
    dev = w._wd
    assert dev.path.endswith("/dev/watchdog") and dev.timeout == 3 and dev.kicks == 1
    w.feed()
    assert dev.kicks == 2
    again = machine.WDT(timeout=1)                 # the same watchdog, re-timed
    assert again._wd is dev and dev.timeout == 1
    with pytest.raises(ValueError, match="timeout must be an int >= 1"):
        machine.WDT(timeout=0)
    with pytest.raises(ValueError, match="id must be 0"):
        machine.WDT(1)


def test_zerynth_watchdog(board_with_watchdog):
    from kiln.zerynth import watchdog
    with pytest.raises(ValueError, match="call watchdog.setup"):
        watchdog.kick()
    watchdog.setup(1500)
    assert watchdog._wd.timeout == 2 and watchdog._wd.kicks == 1
    watchdog.kick()
    assert watchdog._wd.kicks == 2
    with pytest.raises(ValueError, match="millis must be an int >= 1"):
        watchdog.setup(-5)


def test_time_pulse_us(tmp_path, monkeypatch):
    import hw_fakegpio as fake
    from hw_sysfs import board_root
    from kiln.hw import pinctl, resolve
    monkeypatch.setenv("KILN_SYSROOT", str(board_root(tmp_path, "qemu-aarch64")))
    resolve.reset()
    pinctl.release_all()
    fake.reset()
    monkeypatch.setattr(pinctl, "Chip", fake.FakeChip)
    try:
        pin = machine.Pin("D4", machine.Pin.IN)

        def pulse():
            time.sleep(0.05)
            fake.drive(4, 1)
            time.sleep(0.1)
            fake.drive(4, 0)
        t = threading.Thread(target=pulse)
        t.start()
        width = machine.time_pulse_us(pin, 1, 1_000_000)
        t.join()
        assert 80_000 <= width <= 200_000, width            # the 100 ms pulse, from timestamps
        assert fake.REQUESTS[4].cfg["edge"] == "none"        # edge detection off again
        assert machine.time_pulse_us(pin, 1, 50_000) == -2   # no pulse starts
        fake.drive(4, 1)                                     # already high: counts from now
        assert machine.time_pulse_us(pin, 1, 50_000) == -1   # ... and does not end
    finally:
        pinctl.release_all()
        fake.reset()
        resolve.reset()


def test_timer_periodic_and_one_shot():
    ticks = []
    t = machine.Timer(-1, mode=machine.Timer.PERIODIC, period=20,
                      callback=lambda tm: ticks.append(time.monotonic()))
    time.sleep(0.25)
    t.deinit()
    n = len(ticks)
    assert 6 <= n <= 13, n                       # 20 ms period over 250 ms (late under load)
    time.sleep(0.1)
    assert len(ticks) == n                       # stopped
    once = []
    machine.Timer(mode=machine.Timer.ONE_SHOT, freq=20, callback=once.append)
    time.sleep(0.2)
    assert len(once) == 1 and isinstance(once[0], machine.Timer)
    with pytest.raises(ValueError, match="period must be > 0"):
        machine.Timer(period=0)
    with pytest.raises(ValueError, match="mode must be"):
        machine.Timer(mode=5, period=10)
    with pytest.raises(ValueError, match="no ADC"):
        machine.ADC(0)
