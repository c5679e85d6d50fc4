# No DHCP server on the link: start() must give up after the configured milliseconds.
import time

from networking import eth
from testargs import arg

timeout_ms = int(arg("timeout_ms", "3000"))
eth.configure(dhcp=True, timeout=timeout_ms)
t0 = time.monotonic()
try:
    eth.start()
    print("DHCPTIMEOUT unexpected lease", eth.info())
except ConnectionTimeoutError as e:
    print("DHCPTIMEOUT raised %s after %.2f s connected=%s"
          % (type(e).__name__, time.monotonic() - t0, eth.is_connected()))
