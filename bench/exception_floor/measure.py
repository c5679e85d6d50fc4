#!/usr/bin/env python3
"""How many instructions does raising + catching EAGAIN's OSError cost, Kiln's code aside?

Builds ``floor.pyx`` (Cython, into bench/results/exception_floor/) and counts, with callgrind,
the user-space instructions per iteration of the benchmark's own EAGAIN loop
(``try: f(64) except OSError: pass``) for each way of raising in ``floor.pyx``, by differencing a
short and a long run.  This is the floor under measurement (c) of bench/socket_bench.py.

Usage: .venv/bin/python bench/exception_floor/measure.py     (needs valgrind; ~1 minute)
"""
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BUILD = HERE.parent / "results" / "exception_floor"
WAYS = ("none_returned", "cython_oserror", "cython_prebuilt", "c_oserror")
LOOP = """
import sys
sys.path.insert(0, {build!r})
import floor
f = getattr(floor, sys.argv[1])
def batches(batch):
    while True:
        for _ in range(batch):
            try:
                f(64)
            except OSError:
                pass
        yield batch
g = batches(256)
for _ in range(int(sys.argv[2]) // 256):
    next(g)
"""


def build(python):
    """Cythonize and compile floor.pyx into BUILD (blocks; raises CalledProcessError on failure)."""
    BUILD.mkdir(parents=True, exist_ok=True)
    shutil.copy(HERE / "floor.pyx", BUILD / "floor.pyx")
    subprocess.run([python, "-m", "cython", "floor.pyx"], cwd=BUILD, check=True)
    include = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['include'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    suffix = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_config_var('EXT_SUFFIX'))"],
                            capture_output=True, text=True, check=True).stdout.strip()
    subprocess.run(["gcc", "-O2", "-fPIC", "-shared", f"-I{include}", "floor.c", "-o", f"floor{suffix}"],
                   cwd=BUILD, check=True)
    (BUILD / "loop.py").write_text(LOOP.format(build=str(BUILD)))


def instructions(python, way, iterations):
    """Total user-space instructions of one loop run under callgrind."""
    done = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                           python, str(BUILD / "loop.py"), way, str(iterations)],
                          capture_output=True, text=True, check=True)
    return int(re.search(r"Collected : (\d+)", done.stderr).group(1))


def main():
    """Print instructions per loop iteration for every way of raising."""
    if shutil.which("valgrind") is None:
        sys.exit("exception_floor: valgrind not found; apt-get install valgrind")
    python = sys.executable
    build(python)
    short, long = 25_600, 128_000
    for way in WAYS:
        per = (instructions(python, way, long) - instructions(python, way, short)) / (long - short)
        print(f"{way:<16} {per:8,.0f} instructions per loop iteration")


if __name__ == "__main__":
    main()
