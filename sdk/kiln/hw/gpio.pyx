"""GPIO over the kernel's character device, uAPI v2 (``/dev/gpiochipN``, linux/gpio.h).

A :class:`Chip` is one GPIO controller; :meth:`Chip.request` asks the kernel for lines
(``GPIO_V2_GET_LINE_IOCTL``) with direction, bias, drive, active-low, debounce and edge
detection, and returns a :class:`LineRequest`, which owns them until closed: values by
``GPIO_V2_LINE_GET/SET_VALUES_IOCTL``, new settings by ``GPIO_V2_LINE_SET_CONFIG_IOCTL`` (the
lines are not released in between, so no other program can take them), edge events read from
the request's fd.  While a request is open the kernel shows its consumer name and settings in
every line info (``gpioinfo``).  Closing the request releases the lines; an output keeps the
level it had (the kernel does not reset it).

Values are logical: with ``active_low`` 1 means the line is low.
"""
from libc.string cimport memset, strncpy
from libc.stdint cimport uint32_t, uint64_t, int64_t

from kiln.hw.linux cimport *
from kiln.hw.fdio cimport Device, open_device, xioctl
from kiln.net.errors cimport raise_errno_msg
from kiln.net.wait cimport wait_ready, deadline_after
from kiln.net.args cimport timeout_arg
from kiln.net.libc cimport errno, EINTR, EAGAIN, POLLIN
from cpython.exc cimport PyErr_CheckSignals

from collections import namedtuple

#: One edge: ``offset`` (line), ``rising`` (True for a rising edge of the logical value),
#: ``timestamp_ns`` (CLOCK_MONOTONIC), ``seqno`` (per request), ``line_seqno`` (per line).
EdgeEvent = namedtuple("EdgeEvent", "offset rising timestamp_ns seqno line_seqno")
#: What the kernel reports for a line (``GPIO_V2_GET_LINEINFO_IOCTL``).
LineInfo = namedtuple("LineInfo", "offset name consumer used direction active_low bias drive "
                                  "edge debounce_us")

DIRECTIONS = ("input", "output")
BIASES = ("as-is", "disabled", "pull-up", "pull-down")
DRIVES = ("push-pull", "open-drain", "open-source")
EDGES = ("none", "rising", "falling", "both")
#: Most lines one request holds (GPIO_V2_LINES_MAX).
MAX_LINES = GPIO_V2_LINES_MAX
cdef int EVENT_BATCH = 16


cdef str _cstr(const char *s):
    return (<bytes>s).decode("utf-8", "replace")


cdef str _choice(object value, tuple allowed, str func, str name):
    if not isinstance(value, str):
        raise TypeError(f"{func}() argument '{name}' must be a str, one of {allowed}, "
                        f"not {type(value).__name__}")
    if value not in allowed:
        raise ValueError(f"{func}() argument '{name}' must be one of {allowed}, got {value!r}")
    return value


cdef uint64_t _flags(str func, object direction, object bias, object drive, object active_low,
                     object edge) except? 0xffffffffffffffff:
    cdef uint64_t f = 0
    d = _choice(direction, DIRECTIONS, func, "direction")
    b = _choice(bias, BIASES, func, "bias")
    dr = _choice(drive, DRIVES, func, "drive")
    e = _choice(edge, EDGES, func, "edge")
    if not isinstance(active_low, (bool, int)):
        raise TypeError(f"{func}() argument 'active_low' must be a bool, not "
                        f"{type(active_low).__name__}")
    f |= GPIO_V2_LINE_FLAG_INPUT if d == "input" else GPIO_V2_LINE_FLAG_OUTPUT
    if b == "disabled":
        f |= GPIO_V2_LINE_FLAG_BIAS_DISABLED
    elif b == "pull-up":
        f |= GPIO_V2_LINE_FLAG_BIAS_PULL_UP
    elif b == "pull-down":
        f |= GPIO_V2_LINE_FLAG_BIAS_PULL_DOWN
    if dr != "push-pull":
        if d != "output":
            raise ValueError(f"{func}(): drive={dr!r} needs direction='output'")
        f |= GPIO_V2_LINE_FLAG_OPEN_DRAIN if dr == "open-drain" else GPIO_V2_LINE_FLAG_OPEN_SOURCE
    if e != "none":
        if d != "input":
            raise ValueError(f"{func}(): edge={e!r} needs direction='input' (the kernel "
                             f"detects edges on inputs only)")
        if e in ("rising", "both"):
            f |= GPIO_V2_LINE_FLAG_EDGE_RISING
        if e in ("falling", "both"):
            f |= GPIO_V2_LINE_FLAG_EDGE_FALLING
    if active_low:
        f |= GPIO_V2_LINE_FLAG_ACTIVE_LOW
    return f


