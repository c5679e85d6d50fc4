"""The Zerynth face of the launcher: the globals Zerynth programs use without importing them,
what their imports mean, and how their source is compiled.

The runtime itself (``streams``, ``timers``, ``threading``, ``requests`` and the builtins) is
:mod:`kiln.zerynth`; this module only wires it into the app (docs/zerynth.md).
"""
from kiln.zerynth.builtins import (MICROS, MILLIS, NANOS, SECONDS, app_namespace,  # noqa: F401
                                   micros, millis, sleep)

#: What the app's imports mean under ``--api zerynth`` (``kiln.app.module_aliases``).
# ``select``: CPython's select API counting the bytes Kiln sockets hold (Zerynth v3 has none).
ALIASES = {
    "socket": "networking.socket",
    "ssl": "kiln.net.zssl",
    "select": "kiln.select",
    "streams": "kiln.zerynth.streams",
    "timers": "kiln.zerynth.timers",
    "threading": "kiln.zerynth.threading",
    "requests": "kiln.zerynth.requests",
    # pins and buses (kiln.hw; docs/pins.md)
    "gpio": "kiln.zerynth.gpio",
    "i2c": "kiln.zerynth.i2c",
    "spi": "kiln.zerynth.spi",
    "pwm": "kiln.zerynth.pwm",
    "watchdog": "kiln.zerynth.watchdog",
}


def zerynth_globals() -> dict:
    """Names injected into a Zerynth app's builtins."""
    import networking
    from driver.wifi import security
    from kiln.net import const
    from kiln.zerynth import builtins as zbuiltins

    names = zbuiltins.globals_()
    names["IOError"] = OSError
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
    # Pins: the v2 builtins and constants, and the board's pin and bus names (D0, LED0, BTN0,
    # I2C0, SPI0 ...; none on a machine that is not a Kiln board).
    from kiln.hw import names as hwnames
    from kiln.zerynth import pins
    names.update(pins.builtins())
    names.update(hwnames.bus_names())
    names.update(hwnames.pin_names())
    return names


def namespace(names: dict):
    """The object the app sees as ``__builtins__``: a module holding ``names``, so that
    ``__builtins__.__default_stream = s`` (Zerynth's way to change a builtin) works."""
    return app_namespace(names)


def compile_source(source: bytes, path: str):
    """Compile an app module.  Zerynth's ``new_exception(Name, Parent, "msg")`` statement, whose
    first argument is a name that does not exist yet, becomes ``Name = new_exception("Name",
    Parent, "msg")``; sources without ``new_exception`` are compiled as they are."""
    if b"new_exception" not in source:
        return compile(source, path, "exec", dont_inherit=True)
    import ast
    tree = ast.parse(source, path)
    tree = _NewExceptionStatements().visit(tree)
    ast.fix_missing_locations(tree)
    return compile(tree, path, "exec", dont_inherit=True)


def _new_exception_statement_class():
    import ast

    class NewExceptionStatements(ast.NodeTransformer):
        def visit_Expr(self, node):
            call = node.value
            if (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
                    and call.func.id == "new_exception" and call.args
                    and isinstance(call.args[0], ast.Name)):
                name = call.args[0].id
                call.args[0] = ast.copy_location(ast.Constant(name), call.args[0])
                target = ast.copy_location(ast.Name(name, ast.Store()), node)
                return ast.copy_location(ast.Assign([target], call), node)
            return node

    return NewExceptionStatements


def _NewExceptionStatements():
    return _new_exception_statement_class()()
