"""Progress lines for long build steps (``==> step`` with elapsed seconds, on stderr)."""
from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import Iterator


class Progress:
    """Prints one line per step and its duration; silent when ``enabled`` is false."""

    def __init__(self, enabled: bool = True, stream=None) -> None:
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.started = time.monotonic()
        self.timings: dict[str, float] = {}

    def note(self, message: str) -> None:
        """Print an informational line (no timing)."""
        if self.enabled:
            print(f"    {message}", file=self.stream, flush=True)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Context manager timing the step ``name``; the time is also kept in ``timings``."""
        if self.enabled:
            print(f"==> {name}", file=self.stream, flush=True)
        t0 = time.monotonic()
        yield
        self.timings[name] = time.monotonic() - t0
        if self.enabled:
            print(f"    done in {self.timings[name]:.1f}s", file=self.stream, flush=True)