cdef int _debounce(object value, str func) except -1:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{func}() argument 'debounce_us' must be an int (microseconds), not "
                        f"{type(value).__name__}")
    if not 0 <= value <= 0xFFFFFFFF:
        raise ValueError(f"{func}() argument 'debounce_us' must be in 0..4294967295 "
                         f"(microseconds), got {value}")
    return 0


cdef int _fill_config(gpio_v2_line_config *cfg, uint64_t flags, uint32_t n, object values,
                      uint32_t debounce, str func) except -1:
    """Flags for every line, output values when given, debounce when non-zero."""
    cdef uint64_t bits = 0, mask
    cdef uint32_t i
    cdef int a = 0
    memset(cfg, 0, sizeof(gpio_v2_line_config))
    cfg.flags = flags
    mask = (<uint64_t>1 << n) - 1 if n < 64 else <uint64_t>0xFFFFFFFFFFFFFFFF
    if values is not None:
        seq = list(values) if not isinstance(values, (str, bytes)) else None
        if seq is None or len(seq) != n:
            raise ValueError(f"{func}() argument 'values' must be a sequence of {n} values "
                             f"(one per line), got {values!r}")
        for i in range(n):
            v = seq[i]
            if isinstance(v, bool) or (isinstance(v, int) and v in (0, 1)):
                if v:
                    bits |= <uint64_t>1 << i
            else:
                raise ValueError(f"{func}() argument 'values' must hold 0/1 or bools, got {v!r}")
        cfg.attrs[a].attr.id = GPIO_V2_LINE_ATTR_ID_OUTPUT_VALUES
        cfg.attrs[a].attr.values = bits
        cfg.attrs[a].mask = mask
        a += 1
    if debounce:
        cfg.attrs[a].attr.id = GPIO_V2_LINE_ATTR_ID_DEBOUNCE
        cfg.attrs[a].attr.debounce_period_us = debounce
        cfg.attrs[a].mask = mask
        a += 1
    cfg.num_attrs = a
    return 0


