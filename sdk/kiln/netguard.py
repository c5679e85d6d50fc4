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


NAMED_NETNS_DIR = Path("/run/netns")


def _ns_id(path: str | Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def in_created_netns() -> bool:
    """True when this process runs in a network namespace that was created for it: a named
    namespace (``ip netns add``, bind-mounted under /run/netns) or, where PID 1's namespace is
    readable, any namespace other than PID 1's."""
    mine = _ns_id("/proc/self/ns/net")
    if mine is None:
        return False
    try:
        named = [_ns_id(p) for p in NAMED_NETNS_DIR.iterdir()]
    except OSError:
        named = []
    if mine in named:
        return True
    init = _ns_id("/proc/1/ns/net")          # unreadable inside some containers
    return init is not None and init != mine


def reconfigure_refusal() -> str | None:
    """Why interfaces must not be changed here, or None when it is allowed."""
    if KILN_IMAGE_MARKER.is_file() or os.environ.get(OVERRIDE_ENV) == "1":
        return None
    if in_created_netns():
        return None
    return ("this is a development host's own network namespace, not a Kiln board: Kiln changes "
            "interfaces only on a Kiln image, inside a network namespace (kiln run, tests), or "
            f"with {OVERRIDE_ENV}=1 on a board you own")
