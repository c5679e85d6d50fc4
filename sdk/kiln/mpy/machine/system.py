"""The functions of ``machine`` (docs/library/machine.rst) and their Linux meaning."""
import errno
import os
import sys
import time

from kiln.hw import edges

PWRON_RESET, HARD_RESET, WDT_RESET, DEEPSLEEP_RESET, SOFT_RESET = 1, 2, 3, 4, 5


def reset():
    """Reboot the board now (``sync``, then ``reboot(2)``; like a reset button).  Needs root."""
    os.sync()
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.reboot(0x01234567)              # RB_AUTOBOOT
        err = ctypes.get_errno()
    except (ImportError, OSError, AttributeError):
        err = 0
    try:
        with open("/proc/sysrq-trigger", "w") as f:
            f.write("b")
    except OSError:
        pass
    raise OSError(err or errno.EPERM, "machine.reset(): the kernel refused to reboot "
                                      "(not root?)")


def soft_reset():
    """Restart the program from the beginning in a fresh interpreter (``execv`` of the same
    command line), as MicroPython's soft reset restarts ``main.py``."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, list(sys.orig_argv))


def reset_cause():
    """Linux does not tell user space why it started: always ``PWRON_RESET``."""
    return PWRON_RESET


def bootloader(value=None):
    raise OSError(errno.EOPNOTSUPP, "machine.bootloader(): a Linux board boots from its SD "
                                    "card or firmware; there is no bootloader mode")


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def unique_id():
    """The board's serial as bytes: the device tree's ``serial-number`` (a Pi's 64-bit
    serial, 8 bytes), else ``/etc/machine-id`` (16 bytes)."""
    root = os.environ.get("KILN_SYSROOT", "/")
    for rel in ("proc/device-tree/serial-number", "sys/firmware/devicetree/base/serial-number"):
        raw = _read(os.path.join(root, rel))
        if raw:
            text = raw.rstrip(b"\0").strip().decode("ascii", "replace")
            try:
                return bytes.fromhex(text if len(text) % 2 == 0 else "0" + text)
            except ValueError:
                return text.encode()
    raw = _read(os.path.join(root, "etc/machine-id"))
    if raw:
        return bytes.fromhex(raw.strip().decode())
    raise OSError(errno.ENOENT, "machine.unique_id(): no serial-number in the device tree and "
                                "no /etc/machine-id")


def freq(hz=None):
    """The CPU clock in Hz (cpufreq's current frequency; where the kernel has no cpufreq, the
    device tree's ``clock-frequency`` of cpu0, else 0).  Setting it is the cpufreq governor's
    job: ValueError."""
    if hz is not None:
        raise ValueError("machine.freq(hz): the kernel's cpufreq governor sets the CPU clock "
                         "on Linux")
    raw = _read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq")
    if raw:
        return int(raw) * 1000
    for rel in ("/proc/device-tree/cpus/cpu@0/clock-frequency",):
        raw = _read(rel)
        if raw and len(raw) in (4, 8):
            return int.from_bytes(raw, "big")
    return 0


def idle():
    """Give the CPU away until the next timer tick or event (sleeps about 1 ms)."""
    time.sleep(0.001)


def lightsleep(time_ms=None):
    """Sleep ``time_ms`` ms (forever when None); pin interrupts still run meanwhile.  Linux
    keeps the board's own power management: nothing else is switched off."""
    if time_ms is None:
        while True:
            time.sleep(3600)
    time.sleep(time_ms / 1000)


def disable_irq():
    """Hold off pin interrupt handlers (the edge thread) until :func:`enable_irq`; returns the
    state to pass to it.  Nests."""
    edges._lock.acquire()
    return True


def enable_irq(state=True):
    """Undo one :func:`disable_irq`."""
    if state:
        edges._lock.release()


def time_pulse_us(pin, pulse_level, timeout_us=1000000):
    """Length in µs of the next pulse at ``pulse_level`` on ``pin`` (an input), measured from
    the kernel's edge timestamps.  -2 when no pulse starts within ``timeout_us``, -1 when it
    does not end within it.  If the pin is already at ``pulse_level`` the pulse counts from
    now."""
    from kiln.hw.gpio import Chip  # noqa: F401  (pinctl owns the line)
    line = pin._line
    level = 1 if pulse_level else 0
    line.configure("input", edge="both")
    req = line.request
    try:
        start = None
        if line.get() == level:
            start = time.monotonic_ns()
        deadline = time.monotonic_ns() + timeout_us * 1000
        while True:
            left = (deadline - time.monotonic_ns()) / 1e9
            if left <= 0:
                return -2 if start is None else -1
            try:
                events = req.read_edge_events(timeout=left)
            except TimeoutError:
                return -2 if start is None else -1
            for ev in events:
                if start is None and ev.rising == bool(level):
                    start = ev.timestamp_ns
                    deadline = start + timeout_us * 1000
                elif start is not None and ev.rising != bool(level):
                    return (ev.timestamp_ns - start) // 1000
    finally:
        line.configure("input", edge="none")