cdef class Chip(Device):
    """A GPIO controller, ``/dev/gpiochipN`` (opened read-write, close-on-exec).

    ``Chip(path)`` raises FileNotFoundError/PermissionError naming the path, OSError(ENOTTY)
    when it is not a GPIO chip."""

    cdef readonly str name
    cdef readonly str label
    cdef readonly int lines

    def __init__(self, path):
        cdef gpiochip_info info
        self.fd = open_device(path, O_RDWR, "Chip")
        self.path = str(path)
        try:
            memset(&info, 0, sizeof(info))
            self.ioctl(GPIO_GET_CHIPINFO_IOCTL, &info, "Chip")
        except BaseException:
            self._close()
            raise
        self.name = _cstr(info.name)
        self.label = _cstr(info.label)
        self.lines = info.lines

    cdef int _offset(self, object offset, str func, str name) except -1:
        if isinstance(offset, bool) or not isinstance(offset, int):
            raise TypeError(f"{func}() argument '{name}' must be an int (a line of "
                            f"{self.path}), not {type(offset).__name__}")
        if not 0 <= offset < self.lines:
            raise ValueError(f"{func}() argument '{name}' must be a line of {self.path} "
                             f"({self.label}: 0..{self.lines - 1}), got {offset}")
        return offset

    def line_info(self, offset):
        """The kernel's view of line ``offset``: :data:`LineInfo` (name, consumer, whether it is
        requested, direction, active_low, bias, drive, edge, debounce in µs).  Never blocks."""
        cdef gpio_v2_line_info info
        cdef uint64_t f
        cdef uint32_t i, debounce = 0
        memset(&info, 0, sizeof(info))
        info.offset = self._offset(offset, "line_info", "offset")
        self.ioctl(GPIO_V2_GET_LINEINFO_IOCTL, &info, "line_info")
        f = info.flags
        for i in range(info.num_attrs):
            if info.attrs[i].id == GPIO_V2_LINE_ATTR_ID_DEBOUNCE:
                debounce = info.attrs[i].debounce_period_us
        bias = ("pull-up" if f & GPIO_V2_LINE_FLAG_BIAS_PULL_UP else
                "pull-down" if f & GPIO_V2_LINE_FLAG_BIAS_PULL_DOWN else
                "disabled" if f & GPIO_V2_LINE_FLAG_BIAS_DISABLED else "as-is")
        drive = ("open-drain" if f & GPIO_V2_LINE_FLAG_OPEN_DRAIN else
                 "open-source" if f & GPIO_V2_LINE_FLAG_OPEN_SOURCE else "push-pull")
        rising = bool(f & GPIO_V2_LINE_FLAG_EDGE_RISING)
        falling = bool(f & GPIO_V2_LINE_FLAG_EDGE_FALLING)
        edge = "both" if rising and falling else "rising" if rising else \
            "falling" if falling else "none"
        return LineInfo(info.offset, _cstr(info.name), _cstr(info.consumer),
                        bool(f & GPIO_V2_LINE_FLAG_USED),
                        "output" if f & GPIO_V2_LINE_FLAG_OUTPUT else "input",
                        bool(f & GPIO_V2_LINE_FLAG_ACTIVE_LOW), bias, drive, edge, debounce)

    def request(self, offsets, consumer="kiln", *, direction="input", bias="as-is",
                drive="push-pull", active_low=False, edge="none", debounce_us=0, values=None,
                event_buffer_size=0):
        """Request lines ``offsets`` (a sequence of ints; at most :data:`MAX_LINES`) for
        ``consumer`` with one configuration; return a :class:`LineRequest`.

        ``direction`` "input"/"output"; ``bias`` "as-is"/"disabled"/"pull-up"/"pull-down";
        ``drive`` "push-pull"/"open-drain"/"open-source" (outputs); ``edge``
        "none"/"rising"/"falling"/"both" (inputs: events are queued on the request's fd);
        ``debounce_us`` in µs (0: none; the kernel debounces in software where the controller
        cannot); ``values``: initial output values, one per line.  Never blocks.  OSError
        EBUSY when another consumer holds a line, EINVAL/ENOTSUPP when the controller cannot
        do a setting."""
        cdef gpio_v2_line_request req
        cdef uint32_t i, n
        cdef uint64_t flags
        if isinstance(offsets, (str, bytes)) or not hasattr(offsets, "__len__"):
            raise TypeError(f"request() argument 'offsets' must be a sequence of ints, not "
                            f"{type(offsets).__name__}")
        offs = list(offsets)
        if not 0 < len(offs) <= GPIO_V2_LINES_MAX:
            raise ValueError(f"request() argument 'offsets' must hold 1..{GPIO_V2_LINES_MAX} "
                             f"lines, got {len(offs)}")
        if len(set(offs)) != len(offs):
            raise ValueError(f"request() argument 'offsets' names a line twice: {offs}")
        if not isinstance(consumer, str):
            raise TypeError(f"request() argument 'consumer' must be a str, not "
                            f"{type(consumer).__name__}")
        bconsumer = consumer.encode()
        if len(bconsumer) >= GPIO_MAX_NAME_SIZE or b"\0" in bconsumer:
            raise ValueError(f"request() argument 'consumer' must be at most "
                             f"{GPIO_MAX_NAME_SIZE - 1} bytes without NUL, got {consumer!r}")
        flags = _flags("request", direction, bias, drive, active_low, edge)
        _debounce(debounce_us, "request")
        if values is not None and direction != "output":
            raise ValueError("request(): 'values' needs direction='output'")
        if isinstance(event_buffer_size, bool) or not isinstance(event_buffer_size, int) or \
                not 0 <= event_buffer_size <= 1024:
            raise ValueError(f"request() argument 'event_buffer_size' must be an int in "
                             f"0..1024, got {event_buffer_size!r}")
        n = len(offs)
        memset(&req, 0, sizeof(req))
        for i in range(n):
            req.offsets[i] = self._offset(offs[i], "request", "offsets")
        strncpy(req.consumer, bconsumer, GPIO_MAX_NAME_SIZE - 1)
        _fill_config(&req.config, flags, n, values, debounce_us, "request")
        req.num_lines = n
        req.event_buffer_size = event_buffer_size
        self.ioctl(GPIO_V2_GET_LINE_IOCTL, &req, "request")
        lr = LineRequest.__new__(LineRequest)
        (<LineRequest>lr)._init(req.fd, f"{self.path} lines {offs}", tuple(offs), self.path,
                                flags)
        return lr


