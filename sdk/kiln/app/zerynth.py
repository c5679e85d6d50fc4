"""The globals Zerynth programs use without importing them."""
import time

#: What the app's imports mean under ``--api zerynth`` (``kiln.app.module_aliases``).
# ``select``: CPython's select API counting the bytes Kiln sockets hold (Zerynth v3 has none).
ALIASES = {"socket": "networking.socket", "ssl": "kiln.net.zssl", "select": "kiln.select"}

# Zerynth's time units for sleep(duration, time_unit=MILLIS).
MICROS = 0
MILLIS = 1
SECONDS = 2
_UNIT_SECONDS = {MICROS: 1e-6, MILLIS: 1e-3, SECONDS: 1.0}


def sleep(duration, time_unit=MILLIS):
    """Suspend the calling thread for ``duration`` milliseconds (or ``time_unit`` units)."""
    if time_unit not in _UNIT_SECONDS:
        raise ValueError(f"time_unit must be MICROS, MILLIS or SECONDS, got {time_unit!r}")
    if duration < 0:
        raise ValueError(f"sleep duration must be >= 0, got {duration}")
    time.sleep(duration * _UNIT_SECONDS[time_unit])


def millis() -> int:
    """Milliseconds since an arbitrary start (monotonic)."""
    return time.monotonic_ns() // 1_000_000


def micros() -> int:
    """Microseconds since an arbitrary start (monotonic)."""
    return time.monotonic_ns() // 1_000


def zerynth_globals() -> dict:
    """Names injected into a Zerynth app's builtins."""
    import networking
    from driver.wifi import security
    from kiln.net import const

    names = {
        "sleep": sleep, "millis": millis, "micros": micros,
        "MICROS": MICROS, "MILLIS": MILLIS, "SECONDS": SECONDS,
        "IOError": OSError,
    }
    # Wi-Fi security modes as WIFI_* (the bare OPEN .. WPA2_WPA3 names are networking.wifi's).
    for value, name in enumerate(security.NAMES):
        names[f"WIFI_{name}"] = value
    for name in ("ConnectionError", "ConnectionTimeoutError", "ResolveError",
                 "NetworkGenericError", "CantRegisterInterfaceError", "TimeoutError",
                 "WifiException", "WifiBadPassword", "WifiBadSSID", "WifiBadAuth"):
        names[name] = getattr(networking, name)
    # The socket constants Zerynth exposes as builtins (``socket.socket(type=SOCK_STREAM)``).
    for name in ("AF_INET", "AF_INET6", "SOCK_STREAM", "SOCK_DGRAM", "IPPROTO_TCP",
                 "IPPROTO_UDP", "SOL_SOCKET", "SO_REUSEADDR", "TCP_NODELAY"):
        names[name] = getattr(const, name)
    return names
