"""machine.I2C(1) (the header bus, BCM i2c1) against QEMU's TMP105 at 0x48 and 24C02-style
EEPROM at 0x50: scan, the sensor's configuration register written and read back by every
call style, and its temperature register while the host sets the temperature (QMP qom-set)."""
import os
import time

from machine import I2C

TIMEOUT = 90
SENSOR, EEPROM = 0x48, 0x50


def celsius(raw):
    value = (raw[0] << 8 | raw[1]) >> 4
    return (value - 0x1000 if value & 0x800 else value) * 0.0625


def run(ctx):
    i2c = I2C(1)
    found = i2c.scan()
    # Configuration register (pointer 1): 12-bit resolution (R1 R0 = 11), read back three ways.
    i2c.writeto_mem(SENSOR, 1, b"\x60")
    config = i2c.readfrom_mem(SENSOR, 1, 1)
    i2c.writeto(SENSOR, b"\x01")                    # pointer only, then a plain read
    plain = i2c.readfrom(SENSOR, 1)
    buf = bytearray(1)
    i2c.readfrom_mem_into(SENSOR, 1, buf)
    # The temperature the host sets.
    ctx.event("set_temperature")
    deadline = time.ticks_add(time.ticks_ms(), 30000)
    temperature = celsius(i2c.readfrom_mem(SENSOR, 0, 2))
    first = temperature
    while temperature == first and time.ticks_diff(deadline, time.ticks_ms()) > 0:
        time.sleep_ms(100)
        temperature = celsius(i2c.readfrom_mem(SENSOR, 0, 2))
    # EEPROM: random bytes written at a word address, read back; writevto's buffers joined.
    data = os.urandom(8)
    i2c.writeto_mem(EEPROM, 0x20, data)
    time.sleep_ms(10)
    back = i2c.readfrom_mem(EEPROM, 0x20, 8)
    more = os.urandom(4)
    i2c.writevto(EEPROM, (b"\x40", more))
    time.sleep_ms(10)
    into = bytearray(4)
    i2c.writeto(EEPROM, b"\x40", False)             # repeated start: no stop in between
    i2c.readfrom_into(EEPROM, into)
    missing = None
    try:
        i2c.readfrom(0x33, 1)
    except OSError as exc:
        missing = exc.args[0]
    return {"scan": ",".join("0x%02x" % a for a in found), "config": config.hex(),
            "plain": plain.hex(), "into": buf.hex(), "temperature": "%.4f" % temperature,
            "eeprom_ok": back == data, "writevto_ok": bytes(into) == more,
            "missing_errno": missing}