cdef class LineRequest(Device):
    """Lines held from one :meth:`Chip.request` (closing releases them)."""

    cdef readonly tuple offsets
    cdef readonly str chip
    cdef uint64_t flags

    def __init__(self, *args, **kwargs):
        raise TypeError("LineRequest objects come from Chip.request()")

    cdef _init(self, int fd, str path, tuple offsets, str chip, uint64_t flags):
        self.fd = fd
        self.path = path
        self.offsets = offsets
        self.chip = chip
        self.flags = flags

    cdef int _index(self, object offset, str func) except -1:
        if isinstance(offset, bool) or not isinstance(offset, int):
            raise TypeError(f"{func}() argument 'offset' must be an int (a requested line), "
                            f"not {type(offset).__name__}")
        try:
            return self.offsets.index(offset)
        except ValueError:
            raise ValueError(f"{func}() argument 'offset' must be one of the requested lines "
                             f"{list(self.offsets)}, got {offset!r}") from None

    def get_values(self):
        """Logical values of every requested line, in request order (list of 0/1).  Outputs
        read back the level driven.  Never blocks."""
        cdef gpio_v2_line_values v
        cdef int i, n = len(self.offsets)
        v.bits = 0
        v.mask = (<uint64_t>1 << n) - 1 if n < 64 else <uint64_t>0xFFFFFFFFFFFFFFFF
        self.ioctl(GPIO_V2_LINE_GET_VALUES_IOCTL, &v, "get_values")
        return [int((v.bits >> i) & 1) for i in range(n)]

    def get_value(self, offset):
        """Logical value (0/1) of requested line ``offset``."""
        cdef gpio_v2_line_values v
        cdef int i = self._index(offset, "get_value")
        v.bits = 0
        v.mask = <uint64_t>1 << i
        self.ioctl(GPIO_V2_LINE_GET_VALUES_IOCTL, &v, "get_value")
        return int((v.bits >> i) & 1)

    def set_value(self, offset, value):
        """Drive requested output line ``offset`` to logical ``value`` (0/1, bool).  OSError
        EPERM when the line is an input."""
        cdef gpio_v2_line_values v
        cdef int i = self._index(offset, "set_value")
        if not (isinstance(value, bool) or (isinstance(value, int) and value in (0, 1))):
            raise ValueError(f"set_value() argument 'value' must be 0, 1 or a bool, got "
                             f"{value!r}")
        v.mask = <uint64_t>1 << i
        v.bits = v.mask if value else 0
        self.ioctl(GPIO_V2_LINE_SET_VALUES_IOCTL, &v, "set_value")

    def set_values(self, values):
        """Drive every requested output line: ``values`` one 0/1 per line, request order."""
        cdef gpio_v2_line_values v
        cdef int i, n = len(self.offsets)
        seq = list(values) if not isinstance(values, (str, bytes)) else None
        if seq is None or len(seq) != n:
            raise ValueError(f"set_values() argument 'values' must be a sequence of {n} "
                             f"values, got {values!r}")
        v.bits = 0
        v.mask = (<uint64_t>1 << n) - 1 if n < 64 else <uint64_t>0xFFFFFFFFFFFFFFFF
        for i in range(n):
            x = seq[i]
            if not (isinstance(x, bool) or (isinstance(x, int) and x in (0, 1))):
                raise ValueError(f"set_values() argument 'values' must hold 0/1, got {x!r}")
            if x:
                v.bits |= <uint64_t>1 << i
        self.ioctl(GPIO_V2_LINE_SET_VALUES_IOCTL, &v, "set_values")

    def reconfigure(self, *, direction="input", bias="as-is", drive="push-pull",
                    active_low=False, edge="none", debounce_us=0, values=None):
        """Change every line's settings in place (``GPIO_V2_LINE_SET_CONFIG_IOCTL``; the lines
        stay held).  Arguments as :meth:`Chip.request`.  Never blocks."""
        cdef gpio_v2_line_config cfg
        cdef uint64_t flags = _flags("reconfigure", direction, bias, drive, active_low, edge)
        _debounce(debounce_us, "reconfigure")
        if values is not None and direction != "output":
            raise ValueError("reconfigure(): 'values' needs direction='output'")
        self.check("reconfigure")
        _fill_config(&cfg, flags, len(self.offsets), values, debounce_us, "reconfigure")
        self.ioctl(GPIO_V2_LINE_SET_CONFIG_IOCTL, &cfg, "reconfigure")
        self.flags = flags

    def read_edge_events(self, timeout=None):
        """Edge events queued on the request (lines requested with ``edge``): a list of
        :data:`EdgeEvent`, oldest first, at most 16 per call.

        ``timeout`` in seconds: None waits until one arrives, 0 returns ``[]`` at once when
        none is queued, else TimeoutError after that long.  Signals: a handler's exception
        propagates, otherwise the wait goes on with the time left.  ValueError when no line
        has edge detection (nothing would ever arrive)."""
        cdef gpio_v2_line_event buf[16]
        cdef int64_t deadline
        cdef ssize_t r
        cdef int err, i
        cdef int64_t t = timeout_arg(timeout, "read_edge_events", "timeout", 1000000000,
                                     "seconds")
        self.check("read_edge_events")
        if not self.flags & (GPIO_V2_LINE_FLAG_EDGE_RISING | GPIO_V2_LINE_FLAG_EDGE_FALLING):
            raise ValueError(f"read_edge_events(): {self.path} was requested without edge "
                             f"detection (edge='none')")
        deadline = deadline_after(t)
        while True:
            if t != 0:
                wait_ready(self.fd, POLLIN, deadline)
            self.check("read_edge_events")
            with nogil:
                r = _read_nonblock(self.fd, buf, sizeof(buf))
                err = errno
            if r >= 0:
                break
            if err == EINTR:
                PyErr_CheckSignals()
                continue
            if err == EAGAIN:
                if t == 0:
                    return []
                continue
            raise_errno_msg(err, f"read_edge_events: {self.path}")
        out = []
        for i in range(r // sizeof(gpio_v2_line_event)):
            out.append(EdgeEvent(buf[i].offset, buf[i].id == GPIO_V2_LINE_EVENT_RISING_EDGE,
                                 buf[i].timestamp_ns, buf[i].seqno, buf[i].line_seqno))
        return out


def _chip_on_file(str path, int lines):
    """For the argument tests: a Chip with ``lines`` lines on any file (``/dev/null``); its
    ioctls fail with ENOTTY, so a call whose arguments pass reaches the kernel and says so."""
    from kiln.hw.fdio import _on_file
    cdef Chip chip = _on_file(Chip, path)
    chip.lines = lines
    chip.label = "test"
    return chip


def _request_on_file(str path, tuple offsets, bint edges):
    """For the argument tests: a LineRequest on any file (see :func:`_chip_on_file`)."""
    from kiln.hw.fdio import _on_file
    cdef LineRequest req = _on_file(LineRequest, path)
    req.offsets = offsets
    req.chip = path
    req.flags = (GPIO_V2_LINE_FLAG_INPUT | GPIO_V2_LINE_FLAG_EDGE_RISING) if edges else 0
    return req


cdef extern from *:
    """
    #include <poll.h>
    #include <unistd.h>
    #include <errno.h>
    /* read() only when the fd has data now: the request fd is blocking, and a read on an empty
       one would block with the GIL released but no deadline. */
    static ssize_t kiln_read_nonblock(int fd, void *buf, size_t n) {
        struct pollfd p = {fd, POLLIN, 0};
        int r = poll(&p, 1, 0);
        if (r < 0) return -1;
        if (r == 0) { errno = EAGAIN; return -1; }
        return read(fd, buf, n);
    }
    """
    ssize_t _read_nonblock "kiln_read_nonblock"(int fd, void *buf, size_t n) nogil
