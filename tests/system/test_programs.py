"""Issue #18 under QEMU: programs as MicroPython and Zerynth users write them, on every
initramfs QEMU board (qemu-aarch64, qemu-arm), all in ONE boot per board.

The image's app is the directory ``apps/programs/`` copied whole (the builder's rules: packages,
``lib/``, data files).  Its ``main.py`` runs the checks of ``checks/common/`` and
``checks/<face>/`` under each API face of the launcher and prints ``CHECK <face>.<check> ok
k=v ...`` or ``CHECK <face>.<check> FAIL <reason>`` (``apps/programs/harness``).  The
``programs`` fixture boots the image once per board in a network lab, answers the checks'
``event`` lines through the host-side :class:`Peer` registered for them, and collects the
results; each test below asserts on the results of one check, on what the host observed, or
on every check at once.

Adding a check (one boot still serves all of them):

1. a module ``apps/programs/checks/<common|zerynth|micropython|cpython>/<name>.py`` with
   ``run(ctx)`` (raise on failure; return facts for the host; ``ctx.args`` holds the
   ``kiln.test_*`` kernel arguments, ``ctx.event(what, **facts)`` asks the host to act);
   libraries it needs go in ``apps/programs/lib/`` as ``mip`` would install them;
2. if the host must serve, observe or act: a :class:`Peer` subclass appended to ``PEERS``
   (started in the lab before the boot, its kernel arguments on the command line);
3. a test here asserting on ``programs.result("<face>.<name>")`` (and the peer's
   observations).  ``test_every_check_passed`` already fails on any ``FAIL`` line.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import random
import re
import shutil
import time
from urllib.parse import unquote

import pytest

from guest import GuestStarter
from image_cache import session_image
from layout import APPS, REPO
from servers import connect_to_guest
from kiln.host.image.appdir import load as load_app
from kiln.host.image.artifacts import ImageArtifacts
from kiln.host.runner import netns
from kiln.host.runner.boot import guest_cmdline
from kiln.host.runner.netlab import NetLab

pytestmark = pytest.mark.system

PROGRAMS = APPS / "programs"
FACES = ("zerynth", "micropython", "cpython")
SOCKET_OF = {"zerynth": "networking.socket", "micropython": "usocket", "cpython": "socket"}
#: The longest the console may stay silent between two CHECK lines (boot included), and the
#: longest the whole run may take, on a loaded 2-core machine under TCG.
QUIET_TIMEOUT_S = 240.0
RUN_TIMEOUT_S = 1200.0
LINE_RE = (r"(?:CHECK (\S+) (ok|FAIL|event)(?: ([^\r\n]*))?|KILN: app exited with status "
           r"(-?\d+))\r?\n")


# --- host-side peers of the checks ------------------------------------------------------------

class Peer:
    """The host side of some checks: started in the lab before the boot, it gives the guest
    kernel arguments (``{"test_mqtt_port": 1883}`` becomes ``kiln.test_mqtt_port=1883``, read by
    the check as ``ctx.args["test_mqtt_port"]``), answers the ``CHECK <name> event <what> k=v``
    lines of the checks named in ``checks``, keeps what it observed for the tests, and is
    stopped after the run (also when the run fails)."""

    checks: tuple[str, ...] = ()

    def start(self, lab: NetLab) -> dict[str, object]:
        return {}

    def event(self, check: str, what: str, facts: dict[str, str], lab: NetLab) -> None:
        raise AssertionError(f"{type(self).__name__} got an unexpected event {what!r} from "
                             f"{check}")

    def stop(self) -> None:
        pass


class WebPagePeer(Peer):
    """``micropython.web_page``: fetches the page the guest serves from its app folder."""

    checks = ("micropython.web_page",)

    def start(self, lab):
        self.port = 8000 + random.randrange(1000)
        self.reply = b""
        return {"test_web_port": self.port}

    def event(self, check, what, facts, lab):
        assert what == "listening" and facts == {"port": str(self.port)}, (what, facts)
        (lease,) = lab.leases()
        with connect_to_guest(lab, str(lease.ip), self.port) as conn:
            conn.sendall(b"GET /index.html HTTP/1.0\r\nHost: kiln-board\r\n\r\n")
            while chunk := conn.recv(65536):
                self.reply += chunk


#: Peer classes of the run, one instance each per boot (append yours).
PEERS: list[type[Peer]] = [WebPagePeer]


# --- one boot per board -----------------------------------------------------------------------

@dataclasses.dataclass
class Result:
    """One check's outcome: ``ok`` and its facts, or the ``FAIL`` reason."""

    name: str
    ok: bool
    facts: dict[str, str]
    reason: str = ""


