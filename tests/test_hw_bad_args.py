"""Bad input to every public callable of kiln.hw's Cython bindings, generated from their stubs
(``sdk/kiln/hw/*.pyi``), as the socket suites are generated from theirs.

For each method of each class in the stubs: the valid call (``VALID``) must pass argument
checking -- on a device object opened on ``/dev/null`` (a pty for the UART) it then reaches the
kernel, which answers ENOTTY, or returns -- and each bad value of each parameter (``BAD``, by
parameter name) must raise the listed exception with the parameter's name in the message,
without touching the device.  The same call on a closed device raises ValueError saying so.
A public method or parameter without cases fails the suite (nothing is skipped silently).
"""
from __future__ import annotations

import ast
import errno
import os
from pathlib import Path

import pytest

from kiln.hw import gpio, i2c, spi, uart, watchdog
from kiln.hw.fdio import _on_file

STUBS = Path(__file__).resolve().parents[1] / "sdk" / "kiln" / "hw"
MODULES = {"gpio": gpio, "i2c": i2c, "spi": spi, "uart": uart, "watchdog": watchdog}

# Valid arguments of every public method (class, method) -> {param: value}.
VALID = {
    ("Chip", "line_info"): {"offset": 0},
    ("Chip", "request"): {"offsets": [0], "consumer": "t"},
    ("LineRequest", "get_values"): {},
    ("LineRequest", "get_value"): {"offset": 0},
    ("LineRequest", "set_value"): {"offset": 0, "value": 1},
    ("LineRequest", "set_values"): {"values": [1]},
    ("LineRequest", "reconfigure"): {},
    ("LineRequest", "read_edge_events"): {"timeout": 0},
    ("I2CBus", "set_timeout"): {"ms": 100},
    ("I2CBus", "transfer"): {"addr": 0x50, "segments": [("w", b"\0"), ("r", bytearray(2))]},
    ("I2CBus", "write_quick"): {"addr": 0x50},
    ("I2CBus", "read_byte"): {"addr": 0x50},
    ("I2CBus", "read_byte_data"): {"addr": 0x50, "register": 1},
    ("I2CBus", "write_byte_data"): {"addr": 0x50, "register": 1, "value": 7},
    ("I2CBus", "read_word_data"): {"addr": 0x50, "register": 1},
    ("I2CBus", "write_word_data"): {"addr": 0x50, "register": 1, "value": 700},
    ("I2CBus", "read_i2c_block_data"): {"addr": 0x50, "register": 1, "length": 4},
    ("I2CBus", "write_i2c_block_data"): {"addr": 0x50, "register": 1, "data": b"ab"},
    ("I2CBus", "probe"): {"addr": 0x50},
    ("SPIDevice", "configure"): {"mode": 3, "bits": 8, "speed_hz": 1000000, "lsb_first": False},
    ("SPIDevice", "transfer"): {"tx": b"ab", "rx": bytearray(2)},
    ("SPIDevice", "transfers"): {"items": [(b"a", bytearray(1), None, 0, 0, False)]},
    ("Serial", "configure"): {"baudrate": 9600, "bits": 8, "parity": "E", "stop": 2},
    ("Serial", "settings"): {},
    ("Serial", "readinto"): {"buffer": bytearray(2), "nbytes": 1, "timeout": 0,
                             "timeout_char": 0},
    ("Serial", "read"): {"nbytes": 1, "timeout": 0},
    ("Serial", "write"): {"data": b"x", "timeout": 0},
    ("Serial", "drain"): {"timeout": 0},
    ("Serial", "flush_input"): {},
    ("Serial", "send_break"): {"duration": 0},
    ("Watchdog", "keepalive"): {},
    ("Watchdog", "close"): {"magic": False},
}
# Parameters that take any value's truth (no refusal possible) or are internal.
ANY_VALUE = {"ten_bit", "cs_change", "magic", "func", "lsb_first", "event_buffer_size"}

