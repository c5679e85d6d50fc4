"""Name resolution shared by ``networking.eth`` and ``networking.wifi`` (Zerynth's
``resolve(host)``): the system resolver, with the DNS servers the interface's lease or static
configuration wrote to /etc/resolv.conf."""
from kiln.net.addr import getaddrinfo
from networking import ResolveError

_AF_INET = 2  # Linux's AF_INET; getaddrinfo's family filter


def resolve_ipv4(func: str, host: str) -> str:
    """The first IPv4 address of ``host`` as a string; blocks for the lookup.  ``TypeError``
    naming ``func`` for a non-str ``host``; ``ResolveError`` if it cannot be resolved."""
    if not isinstance(host, str):
        raise TypeError(f"{func}(): host must be a str, not {type(host).__name__}")
    results = getaddrinfo(host, 0, _AF_INET)
    if not results:
        raise ResolveError(-2, f"no IPv4 address for {host!r}")
    return results[0][4][0]
