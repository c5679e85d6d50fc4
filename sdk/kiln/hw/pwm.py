"""PWM over the kernel's PWM class in sysfs (``/sys/class/pwm/pwmchipN``), the kernel's only
user-space interface to PWM (Documentation/driver-api/pwm.rst, "Using PWMs with the sysfs
interface").

The layout this module relies on, and nothing else::

    pwmchipN/npwm                 number of channels (read)
    pwmchipN/export, unexport     write a channel number to create / remove pwmM
    pwmchipN/pwmM/period          period in ns (read/write)
    pwmchipN/pwmM/duty_cycle      active time in ns, <= period (read/write)
    pwmchipN/pwmM/polarity        "normal" or "inversed" (write only while disabled)
    pwmchipN/pwmM/enable          0 or 1

``export`` creates ``pwmM`` asynchronously as far as user space is concerned (udev may still be
changing its permissions), so :class:`Channel` waits for the directory with a timeout.
Nothing here blocks otherwise; every write is one ``write(2)`` the driver answers at once, and
the driver's refusal (EINVAL for a period it cannot make, EBUSY for a channel the kernel
uses) is raised as OSError naming the attribute and value.
"""
from __future__ import annotations

import errno
import os
import time
from pathlib import Path

POLARITIES = ("normal", "inversed")


def _check_int(func: str, name: str, value, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{func}() argument '{name}' must be an int, not {type(value).__name__}")
    if not lo <= value <= hi:
        raise ValueError(f"{func}() argument '{name}' must be in {lo}..{hi}, got {value}")
    return value


class Channel:
    """One PWM channel: ``Channel(chip_dir, channel, timeout=2.0)`` exports it when needed
    (waiting up to ``timeout`` seconds for ``pwmM`` to appear; TimeoutError after) and
    unexports on :meth:`close` only what it exported.  ``chip_dir`` is a pwmchip directory
    (``/sys/class/pwm/pwmchip0``; FileNotFoundError naming it when absent).  Times in ns."""

    def __init__(self, chip_dir, channel: int, timeout: float = 2.0):
        self.chip = Path(chip_dir)
        _check_int("Channel", "channel", channel, 0, 1023)
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0:
            raise ValueError(f"Channel() argument 'timeout' must be a number of seconds >= 0, "
                             f"got {timeout!r}")
        if not (self.chip / "npwm").is_file():
            raise FileNotFoundError(errno.ENOENT, f"Channel(): no PWM chip at {self.chip} "
                                                  f"(no npwm: driver not loaded or DT node "
                                                  f"disabled)")
        npwm = int((self.chip / "npwm").read_text())
        if channel >= npwm:
            raise ValueError(f"Channel() argument 'channel' must be in 0..{npwm - 1} "
                             f"({self.chip} has {npwm} channels), got {channel}")
        self.channel = channel
        self.dir = self.chip / f"pwm{channel}"
        self._exported = False
        self._closed = False
        if not self.dir.is_dir():
            self._write(self.chip / "export", str(channel), "export")
            self._exported = True
            deadline = time.monotonic() + timeout
            while not (self.dir / "enable").exists():
                if time.monotonic() >= deadline:
                    self.close()
                    raise TimeoutError(errno.ETIMEDOUT, f"Channel(): {self.dir} did not "
                                                        f"appear within {timeout} s of export")
                time.sleep(0.005)

    def _write(self, path: Path, text: str, what: str) -> None:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC)
        except OSError as exc:
            raise type(exc)(exc.errno, f"{exc.strerror}: {what}: {path}") from None
        try:
            os.write(fd, text.encode())
        except OSError as exc:
            raise type(exc)(exc.errno, f"{exc.strerror}: {what}={text!r}: {path}") from None
        finally:
            os.close(fd)

    def _check(self, func: str) -> None:
        if self._closed:
            raise ValueError(f"{func}(): PWM channel {self.dir} is closed")

    def _read(self, name: str) -> str:
        return (self.dir / name).read_text().strip()

    @property
    def period_ns(self) -> int:
        """The period in ns."""
        self._check("period_ns")
        return int(self._read("period"))

    @property
    def duty_ns(self) -> int:
        """The active time in ns."""
        self._check("duty_ns")
        return int(self._read("duty_cycle"))

    @property
    def polarity(self) -> str:
        """"normal" (active high) or "inversed"."""
        self._check("polarity")
        return self._read("polarity")

    @property
    def enabled(self) -> bool:
        """Whether the output runs."""
        self._check("enabled")
        return self._read("enable") == "1"

    def configure(self, period_ns: int | None = None, duty_ns: int | None = None,
                  polarity: str | None = None, enable: bool | None = None) -> None:
        """Set what is given (None: unchanged), in an order the kernel accepts: polarity
        while disabled, duty never above the period (when the period shrinks, the duty cycle
        is written first).  OSError naming the attribute when the driver refuses."""
        self._check("configure")
        if period_ns is not None:
            _check_int("configure", "period_ns", period_ns, 1, 2**63 - 1)
        if duty_ns is not None:
            _check_int("configure", "duty_ns", duty_ns, 0, 2**63 - 1)
        if polarity is not None and polarity not in POLARITIES:
            raise ValueError(f"configure() argument 'polarity' must be 'normal' or 'inversed', "
                             f"got {polarity!r}")
        if enable is not None and not isinstance(enable, (bool, int)):
            raise TypeError(f"configure() argument 'enable' must be a bool, not "
                            f"{type(enable).__name__}")
        period = period_ns if period_ns is not None else self.period_ns
        duty = duty_ns if duty_ns is not None else min(self.duty_ns, period)
        if duty > period:
            raise ValueError(f"configure(): duty_ns ({duty}) must not exceed period_ns "
                             f"({period})")
        if polarity is not None and polarity != self.polarity:
            was = self.enabled
            if was:
                self._write(self.dir / "enable", "0", "enable")
            self._write(self.dir / "polarity", polarity, "polarity")
            if was and enable is None:
                enable = True
        if period_ns is not None or duty_ns is not None:
            if period < self.duty_ns:
                self._write(self.dir / "duty_cycle", str(duty), "duty_cycle")
                self._write(self.dir / "period", str(period), "period")
            else:
                self._write(self.dir / "period", str(period), "period")
                self._write(self.dir / "duty_cycle", str(duty), "duty_cycle")
        if enable is not None:
            self._write(self.dir / "enable", "1" if enable else "0", "enable")

    def close(self, disable: bool = True) -> None:
        """Disable the output (unless ``disable`` is False) and unexport the channel if this
        object exported it.  Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            if disable and (self.dir / "enable").exists():
                self._write(self.dir / "enable", "0", "enable")
        finally:
            if self._exported:
                self._write(self.chip / "unexport", str(self.channel), "unexport")

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __repr__(self):
        return f"<pwm.Channel {self.dir}{' closed' if self._closed else ''}>"
