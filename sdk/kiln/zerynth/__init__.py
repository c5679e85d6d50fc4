"""Zerynth's runtime face on Kiln: the modules and builtins Zerynth's standard library documents.

A Zerynth app (``--api zerynth``, the launcher's default) imports these under Zerynth's names
(``kiln.app.zerynth.ALIASES``): ``import streams`` is :mod:`kiln.zerynth.streams`, ``timers``
:mod:`kiln.zerynth.timers`, ``threading`` :mod:`kiln.zerynth.threading`, ``requests``
:mod:`kiln.zerynth.requests`.  The builtins (``thread``, ``sleep``, ``random``,
``new_exception``, ``print(..., stream=)``, ``PRIO_*``, ``MILLIS`` ...) are
:mod:`kiln.zerynth.builtins`.  What each call means on Linux, and where Kiln differs from
Zerynth: ``docs/zerynth.md``.
"""
