"""MicroPython's ``gc`` module (``import gc`` under ``--api micropython``).

CPython's :mod:`gc` (``collect``, ``enable``, ``disable``, ``isenabled``...) plus MicroPython's
memory queries, with their Linux meaning (MicroPython has one fixed heap; a Kiln app is a Linux
process whose heap grows on demand):

- ``mem_alloc()``: bytes of private memory the process uses -- resident pages that are not
  shared with other processes (``resident - shared`` of /proc/self/statm): the interpreter's
  heap, its object arenas and the thread stacks;
- ``mem_free()``: bytes the kernel can still give without swapping (``MemAvailable`` of
  /proc/meminfo), -1 if the kernel does not say;
- ``threshold(amount)``: also collect each time the process has grown by ``amount`` bytes
  (checked every 100 ms by a daemon thread, as long as a threshold is set and collection is
  enabled).
"""
import gc as _gc
import os as _os

from kiln.mpy import forward as _forward

_PAGE = _os.sysconf("SC_PAGE_SIZE")
#: How often the threshold watcher samples ``mem_alloc`` (s).
_POLL_S = 0.1


def mem_alloc():
    """Bytes of memory the process holds privately (resident, not shared): see the module
    docstring."""
    with open("/proc/self/statm", "rb") as f:
        fields = f.read().split()
    return (int(fields[1]) - int(fields[2])) * _PAGE


def mem_free():
    """Bytes of memory still available to the process (the kernel's MemAvailable), or -1 if
    unknown."""
    try:
        with open("/proc/meminfo", "rb") as f:
            for line in f:
                if line.startswith(b"MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return -1


_threshold = -1
_watcher = None


def threshold(amount=None):
    """``threshold()``: the allocation threshold in bytes (-1: none).  ``threshold(amount)``:
    run a collection each time the process has grown by ``amount`` bytes since the last one
    (sampled every 100 ms); a negative amount removes the threshold."""
    global _threshold, _watcher
    if amount is None:
        return _threshold
    import operator
    try:
        amount = operator.index(amount)
    except TypeError:
        raise TypeError(f"threshold() argument 'amount' must be an int, not "
                        f"{type(amount).__name__}") from None
    _threshold = amount if amount >= 0 else -1
    if _threshold >= 0 and (_watcher is None or not _watcher.is_alive()):
        import threading
        _watcher = threading.Thread(target=_watch, name="kiln-gc-threshold", daemon=True)
        _watcher.start()
    return None


def _watch():
    import time
    base = mem_alloc()
    while _threshold >= 0:
        time.sleep(_POLL_S)
        now = mem_alloc()
        if _threshold >= 0 and now - base >= _threshold and _gc.isenabled():
            _gc.collect()
            base = mem_alloc()
        elif now < base:
            base = now


_forward.extend(__name__, _gc)
