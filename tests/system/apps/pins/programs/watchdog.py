# A MicroPython program with a watchdog: fed while all is well, then it hangs.
from machine import WDT
import time

wdt = WDT(timeout=2000)
for i in range(5):
    wdt.feed()
    print("fed", i)
    time.sleep_ms(500)
print("stopped feeding")
while True:                         # hung: the watchdog resets the board
    time.sleep(1)
    print("still running")
