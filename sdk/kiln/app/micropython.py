"""The MicroPython runtime face of the app launcher (``--api micropython``)."""

#: What the app's imports mean under ``--api micropython`` (``kiln.app.module_aliases``): the
#: names MicroPython programs import, with the module that serves each (kiln.mpy: the modules
#: MicroPython has and CPython lacks or has differently; docs/micropython.md).  The ``u``
#: names are the aliases MicroPython still accepts; a stdlib target is CPython's own module.
ALIASES = {
    "socket": "usocket",
    # TLS (kiln.net.tls): MicroPython's tls module and micropython-lib's ssl over it
    "tls": "kiln.net.utls",
    "ssl": "kiln.net.ussl",
    "ussl": "kiln.net.ussl",
    # select/poll and asyncio over Kiln sockets (kiln.poll: bytes Kiln holds count as readable)
    "select": "uselect",
    "uselect": "uselect",
    "asyncio": "uasyncio",
    "uasyncio": "uasyncio",
    # kiln.mpy: MicroPython's behaviour over CPython's module
    "time": "kiln.mpy.utime",
    "utime": "kiln.mpy.utime",
    "gc": "kiln.mpy.ugc",
    "sys": "kiln.mpy.usys",
    "usys": "kiln.mpy.usys",
    "os": "kiln.mpy.uos",
    "uos": "kiln.mpy.uos",
    "micropython": "kiln.mpy.micropython",
    "deflate": "kiln.mpy.deflate",
    "uzlib": "kiln.mpy.uzlib",
    "requests": "kiln.mpy.requests",
    # pins and buses over the kernel's device interfaces (kiln.hw; docs/pins.md)
    "machine": "kiln.mpy.machine",
    "umachine": "kiln.mpy.machine",
    "urequests": "kiln.mpy.requests",
    # CPython's module as it is (MicroPython's is a subset)
    "ujson": "json",
    "ustruct": "struct",
    "ubinascii": "binascii",
    "uerrno": "errno",
    "uio": "io",
    "ucollections": "collections",
    "uhashlib": "hashlib",
    "urandom": "random",
    "ure": "re",
    "uarray": "array",
    "uheapq": "heapq",
    "uplatform": "platform",
}


def const(expr):
    """Return ``expr``: ``X = const(1)`` declares a constant (MicroPython's compiler inlines it
    and knows the name without an import; CPython keeps the global, with the same value)."""
    return expr


def micropython_globals():
    """Names MicroPython programs use without importing them (``const``: its parser's)."""
    return {"const": const}
