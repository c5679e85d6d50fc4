"""The MicroPython runtime face: the modules an app gets under ``--api micropython``.

The launcher (:mod:`kiln.app`) redirects the app's imports through
``kiln.app.micropython.ALIASES``; the modules MicroPython has and CPython lacks, or has with
other behaviour, live here, one job each:

- :mod:`kiln.mpy.utime` -- ``time``/``utime``: CPython's ``time`` plus ``sleep_ms``,
  ``sleep_us``, ``ticks_*`` with MicroPython's wrap-around, 8-tuple ``gmtime``/``localtime``;
- :mod:`kiln.mpy.micropython` -- ``micropython``: ``const``, ``native``/``viper``,
  ``opt_level``, ``mem_info``, ``schedule``, ``heap_lock``, ``kbd_intr``...;
- :mod:`kiln.mpy.scheduler` -- the queue behind ``micropython.schedule``;
- :mod:`kiln.mpy.cstack` -- the calling thread's C stack (``stack_use``, ``mem_info``);
- :mod:`kiln.mpy.ugc` -- ``gc``: CPython's ``gc`` plus ``mem_free``, ``mem_alloc``,
  ``threshold``;
- :mod:`kiln.mpy.usys` -- ``sys``/``usys``: CPython's ``sys`` plus ``print_exception``,
  ``atexit``;
- :mod:`kiln.mpy.uos` -- ``os``/``uos``: CPython's ``os`` plus ``ilistdir``;
- :mod:`kiln.mpy.stream` -- py/stream.c's method signatures for Kiln's Python-level streams;
- :mod:`kiln.mpy.deflate`, :mod:`kiln.mpy.uzlib` -- MicroPython's compression streams over
  CPython's zlib;
- :mod:`kiln.mpy.requests` -- micropython-lib's ``requests`` client over ``usocket``;
- :mod:`kiln.mpy.forward` -- how a face module extends a CPython module.

What differs from MicroPython, and why: docs/micropython.md.
"""


def const(expr):
    """Return ``expr``: ``X = const(1)`` declares a constant (MicroPython's compiler inlines it
    and knows the name without an import; CPython keeps the global, with the same value).  The
    launcher makes it a builtin of MicroPython apps; ``micropython.const`` is the same."""
    return expr
