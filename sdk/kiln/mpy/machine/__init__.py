"""MicroPython's ``machine`` module on Linux (``import machine`` under ``--api micropython``).

Every class is a face over ``kiln.hw`` (the kernel's GPIO character device, i2c-dev, spidev,
termios, the PWM class, /dev/watchdog); ids and pin names come from the board file
(docs/pins.md).  What Linux cannot do is refused with an exception that says so.
"""
from kiln.mpy.machine.pin import Pin, Signal  # noqa: F401
from kiln.mpy.machine.i2c import I2C, SoftI2C  # noqa: F401
from kiln.mpy.machine.spi import SPI, SoftSPI  # noqa: F401
from kiln.mpy.machine.uart import UART  # noqa: F401
from kiln.mpy.machine.pwm import PWM  # noqa: F401
from kiln.mpy.machine.wdt import WDT  # noqa: F401
from kiln.mpy.machine.rtc import RTC  # noqa: F401
from kiln.mpy.machine.system import (  # noqa: F401
    reset, soft_reset, unique_id, freq, idle, lightsleep, disable_irq, enable_irq,
    time_pulse_us, reset_cause, bootloader, PWRON_RESET, HARD_RESET, WDT_RESET,
    DEEPSLEEP_RESET, SOFT_RESET)
