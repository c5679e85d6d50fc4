"""``machine.PWM`` (docs/library/machine.PWM.rst) over the kernel's PWM class (kiln.hw.pwm).

``PWM(dest)``: ``dest`` is a Pin (or pin id) that has a PWM channel in the board file (on a Pi:
GPIO18, GPIO19).  Frequencies in Hz, ``duty_ns`` in ns, ``duty_u16`` 0..65535 of the period.
"""
from kiln.hw import resolve
from kiln.hw.pwm import Channel


class PWM:
    """``PWM(dest, *, freq, duty_u16, duty_ns, invert)``."""

    def __init__(self, dest, *, freq=None, duty_u16=None, duty_ns=None, invert=False):
        pin_id = getattr(getattr(dest, "_line", None), "name", dest)
        self._spec = resolve.pwm_for_pin(pin_id)
        self._ch = None
        self.init(freq=freq, duty_u16=duty_u16, duty_ns=duty_ns, invert=invert)

    def init(self, *, freq=None, duty_u16=None, duty_ns=None, invert=False):
        """(Re)start the output with what is given (default 1 kHz, duty unchanged)."""
        if duty_u16 is not None and duty_ns is not None:
            raise ValueError("PWM.init(): give duty_u16 or duty_ns, not both")
        if self._ch is None:
            chip, channel, _ = resolve.pwm_chip(self._spec.name)
            self._ch = Channel(chip, channel)
        self._ch.configure(polarity="inversed" if invert else "normal")
        if freq is not None or self._ch.period_ns == 0:
            self.freq(freq if freq is not None else 1000)
        if duty_u16 is not None:
            self.duty_u16(duty_u16)
        if duty_ns is not None:
            self.duty_ns(duty_ns)
        self._ch.configure(enable=True)

    def _c(self, func):
        if self._ch is None:
            raise ValueError(f"PWM.{func}(): the PWM is deinitialised (call init)")
        return self._ch

    def freq(self, value=None):
        """Get or set the frequency (Hz); the duty cycle keeps its fraction."""
        ch = self._c("freq")
        if value is None:
            p = ch.period_ns
            return round(1e9 / p) if p else 0
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                not 0 < value <= 1e9:
            raise ValueError(f"PWM.freq(): value must be in (0, 1e9] Hz, got {value!r}")
        old_p, old_d = ch.period_ns, ch.duty_ns
        period = max(1, round(1e9 / value))
        duty = round(old_d * period / old_p) if old_p else 0
        ch.configure(period_ns=period, duty_ns=min(duty, period))

    def duty_u16(self, value=None):
        """Get or set the duty cycle as 0..65535 of the period."""
        ch = self._c("duty_u16")
        p = ch.period_ns
        if value is None:
            return round(ch.duty_ns * 65535 / p) if p else 0
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
            raise ValueError(f"PWM.duty_u16(): value must be an int in 0..65535, got {value!r}")
        ch.configure(duty_ns=round(p * value / 65535))

    def duty_ns(self, value=None):
        """Get or set the high time in ns (at most the period)."""
        ch = self._c("duty_ns")
        if value is None:
            return ch.duty_ns
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"PWM.duty_ns(): value must be an int >= 0, got {value!r}")
        ch.configure(duty_ns=value)

    def deinit(self):
        """Stop the output and release the channel (idempotent)."""
        if self._ch is not None:
            self._ch.close()
            self._ch = None

    def __repr__(self):
        return f"PWM({self._spec.pin})"
