"""Zerynth-style networking for Kiln boards: ``from networking import eth, wifi, socket``.

``networking.socket`` is Kiln's Cython socket (Zerynth semantics: timeouts in milliseconds,
``recv`` waits for ``bufsize`` bytes, bytearray results).  The exception names Zerynth programs
catch are defined below every layer (:mod:`kiln.errors`, :mod:`kiln.net.errors`), re-exported
here, and injected as globals into Zerynth apps by the app launcher:

- ``ConnectionError``        the builtin: refused, reset, aborted, broken pipe (OSError family).
- ``ConnectionTimeoutError`` a link, DHCP lease or connection did not come up in time.
- ``TimeoutError``           the builtin: a socket operation timed out (errno ETIMEDOUT).
- ``ResolveError``           a host name could not be resolved (OSError, negative EAI_* code).
- ``NetworkGenericError``    any other network-interface failure.
- ``CantRegisterInterfaceError`` the interface asked for does not exist or is of another kind.
- ``IOError``                the builtin alias of OSError: socket creation and I/O failures.
- ``WifiException``          a Wi-Fi failure; subclasses ``WifiBadPassword``, ``WifiBadSSID``,
                             ``WifiBadAuth`` (enterprise credentials refused).
"""
import builtins as _builtins

from kiln.errors import (CantRegisterInterfaceError, ConnectionTimeoutError,
                         NetworkGenericError, WifiBadAuth, WifiBadPassword, WifiBadSSID,
                         WifiException)
from kiln.net.errors import AddressError, ResolveError

ConnectionError = _builtins.ConnectionError
TimeoutError = _builtins.TimeoutError
IOError = _builtins.OSError


# After the exceptions, which the socket face documents.  (The driver layer is imported only by
# networking.eth / networking.wifi: apps that just use sockets do not pay for it at start-up.)
from networking import socket  # noqa: E402

__all__ = ["socket", "ConnectionError", "ConnectionTimeoutError", "TimeoutError", "ResolveError",
           "NetworkGenericError", "CantRegisterInterfaceError", "IOError", "AddressError",
           "WifiException", "WifiBadPassword", "WifiBadSSID", "WifiBadAuth"]
