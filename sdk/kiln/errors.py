"""Kiln's exception classes, at the bottom of every layer: this module imports nothing.

- :class:`KilnError` is the base of every user-facing failure of Kiln's own tooling and board
  loading (the ``kiln`` command prints ``kiln: <message>`` for it, without a traceback).
- The network-interface exceptions are the names Zerynth programs catch.  Drivers (``driver``)
  raise them and ``networking`` re-exports them, so neither has to import the other for them.
  (``ResolveError`` and ``AddressError`` belong to the socket core, ``kiln.net.errors``.)
"""


class KilnError(Exception):
    """A user-facing failure: the message names the problem and the fix."""


class NetworkGenericError(OSError):
    """A network interface failed in a way no more specific error describes."""


class ConnectionTimeoutError(ConnectionError, TimeoutError):
    """The link, the association, the DHCP lease or the connection was not established within
    the timeout."""


class CantRegisterInterfaceError(NetworkGenericError):
    """The requested network interface does not exist or is not of the driver's kind."""


class WifiException(NetworkGenericError):
    """A Wi-Fi operation failed (association refused or timed out, no driver, radio missing)."""


class WifiBadPassword(WifiException):
    """The access point refused the passphrase or key (wrong WPA/WPA3 password, WEP key)."""


class WifiBadSSID(WifiException):
    """No access point with the requested SSID (and security) was found."""


class WifiBadAuth(WifiException):
    """Enterprise (802.1X/EAP) credentials were refused."""


# --- The rest of Zerynth's exception tree (its ``__builtins__``): the names Zerynth programs
# catch that CPython lacks.  ``IOError``, ``ConnectionError``, ``TimeoutError``,
# ``NotImplementedError`` ... are CPython's own, in the same places of the tree.
class UnsupportedError(RuntimeError):
    """The operation exists in Zerynth's API but this board (or Kiln) cannot perform it."""


class PeripheralError(Exception):
    """A peripheral (pin, bus, converter) failed."""


class InvalidPinError(PeripheralError):
    """The pin does not exist on this board or cannot do what was asked."""


class InvalidHardwareStatusError(PeripheralError):
    """The peripheral is not in a state that allows the operation."""


class HardwareInitializationError(PeripheralError):
    """The peripheral could not be initialised."""
