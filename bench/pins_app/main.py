"""Guest side of bench/pins_bench.py: Kiln's pin and bus faces against the libraries Linux
users reach for, on the same emulated board in one run -- libgpiod v2's Python bindings
(PyPI ``gpiod``), ``smbus2`` and ``spidev`` (PyPI), cross-built into ``lib/`` by the host.

Prints ``BENCH <what> <library> <ops> <seconds>`` lines, then ``BENCH done``.  Which parts run
comes from the kernel argument ``kiln.bench=gpio,i2c,spi,edge``; ``kiln.bench_n`` operations each.
"""
import time

ROUNDS = 3          # each library's operations run in alternating rounds (order effects)
I2C_ROUNDS = 15


def report(what, library, ops, seconds):
    print("BENCH %s %s %d %.6f" % (what, library, ops, seconds), flush=True)


def timed(fn, n):
    t0 = time.perf_counter()
    fn(n)
    return time.perf_counter() - t0


def bench_gpio(n, chip_path, offset, name):
    from machine import Pin
    import gpiod
    from gpiod.line import Direction, Value
    pin = Pin(name, Pin.OUT)
    # gpiod gets the next line (Kiln keeps its line requested while the program runs).
    other = offset + 1
    req = gpiod.request_lines(chip_path, consumer="bench",
                              config={other: gpiod.LineSettings(direction=Direction.OUTPUT)})

    def kiln(n):
        v = pin.value
        for _ in range(n):
            v(1)
            v(0)

    def lib(n):
        s = req.set_value
        for _ in range(n):
            s(other, Value.ACTIVE)
            s(other, Value.INACTIVE)
    for _ in range(ROUNDS):
        report("gpio_toggle", "kiln", 2 * n, timed(kiln, n))
        report("gpio_toggle", "gpiod", 2 * n, timed(lib, n))
    req.release()


def bench_i2c(n, bus, addr):
    from machine import I2C
    from smbus2 import SMBus
    i2c = I2C(bus)
    sm = SMBus(bus)

    def kiln(n):
        r = i2c.readfrom_mem
        for _ in range(n):
            r(addr, 0, 2)

    def lib(n):
        r = sm.read_i2c_block_data
        for _ in range(n):
            r(addr, 0, 2)
    # An I2C transaction waits for the controller's interrupt on one of 4 vCPUs sharing the
    # host's cores: its rate swings 2-3x over seconds under TCG, so short rounds alternate
    # (I2C_ROUNDS of n / 5 each) and the host reports each library's median.
    part = max(1, n // 5)
    for _ in range(I2C_ROUNDS):
        report("i2c_read_reg2", "kiln", part, timed(kiln, part))
        report("i2c_read_reg2", "smbus2", part, timed(lib, part))
    sm.close()


def bench_spi(n, bus, cs):
    """7-byte full-duplex transfers (the flash's JEDEC ID): machine.SPI, the binding under it
    (kiln.hw.spi, the face's cost shows as the difference) and spidev, in ROUNDS alternating
    rounds on devices open at the same time."""
    from machine import SPI
    from kiln.hw.spi import SPIDevice
    import spidev
    spi = SPI(bus, baudrate=10000000)
    raw = SPIDevice("/dev/spidev%d.%d" % (bus, cs), 0, 8, 10000000)
    dev = spidev.SpiDev()
    dev.open(bus, cs)
    dev.max_speed_hz = 10000000
    tx = bytes([0x9F]) + bytes(6)
    rx = bytearray(7)

    def kiln(n):
        x = spi.write_readinto
        for _ in range(n):
            x(tx, rx)

    def binding(n):
        x = raw.transfer
        for _ in range(n):
            x(tx, rx)

    def lib(n):
        # xfer2 writes what it received into the list it was given: a new list per call
        # (as spidev's users write it), or the next command would be the last answer.
        x = dev.xfer2
        for _ in range(n):
            x([0x9F, 0, 0, 0, 0, 0, 0])
    for _ in range(ROUNDS):
        report("spi_xfer7", "kiln", n, timed(kiln, n))
        assert rx[1:4] == b"\x20\xba\x18", rx
        report("spi_xfer7", "kiln.hw", n, timed(binding, n))
        report("spi_xfer7", "spidev", n, timed(lib, n))
    got = dev.xfer2(list(tx))
    assert got[1:4] == [0x20, 0xba, 0x18], got
    spi.deinit()
    raw.close()
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
