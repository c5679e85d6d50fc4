"""machine.UART(0) (the PL011, ttyAMA0) against the host at the other end of QEMU's serial
port: a line both ways, a read that times out, the baud rate changed.  ``timeout_char``: how
long to wait between characters once some arrived (MicroPython's meaning; QEMU's PL011 hands
the host's line over in pieces)."""
import os
import time

from machine import UART

TIMEOUT = 120


def run(ctx):
    # A long first timeout: the host answers when it sees the event line on the console.
    uart = UART(0, baudrate=9600, timeout=60000, timeout_char=200)
    token = os.urandom(6).hex()
    uart.write(b"ping " + token.encode() + b"\n")
    ctx.event("ping", token=token)
    t0 = time.ticks_ms()
    line = uart.readline()
    line_ms = time.ticks_diff(time.ticks_ms(), t0)
    # Nothing more is coming: read() gives up after the (new) timeout.
    uart.init(baudrate=115200, timeout=1000, timeout_char=200)
    t0 = time.ticks_ms()
    nothing = uart.read(10)
    waited = time.ticks_diff(time.ticks_ms(), t0)
    uart.write(b"fast\n")
    pending = uart.any()
    uart.deinit()
    return {"line": line.decode().rstrip("\n") if line else repr(line), "token": token,
            "nothing": repr(nothing), "waited_ok": 800 <= waited <= 5000,
            "pending": pending, "line_ms": line_ms}
