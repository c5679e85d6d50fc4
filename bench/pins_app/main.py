"""Guest side of bench/pins_bench.py: Kiln's pin and bus faces against the libraries Linux
users reach for, on the same emulated board in one run -- libgpiod v2's Python bindings
(PyPI ``gpiod``), ``smbus2`` and ``spidev`` (PyPI), cross-built into ``lib/`` by the host.

Prints ``BENCH <what> <library> <ops> <seconds>`` lines, then ``BENCH done``.  Which parts run
comes from the kernel argument ``kiln.bench=gpio,i2c,spi,edge``; ``kiln.bench_n`` operations each.
"""
import time


def report(what, library, ops, seconds):
    print("BENCH %s %s %d %.6f" % (what, library, ops, seconds), flush=True)


def timed(fn, n):
    t0 = time.perf_counter()
    fn(n)
    return time.perf_counter() - t0


def bench_gpio(n, chip_path, offset, name):
    from machine import Pin
    pin = Pin(name, Pin.OUT)

    def kiln(n):
        v = pin.value
        for _ in range(n):
            v(1)
            v(0)
    report("gpio_toggle", "kiln", 2 * n, timed(kiln, n))
    # gpiod gets the next line (Kiln keeps its line requested while the program runs).
    offset += 1
    import gpiod
    from gpiod.line import Direction, Value
    with gpiod.request_lines(chip_path, consumer="bench",
                             config={offset: gpiod.LineSettings(direction=Direction.OUTPUT)}) as req:
        def lib(n):
            s = req.set_value
            for _ in range(n):
                s(offset, Value.ACTIVE)
                s(offset, Value.INACTIVE)
        report("gpio_toggle", "gpiod", 2 * n, timed(lib, n))


def bench_i2c(n, bus, addr):
    from machine import I2C
    i2c = I2C(bus)

    def kiln(n):
        r = i2c.readfrom_mem
        for _ in range(n):
            r(addr, 0, 2)
    report("i2c_read_reg2", "kiln", n, timed(kiln, n))
    from smbus2 import SMBus
    with SMBus(bus) as sm:
        def lib(n):
            r = sm.read_i2c_block_data
            for _ in range(n):
                r(addr, 0, 2)
        report("i2c_read_reg2", "smbus2", n, timed(lib, n))


def bench_spi(n, bus, cs):
    from machine import SPI
    spi = SPI(bus, baudrate=10000000)
    tx = bytes([0x9F]) + bytes(6)
    rx = bytearray(7)

    def kiln(n):
        x = spi.write_readinto
        for _ in range(n):
            x(tx, rx)
    report("spi_xfer7", "kiln", n, timed(kiln, n))
    assert rx[1:4] == b"\x20\xba\x18", rx
    spi.deinit()
    import spidev
    dev = spidev.SpiDev()
    dev.open(bus, cs)
    dev.max_speed_hz = 10000000
    txl = list(tx)

    def lib(n):
        x = dev.xfer2
        for _ in range(n):
            x(txl)
    report("spi_xfer7", "spidev", n, timed(lib, n))
    dev.close()


def bench_edge(n, chip_path, offset):
    """Latency from the kernel's timestamp of a rising edge (CLOCK_MONOTONIC) to the program
    holding the event, ``n`` presses of the board's button each: Kiln's binding
    (``kiln.hw.gpio``, what ``Pin.irq``/``gpio.on_rise`` sit on) and gpiod.  The host presses
    the button when it sees ``BENCH press``."""
    from kiln.hw import gpio as kgpio
    chip = kgpio.Chip(chip_path)
    req = chip.request([offset], "bench", edge="rising")
    lat = []
    for i in range(n):
        print("BENCH press kiln %d" % i, flush=True)
        events = req.read_edge_events(timeout=30)
        now = time.monotonic_ns()
        lat.append(now - events[0].timestamp_ns)
    req.close()
    chip.close()
    print("BENCH edge_latency_us kiln %s" % ",".join("%d" % (t // 1000) for t in lat), flush=True)
    import gpiod
    from gpiod.line import Edge
    with gpiod.request_lines(chip_path, consumer="bench", config={
            offset: gpiod.LineSettings(edge_detection=Edge.RISING)}) as greq:
        lat = []
        for i in range(n):
            print("BENCH press gpiod %d" % i, flush=True)
            greq.wait_edge_events(30)
            events = greq.read_edge_events()
            now = time.monotonic_ns()
            lat.append(now - events[0].timestamp_ns)
    print("BENCH edge_latency_us gpiod %s" % ",".join("%d" % (t // 1000) for t in lat),
          flush=True)


def main():
    args = dict(a.split("=", 1) for a in open("/proc/cmdline").read().split() if "=" in a)
    parts = args.get("kiln.bench", "").split(",")
    n = int(args.get("kiln.bench_n", "2000"))
    chip, offset, name = args.get("kiln.bench_gpio", "/dev/gpiochip0:17:D17").split(":")
    if "gpio" in parts:
        bench_gpio(n, chip, int(offset), name)
    if "i2c" in parts:
        bench_i2c(n, 1, 0x48)
    if "spi" in parts:
        bench_spi(n, 0, 0)
    if "edge" in parts:
        bench_edge(int(args.get("kiln.bench_presses", "20")), chip, int(offset))
    print("BENCH done", flush=True)


main()
