"""The rule that keeps Kiln off a development host's network.

Kiln changes network interfaces (up/down, addresses, routes, DHCP) only where that is safe:

- on a Kiln image (``/etc/kiln/board.toml`` exists: the image builder writes it);
- inside a network namespace other than the initial one (``kiln run`` and the tests create
  such namespaces for the guest side and for host-tier tests);
- on a board the user owns but did not build with Kiln, after opting in with
  ``KILN_ALLOW_HOST_NETWORK=1``.

Everywhere else — a developer's laptop, a CI machine — the answer is no.
"""
from __future__ import annotations

import os
from pathlib import Path

OVERRIDE_ENV = "KILN_ALLOW_HOST_NETWORK"
KILN_IMAGE_MARKER = Path("/etc/kiln/board.toml")


def in_initial_netns() -> bool:
    """True when this process shares the network namespace of PID 1 (the host's own)."""
    try:
        mine = os.stat("/proc/self/ns/net")
        init = os.stat("/proc/1/ns/net")
    except OSError:
        return True          # cannot tell: assume the worst
    return (mine.st_dev, mine.st_ino) == (init.st_dev, init.st_ino)


def reconfigure_refusal() -> str | None:
    """Why interfaces must not be changed here, or None when it is allowed."""
    if KILN_IMAGE_MARKER.is_file() or os.environ.get(OVERRIDE_ENV) == "1":
        return None
    if not in_initial_netns():
        return None
    return ("this is a development host's own network namespace, not a Kiln board: Kiln changes "
            "interfaces only on a Kiln image, inside a network namespace (kiln run, tests), or "
            f"with {OVERRIDE_ENV}=1 on a board you own")
