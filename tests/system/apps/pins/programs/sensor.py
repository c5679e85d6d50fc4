# A MicroPython sensor program: a TMP105 (TMP102/LM75 family) temperature sensor on I2C.
from machine import I2C
import time

ADDRESS = 0x48

i2c = I2C(1)
print("devices:", [hex(a) for a in i2c.scan()])
i2c.writeto_mem(ADDRESS, 1, b"\x60")          # 12-bit conversions


def temperature():
    raw = i2c.readfrom_mem(ADDRESS, 0, 2)
    value = (raw[0] << 8 | raw[1]) >> 4
    if value & 0x800:
        value -= 0x1000
    return value * 0.0625


while True:
    print("temperature: %.4f C" % temperature())
    time.sleep(1)
