"""Pins and buses over the kernel's own device interfaces (Cython; no sysfs GPIO, no GPIO
library): ``gpio`` (character device uAPI v2), ``i2c`` (/dev/i2c-N), ``spi`` (spidev), ``uart``
(termios2), ``watchdog`` (/dev/watchdog), ``pwm`` (the sysfs PWM class), ``edges`` (one thread
delivering every edge event), ``resolve`` (board names to devices).  docs/pins.md.
"""
