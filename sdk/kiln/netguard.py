"""The rule that keeps Kiln off a development host's network.

Kiln changes network interfaces (up/down, addresses, routes, DHCP) only where that is safe:

- on a Kiln image (``/etc/kiln/board.toml`` exists: the image builder writes it);
- inside a named network namespace that Kiln or its tests created (``ip netns add kiln-*``,
  bind-mounted under ``/run/netns``) — ``kiln run`` and the tests create such namespaces;
- on a board the user owns but did not build with Kiln, after opting in with
  ``KILN_ALLOW_HOST_NETWORK=1``.

Everywhere else — a developer's laptop, a CI machine — the answer is no.  "Not PID 1's namespace"
is deliberately not enough: development containers and sandboxes often run the whole host network
in a non-initial namespace (and hide ``/proc/1/ns/net`` from ``ip netns exec`` children), so that
rule would let Kiln reconfigure a developer's real interfaces.

(Plain ``os.path``: this runs at board start-up, where every import costs boot time.)
"""
import os

OVERRIDE_ENV = "KILN_ALLOW_HOST_NETWORK"
KILN_IMAGE_MARKER = "/etc/kiln/board.toml"
NAMED_NETNS_DIR = "/run/netns"
KILN_NETNS_PREFIX = "kiln-"


def _ns_id(path):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def kiln_netns_name():
    """The name of the ``kiln-*`` named namespace this process runs in, or None."""
    mine = _ns_id("/proc/self/ns/net")
    try:
        names = sorted(os.listdir(NAMED_NETNS_DIR))
    except OSError:
        return None
    for name in names:
        if (name.startswith(KILN_NETNS_PREFIX)
                and _ns_id(os.path.join(NAMED_NETNS_DIR, name)) == mine):
            return name
    return None


def shares_pid1_netns():
    """True if this process provably shares PID 1's network namespace (False if unreadable)."""
    mine = _ns_id("/proc/self/ns/net")
    return mine is not None and mine == _ns_id("/proc/1/ns/net")


def reconfigure_refusal():
    """Why interfaces must not be changed here (str), or None when it is allowed."""
    if os.path.isfile(KILN_IMAGE_MARKER) or os.environ.get(OVERRIDE_ENV) == "1":
        return None
    if kiln_netns_name() is not None and not shares_pid1_netns():
        return None
    return (f"this is not a Kiln image ({KILN_IMAGE_MARKER} is missing) nor a network namespace "
            f"Kiln created ({NAMED_NETNS_DIR}/{KILN_NETNS_PREFIX}*): Kiln does not change a "
            f"development host's interfaces (on a board you own, set {OVERRIDE_ENV}=1)")
