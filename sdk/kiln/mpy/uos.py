"""MicroPython's ``os`` module (``import os`` / ``import uos`` under ``--api micropython``).

CPython's :mod:`os` (``listdir``, ``stat``, ``mkdir``, ``uname``, ``urandom``, ``statvfs``...)
plus MicroPython's ``ilistdir``.  MicroPython's filesystem mounting (``mount``, ``umount``,
``VfsFat``...) and ``dupterm`` have no equivalent: the board's filesystems are Linux's.
"""
import os as _os
import stat as _stat

from kiln.mpy import forward as _forward

_TYPE_DIR = 0x4000
_TYPE_FILE = 0x8000


def ilistdir(dir="."):
    """Iterate over the entries of ``dir`` as ``(name, type, inode, size)`` tuples: ``type``
    0x4000 for a directory, 0x8000 for a regular file, 0 otherwise; ``size`` in bytes for a
    file, -1 otherwise.  ``name`` is bytes when ``dir`` is bytes.  Symlinks are not followed.
    OSError if ``dir`` cannot be listed."""
    result = []
    with _os.scandir(dir) as entries:
        found = list(entries)
    for entry in found:
        try:
            info = entry.stat(follow_symlinks=False)
        except FileNotFoundError:       # removed while we listed it
            continue
        if _stat.S_ISDIR(info.st_mode):
            kind, size = _TYPE_DIR, -1
        elif _stat.S_ISREG(info.st_mode):
            kind, size = _TYPE_FILE, info.st_size
        else:
            kind, size = 0, -1
        result.append((entry.name, kind, info.st_ino, size))
    return iter(result)


_forward.extend(__name__, _os)
