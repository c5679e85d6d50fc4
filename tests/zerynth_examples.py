"""Zerynth's published example programs, read byte for byte from Zerynth's own repositories.

Kiln does not copy Zerynth's code into its tree: the tests read each example from a git copy of
the repository that publishes it, at a pinned commit.  The copies are looked up in
``$KILN_ZERYNTH_GIT`` (a folder holding ``examples`` and ``core-zerynth-stdlib``, clones or bare
mirrors of github.com/zerynth/<name>), then in the development machine's mirror folder
(``/work/.mirror/zerynth+<name>/repo``).  A missing copy fails the test with the command that
provides it.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

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
}
ENV = "KILN_ZERYNTH_GIT"
MIRROR = Path("/work/.mirror")


def _git_dir(repo: str) -> Path | None:
    candidates = []
    if os.environ.get(ENV):
        candidates.append(Path(os.environ[ENV]) / repo)
    candidates.append(MIRROR / f"zerynth+{repo}" / "repo")
    for path in candidates:
        if (path / ".git").exists():
            return path / ".git"
        if (path / "HEAD").is_file():
            return path
    return None


def example_source(name: str) -> str:
    """The text of Zerynth example ``name`` at its pinned commit (AssertionError naming the fix
    when the repository copy is missing)."""
    repo, commit, path = EXAMPLES[name]
    git_dir = _git_dir(repo)
    assert git_dir is not None, (
        f"Zerynth's {repo} repository is needed for the {name} example: "
        f"git clone https://github.com/zerynth/{repo} $KILN_ZERYNTH_GIT/{repo}")
    shown = subprocess.run(["git", "--git-dir", str(git_dir), "show", f"{commit}:{path}"],
                           capture_output=True, text=True, timeout=30)
    assert shown.returncode == 0, f"{repo}@{commit}:{path}: {shown.stderr.strip()}"
    return shown.stdout


def with_driver(source: str, driver_line: str) -> str:
    """A v2 example with its commented-out driver import replaced by ``driver_line`` -- the one
    line Zerynth's v2 examples leave to the user ("A NETWORK DRIVER MUST BE SELECTED BELOW")."""
    marker = "# from texas.cc3000 import cc3000 as wifi_driver"
    assert marker in source, "the example's driver line changed"
    return source.replace(marker, driver_line, 1)
