"""Zerynth ``pwm.write`` (docs: reference/libs/stdlib/pwm.md) over the PWM class (kiln.hw.pwm).

``write(pin, period, pulse, time_unit=MILLIS)``: ``pin`` must have a PWM channel in the board
file (``D18`` or ``D18.PWM`` on a Pi); ``period`` and ``pulse`` (the high time) in ``time_unit``
(NANOS, MICROS, MILLIS); ``write(pin, 0, 0)`` stops it and releases the channel.
"""
from kiln.hw import resolve
from kiln.hw.names import pin_key
from kiln.hw.pwm import Channel

_UNIT_NS = {0: 1, 1: 1_000, 2: 1_000_000, 3: 1_000_000_000}
_channels = {}


def write(pin, period, pulse, time_unit=2):
    """Start, change or (period = pulse = 0) stop PWM on ``pin``."""
    spec = resolve.pwm_for_pin(pin_key(pin, "pwm.write"))
    for name, v in (("period", period), ("pulse", pulse)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
            raise ValueError(f"pwm.write(): {name} must be a number >= 0, got {v!r}")
    if time_unit not in _UNIT_NS or isinstance(time_unit, bool):
        raise ValueError(f"pwm.write(): time_unit must be NANOS, MICROS, MILLIS or SECONDS, got "
                         f"{time_unit!r}")
    if pulse > period:
        raise ValueError(f"pwm.write(): pulse ({pulse}) must not exceed period ({period})")
    ch = _channels.get(spec.name)
    if period == 0:
        if ch is not None:
            ch.close()
            del _channels[spec.name]
        return
    if ch is None:
        chip, channel, _ = resolve.pwm_chip(spec.name)
        ch = _channels[spec.name] = Channel(chip, channel)
    unit = _UNIT_NS[time_unit]
    ch.configure(period_ns=round(period * unit), duty_ns=round(pulse * unit), enable=True)
