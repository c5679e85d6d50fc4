"""kiln.hw.pwm, machine.PWM and Zerynth's pwm.write against a PWM class directory in a tmpdir
laid out as the kernel documents it (Documentation/driver-api/pwm.rst, "Using PWMs with the
sysfs interface"; see kiln.hw.pwm's docstring).  No emulated board has a PWM controller (QEMU
does not emulate the BCM2835's), so the kernel's side is played by a thread that does what
the PWM core does on ``export``/``unexport``: creates or removes ``pwmN`` with ``period``,
``duty_cycle``, ``polarity``, ``enable`` -- after a delay, as udev's permission changes make it
for user space -- and refuses, like the core, a duty cycle above the period (EINVAL) and a
polarity change while enabled (EBUSY).  Those refusals are checked by reading the files back:
the module must never write them in an order the kernel refuses."""
from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import pytest

from kiln.hw.pwm import Channel


class FakeKernel:
    """Watches export/unexport of a pwmchip directory and checks every attribute write."""

    def __init__(self, chip: Path, npwm: int = 2, delay: float = 0.05):
        self.chip = chip
        chip.mkdir(parents=True)
        (chip / "npwm").write_text(f"{npwm}\n")
        (chip / "export").write_text("")
        (chip / "unexport").write_text("")
        self.delay = delay
        self.violations: list[str] = []
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        state = {}
        while not self.stop:
            for name in ("export", "unexport"):
                f = self.chip / name
                text = f.read_text().strip()
                if text:
                    f.write_text("")
                    ch = self.chip / f"pwm{text}"
                    if name == "export":
                        time.sleep(self.delay)
                        ch.mkdir()
                        for attr, v in (("period", "0"), ("duty_cycle", "0"),
                                        ("polarity", "normal"), ("enable", "0")):
                            (ch / attr).write_text(v + "\n")
                    else:
                        shutil.rmtree(ch)
            for ch in self.chip.glob("pwm[0-9]*"):
                try:
                    vals = {a: (ch / a).read_text().strip() for a in
                            ("period", "duty_cycle", "polarity", "enable")}
                except OSError:
                    continue
                if not all(vals.values()):
                    continue                     # caught between truncate and write
                old = state.get(ch.name, vals)
                if vals["period"] != "0" and int(vals["duty_cycle"]) > int(vals["period"]):
                    self.violations.append(f"{ch.name}: duty {vals['duty_cycle']} > period "
                                           f"{vals['period']}")
                if vals["polarity"] != old["polarity"] and old["enable"] == "1" \
                        and vals["enable"] == "1":
                    self.violations.append(f"{ch.name}: polarity changed while enabled")
                state[ch.name] = vals
            time.sleep(0.001)

    def close(self):
        self.stop = True
        self.thread.join()


@pytest.fixture
def kernel(tmp_path):
    k = FakeKernel(tmp_path / "sys/class/pwm/pwmchip0")
    yield k
    k.close()
    assert k.violations == []


def test_export_configure_unexport(kernel):
    ch = Channel(kernel.chip, 1)
    assert ch.dir.is_dir() and ch.dir.name == "pwm1"
    ch.configure(period_ns=1_000_000, duty_ns=250_000, enable=True)
    assert (ch.period_ns, ch.duty_ns, ch.enabled) == (1_000_000, 250_000, True)
    ch.configure(period_ns=100_000)                    # shrink: duty clamped, written first
    assert (ch.period_ns, ch.duty_ns) == (100_000, 100_000)
    ch.configure(polarity="inversed")                  # disabled, switched, re-enabled
    assert ch.polarity == "inversed" and ch.enabled
    ch.close()
    assert (kernel.chip / "pwm1" / "enable").read_text().strip() == "0" or \
        not (kernel.chip / "pwm1").exists()
    deadline = time.monotonic() + 2
    while (kernel.chip / "pwm1").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not (kernel.chip / "pwm1").exists()          # it exported, so it unexported
    with pytest.raises(ValueError, match="is closed"):
        ch.configure(duty_ns=1)


def test_existing_channel_is_not_unexported(kernel):
    a = Channel(kernel.chip, 0)
    b = Channel(kernel.chip, 0)                        # already exported: adopts it
    b.close()
    assert (kernel.chip / "pwm0").is_dir()
    a.close()


def test_bad_arguments(kernel):
    with pytest.raises(ValueError, match=r"'channel' must be in 0\.\.1"):
        Channel(kernel.chip, 2)
    with pytest.raises(TypeError, match="'channel' must be an int"):
        Channel(kernel.chip, "0")
    with pytest.raises(FileNotFoundError, match="no PWM chip at"):
        Channel(kernel.chip.parent / "pwmchip9", 0)
    with Channel(kernel.chip, 0) as ch:
        with pytest.raises(ValueError, match="must not exceed period_ns"):
            ch.configure(period_ns=1000, duty_ns=2000)
        with pytest.raises(ValueError, match="'polarity' must be"):
            ch.configure(polarity="inverted")
        with pytest.raises(ValueError, match="'period_ns' must be in 1"):
            ch.configure(period_ns=0)
        with pytest.raises(TypeError, match="'duty_ns' must be an int"):
            ch.configure(duty_ns=1.5)


def test_export_timeout(tmp_path):
    chip = tmp_path / "pwmchip0"
    chip.mkdir()
    (chip / "npwm").write_text("1\n")
    (chip / "export").write_text("")
    (chip / "unexport").write_text("")
    t = time.monotonic()
    with pytest.raises(TimeoutError, match="did not appear within 0.2 s"):
        Channel(chip, 0, timeout=0.2)                   # nobody creates pwm0
    assert 0.19 < time.monotonic() - t < 2


def test_faces(kernel, tmp_path, monkeypatch):
    from hw_sysfs import board_root
    from kiln.hw import resolve
    monkeypatch.setenv("KILN_SYSROOT", str(board_root(tmp_path / "r", "rpi3b")))
    resolve.reset()
    monkeypatch.setattr(resolve, "pwm_chip", lambda key: (kernel.chip,
                                                          resolve.bus("pwm", key).channel,
                                                          resolve.bus("pwm", key)))
    try:
        from kiln.mpy.machine import PWM, Pin  # noqa: F401
        p = PWM(18, freq=1000, duty_u16=32768)
        ch = kernel.chip / "pwm0"
        assert (ch / "period").read_text().strip() == "1000000"
        assert abs(int((ch / "duty_cycle").read_text()) - 500_008) < 10
        assert (ch / "enable").read_text().strip() == "1"
        assert p.freq() == 1000 and p.duty_u16() == 32768
        p.freq(2000)                                   # duty keeps its fraction
        assert p.duty_ns() == 250_004 or abs(p.duty_ns() - 250_000) < 10
        p.duty_ns(100_000)
        assert p.duty_ns() == 100_000
        with pytest.raises(ValueError, match="0..65535"):
            p.duty_u16(70000)
        p.deinit()
        with pytest.raises(ValueError, match="has no PWM channel"):
            PWM("GPIO17")
        from kiln.zerynth import pwm
        pwm.write(19, 500, 10, 1)                      # D19 = PWM1, MICROS
        ch1 = kernel.chip / "pwm1"
        assert (ch1 / "period").read_text().strip() == "500000"
        assert (ch1 / "duty_cycle").read_text().strip() == "10000"
        with pytest.raises(ValueError, match="must not exceed period"):
            pwm.write(19, 5, 10)
        pwm.write(19, 0, 0)
        assert (ch1 / "enable").read_text().strip() == "0" or not ch1.exists()
    finally:
        resolve.reset()
