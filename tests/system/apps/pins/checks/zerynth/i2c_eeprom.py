"""Zerynth's i2c.I2c on I2C0 (BCM i2c1) against QEMU's EEPROM at 0x50 and TMP105 at 0x48:
write then write_read back, read, and the module's scan."""
import os

import i2c


def run(ctx):
    eeprom = i2c.I2c(0x50, I2C0)
    data = os.urandom(8)
    eeprom.write(bytes([0x60]) + data)
    sleep(10)
    back = eeprom.write_read(bytes([0x60]), 8)
    eeprom.write(bytes([0x60]))
    plain = eeprom.read(8)
    sensor = i2c.I2c(0x48, I2C0)
    sensor.write(bytes([1, 0x20]))
    config = sensor.write_read(bytes([1]), 1)
    found = i2c.scan(I2C0)
    return {"back_ok": bytes(back) == data, "read_ok": bytes(plain) == data,
            "config": bytes(config).hex(), "scan": ",".join("0x%02x" % a for a in found)}
