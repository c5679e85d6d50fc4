"""Zerynth's ``timers``: ``timer()`` with ``start``/``get``, a periodic ``interval`` call
(cleared with ``clear``), a ``one_shot`` call, ``timers.now()``."""
import threading
import timers


def run(ctx):
    ticks = []
    tm = timers.timer()
    tm.start()
    tm.interval(50, lambda: ticks.append(tm.get()))
    sleep(400)
    tm.clear()
    count = len(ticks)
    sleep(150)                                  # cleared: no more calls
    fired = threading.Event()
    shot = timers.timer()
    shot.one_shot(100, fired.set)
    return {"ticks": count, "stopped": len(ticks) == count, "rising": ticks == sorted(ticks),
            "first_ms_ok": ticks[0] >= 50, "one_shot": fired.wait(2000),
            "now_ok": timers.now() > 400}
