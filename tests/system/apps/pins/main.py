"""The pins-and-buses test app (tests/system/test_pins_qemu.py): checks of the pin and bus
faces on emulated hardware, then whole programs as users write them, all in one boot.

1. For each API face (``micropython``, ``zerynth``) the launcher runs ``face.py``: the checks
   of ``checks/<face>/`` (the test copies in only those the board's emulated hardware serves)
   print ``CHECK <face>.<check> ok k=v ...`` / ``FAIL <reason>`` / ``event <what> ...``
   (``harness/``, the program-test app's harness, copied in by the test).
2. The programs named by ``kiln.test_programs=NAME:API:SECONDS:UNTIL,...`` run one after the other
   as a board runs its app (``programs/NAME.py`` or Zerynth's published
   ``examples/NAME/main.py``, unmodified): each line they print goes to the console as
   ``PROGRAM <name> | <line>``; they are stopped (SIGTERM) once UNTIL holds -- ``lines=N``
   (N lines printed) or ``changes=N`` (N GPIO level changes seen, below) -- or after SECONDS
   at most (a loaded machine under TCG runs them slowly), then ``CHECK
   program.<name> ok status=N lines=N [gpio=...]`` -- ``gpio`` is what the kernel showed of
   the GPIO lines named by ``kiln.test_watch_lines`` while the program ran (debugfs, sampled
   every 100 ms: ``line:value`` changes), for programs that only drive pins.
3. The program named by ``kiln.test_last`` runs last and is not stopped (the watchdog
   program: the board resets under it).
"""
import os
import importlib
import signal
import subprocess
import sys

from harness import kernel_args

threading = importlib.import_module("threading")     # CPython's (see harness/__init__.py)

FACES = ("micropython", "zerynth")
HERE = os.path.dirname(os.path.abspath(__file__))
LAUNCH = [sys.executable, "-c", "from kiln.app import main; main()"]


def program_path(name):
    for path in (os.path.join(HERE, "programs", name + ".py"),
                 os.path.join(HERE, "examples", name, "main.py")):
        if os.path.exists(path):
            return path
    raise FileNotFoundError("no program %s in programs/ or examples/" % name)


def gpio_levels(lines):
    """``{line: 0|1}`` of the requested GPIO ``lines`` ("chip:offset" as debugfs names them:
    ``gpiochip0:2``), from /sys/kernel/debug/gpio ("out hi"/"out lo")."""
    levels = {}
    chip = None
    try:
        with open("/sys/kernel/debug/gpio") as f:
            text = f.read()
    except OSError:
        return levels
    for raw in text.splitlines():
        if raw.startswith("gpiochip"):
            chip = raw.split(":")[0]
            continue
        words = raw.split()
        if not words or not words[0].startswith("gpio-") or chip is None:
            continue
        base = int(text.split(chip + ": GPIOs ", 1)[1].split("-", 1)[0])
        key = "%s:%d" % (chip, int(words[0][5:]) - base)
        if key in lines and (" hi" in raw or " lo" in raw):
            levels[key] = 1 if " hi" in raw else 0
    return levels


def run_program(name, api, seconds, watch, until=""):
    proc = subprocess.Popen(LAUNCH + ["--api", api, "--net", "none", program_path(name)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    changes = []
    stop = threading.Event()
    kind, _, count = until.partition("=")
    count = int(count or 0)

    def done():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)

    def sample():
        last = {}
        while not stop.is_set():
            now = gpio_levels(watch)
            for key in sorted(now):
                if now[key] != last.get(key):
                    changes.append("%s=%d" % (key, now[key]))
                    if kind == "changes" and len(changes) >= count:
                        done()
            last = now
            stop.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    if watch:
        sampler.start()
    timer = threading.Timer(seconds, proc.send_signal, (signal.SIGTERM,)) if seconds else None
    if timer:
        timer.start()
    lines = 0
    for raw in proc.stdout:
        print("PROGRAM %s | %s" % (name, raw.decode("utf-8", "replace").rstrip("\r\n")),
              flush=True)
        lines += 1
        if kind == "lines" and lines >= count:
            done()
    status = proc.wait()
    if timer:
        timer.cancel()
    stop.set()
    facts = "status=%d lines=%d" % (status, lines)
    if watch:
        facts += " gpio=" + ",".join(changes)
    print("CHECK program.%s ok %s" % (name, facts), flush=True)


def main():
    args = kernel_args()
    if not os.path.ismount("/sys/kernel/debug"):
        subprocess.call(["mount", "-t", "debugfs", "debugfs", "/sys/kernel/debug"])
    failed = []
    for face in FACES:
        status = subprocess.call(LAUNCH + ["--api", face, os.path.join(HERE, "face.py")],
                                 env=dict(os.environ, PROGRAMS_FACE=face))
        print("CHECK face.%s %s" % (face, "ok" if status == 0 else
                                    "FAIL exit status %d" % status), flush=True)
        if status:
            failed.append(face)
    watch = [w for w in args.get("test_watch_lines", "").split(",") if w]
    for item in [p for p in args.get("test_programs", "").split(",") if p]:
        name, api, seconds, until = (item.split(":") + [""])[:4]
        run_program(name, api, float(seconds), watch, until)
    if args.get("test_last"):
        name, api = args["test_last"].split(":")
        print("CHECK program.%s event started" % name, flush=True)
        run_program(name, api, 0, [])
    sys.exit(1 if failed else 0)


main()