T, V = TypeError, ValueError
_CHOICE = [(1, T), ("sideways", V)]
BAD = {
    "offset": [(1.5, T), ("0", T), (None, T), (99, V), (-1, V)],
    "offsets": [("ab", T), (5, T), ([], V), ([0, 0], V), ([99], V), ([1.5], T)],
    "consumer": [(5, T), ("x" * 40, V), ("a\0b", V)],
    "direction": _CHOICE, "bias": _CHOICE, "drive": [(1, T), ("sideways", V),
                                                      ("open-drain", V)],
    "edge": [(1, T), ("sideways", V)],
    "active_low": [("x", T)],
    "debounce_us": [(1.5, T), (-1, V), (2**32, V)],
    "values": [("1", V), ([2], V), ([0, 1, 0], V)],
    "value": [(2, V), ("1", V)],
    ("I2CBus", "value"): [(2**16, V), (-1, V), (1.5, T)],
    "timeout": [("1", T), (-1, V)],
    "ms": [(0, V), (600001, V), (1.5, T)],
    "addr": [(0x80, V), (-1, V), (0x3FF, V), (1.5, T), ("0x50", T)],
    ("I2CBus", "probe", "addr"): [(0x07, V), (0x78, V), (1.5, T)],
    "register": [(256, V), (-1, V), (1.5, T)],
    "length": [(0, V), (33, V), (1.5, T)],
    ("I2CBus", "data"): [("ab", T), (b"", V), (b"x" * 33, V)],
    ("Serial", "data"): [(5, T), (1.5, T), (None, T)],
    "segments": [("ab", T), ([], V), ([("x", b"a")], V), ([("r", b"ro")], T), ([("W", b"a")], V),
                 ([("w", b"x" * 9000)], V), ([("w", 5)], T)],
    "mode": [(1.5, T), (0x1000000, V), (-1, V)],
    ("SPIDevice", "bits"): [(0, V), (33, V), (1.5, T)],
    ("Serial", "bits"): [(9, V), (4, V), (8.0, V)],
    "speed_hz": [(0, V), (1.5, T), (2**32, V)],
    ("SPIDevice", "transfer", "speed_hz"): [(-1, V), (1.5, T), (2**32, V)],     # 0: default
    "tx": [(5, T), ("ok", None)],
    "rx": [(b"ro", T), (bytearray(3), V), (5, T)],
    "items": [("ab", T), ([], V), ([(1,)], T), ([(None, None, -1, 0, 0, False)], V),
              ([(b"a", None, None, -1, 0, False)], V), ([(b"a", None, None, 0, 70000, False)], V)],
    "baudrate": [(0, V), (1.5, T), (2**32, V)],
    "parity": [("X", V), (1, V), (True, V)],
    "stop": [(3, V), (1.5, V), (True, V)],
    "rtscts": [("x", T)],
    "buffer": [(b"ro", T), (5, T)],
    ("Serial", "readinto", "nbytes"): [(3, V), (-1, V), (1.5, T)],
    ("Serial", "read", "nbytes"): [(-1, V), (1.5, T), (2**31, V)],
    "timeout_char": [("1", T), (-1, V)],
    "duration": [(-1, V), ("1", V), (61, V)],
    "delay_us": [(-1, V), (70000, V)],
}
# The messages of these name the argument their own way.
MESSAGE_NAME = {"items": "", "segments": "segment", "tx": "", "rx": "", "drive": "",
                "values": "values"}


def _stub_methods():
    """(module, class, method, [params]) of every public method in the stubs."""
    out = []
    for mod in MODULES:
        tree = ast.parse((STUBS / f"{mod}.pyi").read_text())
        for cls in tree.body:
            if not isinstance(cls, ast.ClassDef) or cls.name in ("EdgeEvent", "LineInfo"):
                continue
            for fn in cls.body:
                if not isinstance(fn, ast.FunctionDef) or fn.name.startswith("_"):
                    continue
                if any(isinstance(d, ast.Name) and d.id == "property" or
                       isinstance(d, ast.Attribute) for d in fn.decorator_list):
                    continue
                args = fn.args
                params = [a.arg for a in args.args[1:] + args.kwonlyargs]
                out.append((mod, cls.name, fn.name, params))
    return out


METHODS = _stub_methods()


def _bad_for(cls, method, param):
    for key in ((cls, method, param), (cls, param), param):
        if key in BAD:
            return BAD[key]
    return None


