"""One way to keep concurrent processes off a shared directory or file: an exclusive lock file.

Kiln's caches are shared by every process on a machine that uses them -- two test workers, two
checkouts' test suites, a developer's ``kiln image build`` beside CI: the image builder's
package index and ``.deb`` cache, the unpacked kernels, the test images, the per-machine
Buildroot cache.  A writer holds :func:`locked` on what it writes; readers of finished results
rely on atomic renames instead.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from pathlib import Path
from typing import Iterator

# Lock files this thread holds: flock belongs to an open file, so a second open of a lock this
# thread holds would wait for itself.
_held = threading.local()


def lock_file(path: Path | str) -> Path:
    """The lock file of ``path``: ``.<name>.lock`` beside it (never inside, so that ``path``
    can be deleted and re-created under the lock)."""
    path = Path(path)
    return path.parent / f".{path.name}.lock"


@contextlib.contextmanager
def locked(path: Path | str) -> Iterator[None]:
    """Hold the exclusive lock of ``path`` (``flock`` on :func:`lock_file`); blocks until it
    is free.  Re-entrant in one thread (a caller holding the lock may call code that takes it
    again); the lock goes with the process (a killed holder never leaves it taken)."""
    lock = lock_file(os.path.abspath(path))
    held = _held.__dict__.setdefault("paths", set())
    if lock in held:
        yield
        return
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        held.add(lock)
        try:
            yield
        finally:
            held.discard(lock)
