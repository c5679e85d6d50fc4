"""Guest side of the SD-card board tests (tests/system/test_sdcard_boards.py): the first line
first, then the board summary from the live device tree, the lease the launcher got, and what
the root filesystem is.  Exits 0; any failure raises (non-zero status, traceback on the console).
"""
print("SDCARD first line")

from bsp import board  # noqa: E402
from networking import eth  # noqa: E402

board.summary()
print("SDCARD eth", eth.info())
with open("/proc/mounts") as f:
    for line in f:
        if " / " in line or "/mnt/root-ro " in line:
            print("SDCARD mount", line.strip())
