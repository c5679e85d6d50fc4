"""MicroPython's ``sys`` module (``import sys`` / ``import usys`` under ``--api micropython``).

The interpreter's own :mod:`sys` (setting ``sys.stdout`` through this module sets the
interpreter's) plus MicroPython's ``print_exception(exc, file=sys.stdout, /)`` and
``atexit(func)``.  ``sys.implementation`` stays CPython's: code that tests for MicroPython
(``sys.implementation.name == "micropython"``) takes its CPython path.
"""
import sys as _sys

from kiln.mpy import forward as _forward


def print_exception(exc, file=None, /):
    """Print ``exc`` with its traceback to ``file`` (any object with ``write(str)``, default
    ``sys.stdout`` -- not stderr, as in MicroPython)."""
    if not isinstance(exc, BaseException):
        raise TypeError(f"print_exception() argument 'exc' must be an exception, not "
                        f"{type(exc).__name__}")
    if file is None:
        file = _sys.stdout
    elif not callable(getattr(file, "write", None)):
        raise TypeError(f"print_exception() argument 'file' must have a write() method, "
                        f"not be {type(file).__name__}")
    import traceback
    for chunk in traceback.format_exception(exc):
        file.write(chunk)


_atexit_func = None
_atexit_registered = False


def atexit(func):
    """Call ``func()`` (no arguments) when the program ends; ``None`` cancels.  Only one
    function is kept, as in MicroPython; returns the previous one (initially None)."""
    global _atexit_func, _atexit_registered
    if func is not None and not callable(func):
        raise TypeError(f"atexit() argument 'func' must be callable or None, not "
                        f"{type(func).__name__}")
    previous, _atexit_func = _atexit_func, func
    if not _atexit_registered:
        import atexit as _stdlib_atexit
        _stdlib_atexit.register(_run_atexit)
        _atexit_registered = True
    return previous


def _run_atexit():
    if _atexit_func is not None:
        _atexit_func()


_forward.extend(__name__, _sys)
