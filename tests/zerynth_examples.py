"""Zerynth's published example programs, byte for byte as Zerynth's repositories publish them.

The files are in ``tests/fixtures/zerynth-examples/`` (copied at the pinned commits below; see
its README): :func:`example_source` returns one after checking its sha256, so an edited copy
fails the tests.  ``python tests/zerynth_examples.py GIT_DIR_OF_REPO...`` re-checks the copies
against git copies of Zerynth's repositories.
"""
from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "zerynth-examples"

#: name -> (repository, commit, path): the version each test runs.
EXAMPLES = {
    # Zerynth v3 (OS): the Ethernet example in the version that passes the interface handle
    # (``ifc = eth.configure(...)``, ``socket.socket(ifc=ifc)``), 2021-04-19.
    "Ethernet_http": ("examples", "0263496d9df036fb6c250e25f776dff51b43985d",
                      "src/Ethernet_http/main.py"),
    # Zerynth v2: streams.serial(), SocketStream, print(..., stream=), random(0, 100).
    "Mini_Web_Server": ("core-zerynth-stdlib", "5cbab869e705e98bbad156d29d2e10b943deac51",
                        "examples/Mini_Web_Server/main.py"),
    "Multi_Thread_Basic": ("core-zerynth-stdlib", "5cbab869e705e98bbad156d29d2e10b943deac51",
                           "examples/Multi_Thread_Basic/main.py"),
    "Timers_Advanced": ("core-zerynth-stdlib", "5cbab869e705e98bbad156d29d2e10b943deac51",
                        "examples/Timers_Advanced/main.py"),
    # Pins (v3 gpio): Blink toggles LED_BLUE/LED_GREEN from two threads without setting a
    # mode; Interrupt sets D35/D36 inputs and on_rise/on_fall callbacks without parameters.
    "Blink": ("examples", "b6b4bf69fa22b4a5c46a43ab040e6b8321c563d8", "src/Blink/main.py"),
    "Interrupt": ("examples", "b6b4bf69fa22b4a5c46a43ab040e6b8321c563d8",
                  "src/Interrupt/main.py"),
    # Pins (v2 builtins): pinMode(BTN0, INPUT_PULLUP), onPinFall(BTN0, pressed), digitalWrite.
    "Interrupts": ("core-zerynth-stdlib", "5cbab869e705e98bbad156d29d2e10b943deac51",
                   "examples/Interrupts/main.py"),
}
#: name -> sha256 of the copy in FIXTURES (as published at the commit above).
SHA256 = {}
for _line in (FIXTURES / "README.md").read_text().splitlines():
    _cells = [c.strip(" `") for c in _line.split("|")[1:-1]]
    if len(_cells) == 5 and _cells[0].endswith(".py"):
        SHA256[_cells[0][:-3]] = _cells[4]


def example_source(name: str) -> str:
    """The text of Zerynth example ``name`` as published at its pinned commit (AssertionError
    when the copy in the fixtures was changed)."""
    data = (FIXTURES / f"{name}.py").read_bytes()
    assert hashlib.sha256(data).hexdigest() == SHA256[name], (
        f"tests/fixtures/zerynth-examples/{name}.py differs from Zerynth's published file")
    return data.decode()


def check_against(git_dirs: list[str]) -> None:
    """Compare every copy with the file at its pinned commit in the given git directories of
    Zerynth's repositories (``examples``, ``core-zerynth-stdlib``)."""
    for name, (repo, commit, path) in EXAMPLES.items():
        for git_dir in git_dirs:
            shown = subprocess.run(["git", "--git-dir", git_dir, "show", f"{commit}:{path}"],
                                   capture_output=True)
            if shown.returncode == 0:
                same = shown.stdout == (FIXTURES / f"{name}.py").read_bytes()
                print(f"{name}: {'same' if same else 'DIFFERENT'} ({repo}@{commit[:12]})")
                break
        else:
            print(f"{name}: {repo}@{commit[:12]} not found in the given git directories")


def with_driver(source: str, driver_line: str) -> str:
    """A v2 example with its commented-out driver import replaced by ``driver_line`` -- the one
    line Zerynth's v2 examples leave to the user ("A NETWORK DRIVER MUST BE SELECTED BELOW")."""
    marker = "# from texas.cc3000 import cc3000 as wifi_driver"
    assert marker in source, "the example's driver line changed"
    return source.replace(marker, driver_line, 1)


if __name__ == "__main__":
    check_against(sys.argv[1:])
