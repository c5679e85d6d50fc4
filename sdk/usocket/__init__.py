"""MicroPython's ``socket`` module (importable as ``usocket``), served by Kiln's Cython core.

See ``kiln.net.usocket`` for the semantics (seconds, stream methods, OSError with errno).
"""
from kiln.net.usocket import *  # noqa: F401,F403
from kiln.net.usocket import __all__  # noqa: F401