@dataclasses.dataclass
class ProgramsRun:
    """What one boot of the program-test image reported: ``results`` by check name, the app's
    exit status, the console transcript, the peers (by class) and the image's build record."""

    board: str
    results: dict[str, Result]
    peer_errors: dict[str, str]        # check name -> what its peer raised on an event
    host_address: str                  # the lab's host side, as the guest sees it
    app_status: int | None
    transcript: str
    peers: dict[type, Peer]
    artifacts: ImageArtifacts
    seconds: float

    def result(self, name: str) -> Result:
        """The result of check ``name`` (``"micropython.lib_modules"``); it must have passed
        (AssertionError with the reason and the console otherwise)."""
        found = self.results.get(name)
        assert found is not None, f"check {name} did not report on {self.board}:\n" \
                                  f"{self.transcript}"
        assert found.ok, f"check {name} failed on {self.board}: {found.reason}\n" \
                         f"{self.transcript}"
        return found

    def peer(self, cls: type[Peer]) -> Peer:
        return self.peers[cls]


def parse_facts(text: str) -> dict[str, str]:
    """``k=v`` words of a CHECK line, values percent-decoded (see the app's harness)."""
    return {k: unquote(v) for k, _, v in (w.partition("=") for w in text.split())}


@pytest.fixture(scope="module")
def programs_image(board, tmp_path_factory):
    """``board``'s image with ``apps/programs/`` as its app, built or reused in
    ``out/system-tests/<board>-programs`` (a copy of the app without host caches goes in: the
    builder refuses ``__pycache__``; the digest is by content, so the copy reuses the image)."""
    app = tmp_path_factory.mktemp("programs-app") / "programs"
    shutil.copytree(PROGRAMS, app, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out_dir = REPO / "out" / "system-tests" / f"{board.name}-programs"
    image = session_image(board, app, out_dir, tmp_path_factory.mktemp(f"programs-{board.name}"))
    return image, app, ImageArtifacts.load(out_dir / "build.json")


@pytest.fixture(scope="module")
def programs(board, programs_image, resources) -> ProgramsRun:
    """Boot the program-test image once on ``board`` in a fresh lab with every peer running;
    follow the CHECK lines to the app's exit."""
    image, _app, artifacts = programs_image
    with NetLab() as lab:
        resources.namespaces.add(lab.name)
        peers: dict[type, Peer] = {}
        starter = GuestStarter(board, image, resources)
        try:
            args: dict[str, object] = {}
            for cls in PEERS:
                peers[cls] = peer = cls()
                args.update(peer.start(lab))
            by_check = {name: peer for peer in peers.values() for name in peer.checks}
            extra = " ".join(f"kiln.{k}={v}" for k, v in sorted(args.items()))
            t0 = time.monotonic()
            guest = starter.start(lab, guest_cmdline(image, lab, False, extra))
            results: dict[str, Result] = {}
            peer_errors: dict[str, str] = {}
            status = None
            while status is None:
                assert time.monotonic() - t0 < RUN_TIMEOUT_S, \
                    f"the program checks took over {RUN_TIMEOUT_S} s:\n{guest.transcript}"
                m = guest.expect(LINE_RE, QUIET_TIMEOUT_S)
                name, kind, rest = m.group(1), m.group(2), m.group(3) or ""
                if m.group(4) is not None:
                    status = int(m.group(4))
                elif kind == "event":
                    what, _, facts = rest.partition(" ")
                    try:            # errors are reported by test_every_check_passed
                        assert name in by_check, f"no peer answers the events of {name}"
                        by_check[name].event(name, what, parse_facts(facts), lab)
                    except Exception as exc:
                        peer_errors[name] = f"{type(exc).__name__}: {exc}"
                elif kind == "ok":
                    results[name] = Result(name, True, parse_facts(rest))
                else:
                    results[name] = Result(name, False, {}, rest)
            run = ProgramsRun(board.name, results, peer_errors, str(lab.host_address), status,
                              guest.transcript, peers, artifacts, time.monotonic() - t0)
        finally:
            try:
                starter.close_all()
            finally:
                for peer in peers.values():
                    peer.stop()
    assert not netns.exists(lab.name), f"namespace {lab.name} survived close()"
    print(f"programs on {board.name}: {len(run.results)} checks, app status {run.app_status}, "
          f"{run.seconds:.0f} s from power-on")
    return run


# --- every check, every face ------------------------------------------------------------------

def test_every_check_passed(programs):
    failed = {r.name: r.reason for r in programs.results.values() if not r.ok}
    assert not failed, f"failed on {programs.board}: {failed}\n{programs.transcript}"
    assert not programs.peer_errors, f"host-side peers failed on {programs.board}: " \
                                     f"{programs.peer_errors}\n{programs.transcript}"
    # Every face ran every check of checks/common/ and of its own folder, and ended cleanly.
    for face in FACES:
        assert programs.result(f"face.{face}").ok
        for folder in ("common", face):
            for module in sorted((PROGRAMS / "checks" / folder).glob("*.py")):
                if module.name != "__init__.py":
                    programs.result(f"{face}.{module.stem}")
    assert programs.app_status == 0, programs.transcript


# --- issue 18, item 1: apps are directories, copied whole -------------------------------------

def test_the_image_holds_the_whole_app_and_reports_its_size(programs, programs_image):
    _image, app, artifacts = programs_image
    tree = load_app(app, None)
    assert tree.size > 4096 and len(tree.files) > 15
    assert (artifacts.app_files, artifacts.app_bytes) == (len(tree.files), tree.size)
    assert f"app          {len(tree.files)} files, {tree.size} bytes under /app" in \
        artifacts.summary()


@pytest.mark.parametrize("face", FACES)
def test_app_package_with_relative_imports(programs, face):
    facts = programs.result(f"{face}.app_package").facts
    assert facts == {"label": "3000m", "socket": SOCKET_OF[face],
                     "sleep": "kiln.app.zerynth" if face == "zerynth" else "None",
                     "file": "/app/toolbox/__init__.py"}


@pytest.mark.parametrize("face", FACES)
def test_lib_folder_on_the_import_path(programs, face):
    facts = programs.result(f"{face}.lib_modules").facts
    assert facts == {"socket": SOCKET_OF[face], "precedence": "app",
                     "sleep": "kiln.app.zerynth" if face == "zerynth" else "None"}


@pytest.mark.parametrize("face", FACES)
def test_data_files_open_relative_to_the_app(programs, face):
    facts = programs.result(f"{face}.data_files").facts
    settings = (PROGRAMS / "settings.json").read_bytes()
    blob = (PROGRAMS / "data" / "sample.bin").read_bytes()
    parsed = json.loads(settings)
    assert facts == {
        "settings_sha": hashlib.sha256(settings).hexdigest(),
        "greeting": parsed["greeting"], "motto": parsed["motto"],
        "interval_ms": str(parsed["interval_ms"]),
        "page_sha": hashlib.sha256((PROGRAMS / "www" / "index.html").read_bytes()).hexdigest(),
        "blob_sha": hashlib.sha256(blob).hexdigest(), "blob_len": str(len(blob)),
    }


def test_a_data_file_served_to_the_host(programs):
    """The MicroPython program serves its www/index.html (read relative to the app) to the
    host, which connected when the check said it was listening."""
    facts = programs.result("micropython.web_page").facts
    page = (PROGRAMS / "www" / "index.html").read_bytes()
    assert facts == {"request": "GET /index.html HTTP/1.0", "bytes": str(len(page)),
                     "peer": programs.host_address}
    head, _, body = programs.peer(WebPagePeer).reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200 OK\r\n") and b"Content-Length: %d" % len(page) in head
    assert body == page


def test_check_lines_are_parsed_as_the_harness_writes_them():
    """The host's parser against the app's own encoder (no boot)."""
    source = PROGRAMS / "harness" / "__init__.py"
    harness = {"__file__": str(source)}   # run without writing __pycache__ into the app
    exec(compile(source.read_text(), str(source), "exec"), harness)
    facts = {"a": "two words", "b": "100%", "c": "tab\there", "d": "Grüße 你好\u3000x"}
    line = "CHECK x.y ok " + " ".join(harness["_facts"](facts)) + "\r\n"
    m = re.match(LINE_RE, line)
    assert m and m.group(1, 2) == ("x.y", "ok")
    assert parse_facts(m.group(3)) == facts
    assert re.match(LINE_RE, "CHECK x.y FAIL AssertionError: no\n").group(3) == \
        "AssertionError: no"
    assert re.match(LINE_RE, "KILN: app exited with status 1\r\n").group(4) == "1"