def _cases():
    for mod, cls, method, params in METHODS:
        for param in params:
            bad = _bad_for(cls, method, param)
            for value, exc in bad or ():
                if exc is not None:
                    yield pytest.param(mod, cls, method, param, value, exc,
                                       id=f"{cls}.{method}-{param}={value!r:.20}")


@pytest.fixture
def device(tmp_path):
    opened = []

    def make(cls):
        if cls == "Serial":
            master, slave = os.openpty()
            opened.extend([master, slave])
            dev = uart.Serial(os.ttyname(slave))
        elif cls == "Chip":
            dev = gpio._chip_on_file("/dev/null", 8)
        elif cls == "LineRequest":
            dev = gpio._request_on_file("/dev/null", (0,), True)
        else:
            dev = _on_file(getattr(MODULES[{"I2CBus": "i2c", "SPIDevice": "spi",
                                            "Watchdog": "watchdog"}[cls]], cls), "/dev/null")
        opened.append(dev)
        return dev
    yield make
    for d in opened:
        if isinstance(d, int):
            os.close(d)
        else:
            d.close()


def test_every_public_method_and_parameter_has_cases():
    missing = [f"{c}.{m}" for _, c, m, _ in METHODS if (c, m) not in VALID]
    assert not missing, f"no valid call for {missing}"
    untested = [f"{c}.{m}({p})" for _, c, m, params in METHODS for p in params
                if p not in ANY_VALUE and _bad_for(c, m, p) is None]
    assert not untested, f"no bad values for {untested}"


def _call(dev, method, kwargs):
    fn = getattr(dev, method)
    return fn(**kwargs)


@pytest.mark.parametrize("mod,cls,method,params", [pytest.param(*m, id=f"{m[1]}.{m[2]}")
                                                   for m in METHODS])
def test_valid_call_reaches_the_device(device, mod, cls, method, params):
    dev = device(cls)
    try:
        _call(dev, method, VALID[(cls, method)])
    except OSError as exc:
        assert exc.errno in (errno.ENOTTY, errno.EINVAL), exc
        assert "/dev/" in str(exc)                         # it names the device


@pytest.mark.parametrize("mod,cls,method,params", [pytest.param(*m, id=f"{m[1]}.{m[2]}")
                                                   for m in METHODS])
def test_closed_device(device, mod, cls, method, params):
    dev = device(cls)
    dev.close()
    if method == "close":
        _call(dev, method, VALID[(cls, method)])          # idempotent
        return
    with pytest.raises(ValueError, match="is closed"):
        _call(dev, method, VALID[(cls, method)])


@pytest.mark.parametrize("mod,cls,method,param,value,exc", list(_cases()))
def test_bad_value_is_refused_naming_the_argument(device, mod, cls, method, param, value, exc):
    dev = device(cls)
    kwargs = dict(VALID[(cls, method)])
    kwargs[param] = value
    with pytest.raises(exc) as info:
        _call(dev, method, kwargs)
    assert not isinstance(info.value, OSError), info.value     # refused before the kernel
    name = MESSAGE_NAME.get(param, param)
    assert name in str(info.value), f"{info.value!r} does not name {param!r}"


@pytest.mark.parametrize("cls,path", [(gpio.Chip, "/dev/gpiochip99"),
                                      (i2c.I2CBus, "/dev/i2c-99"),
                                      (spi.SPIDevice, "/dev/spidev9.9"),
                                      (uart.Serial, "/dev/ttyKILN9"),
                                      (watchdog.Watchdog, "/dev/watchdog99")])
def test_constructors(cls, path):
    with pytest.raises(FileNotFoundError, match=path):
        cls(path)
    with pytest.raises(TypeError, match="'path' must be a str"):
        cls(5)
    with pytest.raises(ValueError, match="'path' must be a device path"):
        cls("")
    with pytest.raises(OSError) as info:
        cls("/dev/null")                 # not that kind of device: the first ioctl says so
    assert info.value.errno == errno.ENOTTY and "/dev/null" in str(info.value)


def test_no_fd_leak_over_10000_failed_and_closed_opens():
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(10000):
        try:
            gpio.Chip("/dev/null")
        except OSError:
            pass
        _on_file(i2c.I2CBus, "/dev/null").close()
    assert len(os.listdir("/proc/self/fd")) == before
