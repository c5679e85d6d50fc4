"""``machine.RTC`` (docs/library/machine.RTC.rst): the system clock.

Linux keeps the time in the system clock, set at boot from the board's RTC (``/dev/rtc0``,
the kernel's hctosys) or from the network; ``datetime()`` reads it (UTC).  Setting it sets the
system clock (root) and, where the board has ``/dev/rtc0``, the hardware RTC too
(``RTC_SET_TIME``).
"""
import os
import struct
import time

_RTC_SET_TIME = 0x4024700A        # _IOW('p', 0x0a, struct rtc_time): 9 ints


class RTC:
    """``RTC(id=0)``."""

    def __init__(self, id=0, datetime=None):
        if datetime is not None:
            self.datetime(datetime)

    def init(self, datetime):
        self.datetime(datetime)

    def datetime(self, datetimetuple=None):
        """``(year, month, day, weekday, hours, minutes, seconds, subseconds)`` (weekday 0 =
        Monday, subseconds in µs), UTC; with a tuple: set the clock (PermissionError when not
        root)."""
        if datetimetuple is None:
            ns = time.time_ns()
            t = time.gmtime(ns // 1_000_000_000)
            return (t.tm_year, t.tm_mon, t.tm_mday, t.tm_wday, t.tm_hour, t.tm_min, t.tm_sec,
                    (ns // 1000) % 1_000_000)
        if not isinstance(datetimetuple, (tuple, list)) or len(datetimetuple) not in (7, 8):
            raise ValueError("RTC.datetime(): expected (year, month, day, weekday, hours, "
                             "minutes, seconds[, subseconds])")
        y, mo, d, _wd, h, mi, s = datetimetuple[:7]
        sub = datetimetuple[7] if len(datetimetuple) == 8 else 0
        import calendar
        secs = calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0))
        time.clock_settime_ns(time.CLOCK_REALTIME, secs * 1_000_000_000 + sub * 1000)
        if os.path.exists("/dev/rtc0"):
            import fcntl
            tm = struct.pack("9i", s, mi, h, d, mo - 1, y - 1900, 0, 0, 0)
            fd = os.open("/dev/rtc0", os.O_RDONLY | os.O_CLOEXEC)
            try:
                fcntl.ioctl(fd, _RTC_SET_TIME, tm)
            finally:
                os.close(fd)

    def now(self):
        """``(year, month, day, hours, minutes, seconds, subseconds, tzinfo)`` (older API)."""
        y, mo, d, _wd, h, mi, s, sub = self.datetime()
        return (y, mo, d, h, mi, s, sub, None)
