"""The board host of a ``kiln farm``: the hardware behind each QEMU place's exported resources.

A Raspberry Pi place is a Pi plus what its lab host wires to it: a USB-serial adapter that
ser2net serves on TCP, an outlet of a network power switch, a USB-SD-Mux holding its SD card,
and an Ethernet cable.  For a QEMU place, this one process is all of that, on loopback:

* **serial console** -- a TCP socket on 127.0.0.1 this process listens on for the place's whole
  life (as ser2net does, whether or not the board is powered).  At power-on the listening socket
  is handed to QEMU as the console's chardev (``fd=``), so QEMU accepts the client that is
  already connected; at power-off QEMU goes and the client sees the line close.  labgrid
  resource: ``NetworkSerialPort`` (protocol ``raw``).
* **power** -- outlet ``index`` of an HTTP power switch that speaks labgrid's ``rest`` power
  model (``PUT /power/<index>`` with ``1``/``0``; ``GET`` answers ``1``/``0``).  *On* does what
  the Pi's firmware does -- reads ``config.txt``, the kernel and initramfs it names and
  ``cmdline.txt`` from the card's boot partition (:mod:`kiln.host.runner.sdboot`) -- and starts
  QEMU with :func:`kiln.host.runner.qemu.arguments` (the one function building QEMU's
  arguments) inside the namespace of the network lab the board's cable is plugged into; *off*
  stops QEMU.  labgrid resource: ``NetworkPowerPort`` (model ``rest``).
* **SD card** -- an image file (MBR, FAT partition 1 with ``config.txt``) that the mux gives to
  the host or to the board (``PUT /places/<name>/mux``: ``host``, ``dut``, ``off``).  Files are
  written onto a partition only while the host has it (``PUT
  /places/<name>/card/<partition>/<file>``, the file as body); power-on needs the board to have
  it.  labgrid resource: :class:`~kiln.host.farm.labgrid_parts.KilnFarmSDCard`.
* **Ethernet** -- the board's NIC attaches to tap ``kiln0`` of a
  :class:`~kiln.host.runner.netlab.NetLab` (tap mode) on this machine: ``PUT
  /places/<name>/cable`` with ``{"lab": <namespace>, "board": <board>, "pidfile": <path>}``
  plugs the cable into that lab for the next power-on (``DELETE`` unplugs it); ``PUT
  /places/<name>/link`` ``0``/``1`` pulls and plugs it on the running board (QMP ``set_link``).
  labgrid resource: :class:`~kiln.host.farm.labgrid_parts.KilnFarmTapPort`.

``GET /places/<name>`` answers the place's state as JSON (power, mux, lab, boots so far).
Errors answer 4xx/5xx with the reason as the body (and, shortened, as the reason phrase, which
labgrid's power backends report).

Run as ``python -m kiln.host.farm.boardhost --workdir DIR --place NAME=BOARD:INDEX ...`` (root:
``ip netns exec``).  It writes ``DIR/boardhost.json`` (its URL and each place's serial port and
card) once it serves, appends every QEMU pid it starts to ``DIR/qemu.pids`` and every lab it
booted a board in to ``DIR/labs``, and on SIGTERM/SIGINT powers every board off and exits.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from kiln.errors import KilnError
from kiln.host import proc

CARD_SIZE_MB = 128                 # sparse; a kernel and an initramfs take ~50 MB
BOOT_PARTITION_START = 2048        # sectors (1 MiB), as Kiln's SD images have it
SECTOR = 512
MUX_MODES = ("dut", "host", "off")
READY_FILE = "boardhost.json"
QEMU_PIDS_FILE = "qemu.pids"
LABS_FILE = "labs"
QEMU_START_TIMEOUT_S = 30.0
QEMU_STOP_GRACE_S = 5.0
_CHUNK = 1 << 20


class BoardHostError(KilnError):
    """A request the hardware would refuse (``status``: the HTTP status to answer)."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class PlaceSpec:
    """One place: its name (also the exporter's resource group), board and outlet index."""

    name: str
    board: str
    index: int

    @classmethod
    def parse(cls, text: str) -> "PlaceSpec":
        """``NAME=BOARD:INDEX`` (as the ``--place`` option takes it)."""
        name, sep, rest = text.partition("=")
        board, sep2, index = rest.partition(":")
        if not (sep and sep2 and name and board and index.isdigit()):
            raise ValueError(f"place {text!r}: expected NAME=BOARD:INDEX")
        return cls(name, board, int(index))


# -- the card --------------------------------------------------------------------------------

def create_card(path: Path, config_txt: str, size_mb: int = CARD_SIZE_MB) -> None:
    """A sparse card image at ``path``: an MBR with one FAT32 partition (type 0x0C, from 1 MiB)
    holding ``config.txt``.  Raises :class:`BoardHostError` when mkfs.vfat or mtools fail."""
    sectors = size_mb * 2048 - BOOT_PARTITION_START
    with open(path, "wb") as f:
        f.truncate(size_mb << 20)
        f.seek(446)
        f.write(struct.pack("<B3sB3sII", 0x80, b"\0\0\0", 0x0C, b"\0\0\0",
                            BOOT_PARTITION_START, sectors))
        f.seek(510)
        f.write(b"\x55\xaa")
    _tool(["mkfs.vfat", "--offset", str(BOOT_PARTITION_START), "-F", "32", "-n", "KILNBOOT",
           str(path), str(sectors // 2)], "dosfstools")
    config = path.with_name("config.txt")
    config.write_text(config_txt)
    try:
        write_card_file(path, 1, "config.txt", config)
    finally:
        config.unlink()


def write_card_file(card: Path, partition: int, name: str, source: Path) -> None:
    """Copy ``source`` to ``name`` (top-level file) on FAT partition ``partition``."""
    from kiln.host.image import mbr
    if not name or "/" in name or name in (".", ".."):
        raise BoardHostError(f"{name!r}: the card takes files at the top of a partition")
    try:
        offset = mbr.read(card).get(partition).start
    except mbr.PartitionTableError as exc:
        raise BoardHostError(str(exc)) from None
    _tool(["mcopy", "-o", "-i", f"{card}@@{offset}", str(source), f"::{name}"], "mtools")


def _tool(argv: list[str], package: str) -> None:
    if shutil.which(argv[0]) is None:
        raise BoardHostError(f"{argv[0]} not found: apt-get install {package}", 500)
    result = subprocess.run(argv, capture_output=True, text=True,
                            env=dict(os.environ, MTOOLS_SKIP_CHECK="1"))
    if result.returncode != 0:
        raise BoardHostError(f"{' '.join(argv[:2])}: {result.stderr.strip()}", 500)


def config_txt(board) -> str:
    """The card's ``config.txt``: the kernel and initramfs names of ``board``'s images, in the
    Raspberry Pi firmware's syntax (what :func:`kiln.host.runner.sdboot.config_txt_files`
    reads)."""
    from kiln.host.image.initramfs import SUFFIX
    return (f"# kiln farm card of a {board.name} place\nkernel=vmlinuz\n"
            f"initramfs initramfs.cpio.{SUFFIX[board.compression]} followkernel\n")


# -- one place ------------------------------------------------------------------------------

class Place:
    """The emulated hardware of one place (see the module docstring).  Thread-safe."""

    def __init__(self, spec: PlaceSpec, workdir: Path, records: Path) -> None:
        from kiln import boards
        self.spec = spec
        self.board = boards.load(spec.board)
        if self.board.qemu is None or self.board.sdcard is not None:
            raise BoardHostError(f"board {spec.board}: a kiln farm emulates QEMU boards that "
                                 "boot kernel + initramfs (a [qemu] table, no [sdcard])", 400)
        self.dir = workdir / spec.name
        self.dir.mkdir(parents=True)
        self.records = records
        self.card = self.dir / "sdcard.img"
        create_card(self.card, config_txt(self.board))
        self.serial = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.serial.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.serial.bind(("127.0.0.1", 0))
        self.serial.listen(4)
        self.qmp_path = self.dir / "qmp.sock"
        self.mux = "dut"
        self.lab: str | None = None
        self.pidfile: str = ""
        self.link = True
        self.boots = 0
        self.qemu: subprocess.Popen | None = None
        self._lock = threading.RLock()

    @property
    def serial_port(self) -> int:
        return self.serial.getsockname()[1]

    @property
    def powered(self) -> bool:
        with self._lock:
            return self.qemu is not None and self.qemu.poll() is None

    def status(self) -> dict:
        with self._lock:
            return {"name": self.spec.name, "board": self.spec.board, "index": self.spec.index,
                    "power": self.powered, "mux": self.mux, "lab": self.lab,
                    "link": self.link, "boots": self.boots,
                    "pid": self.qemu.pid if self.powered else None,
                    "serial_port": self.serial_port, "card": str(self.card)}

    # -- mux and card

    def set_mux(self, mode: str) -> None:
        mode = mode.strip().lower()
        if mode not in MUX_MODES:
            raise BoardHostError(f"mux mode {mode!r}: one of {', '.join(MUX_MODES)}", 400)
        with self._lock:
            self.mux = mode

    def write(self, partition: int, name: str, source: Path) -> None:
        with self._lock:
            if self.mux != "host":
                raise BoardHostError(f"the SD card of {self.spec.name} is not at the host "
                                     f"(mux: {self.mux}): switch the mux to host first")
            write_card_file(self.card, partition, name, source)

    # -- cable

    def plug(self, lab: str, board: str = "", pidfile: str = "") -> None:
        from kiln.host.runner import netns
        try:
            netns.validate_name(lab)
        except ValueError as exc:
            raise BoardHostError(str(exc), 400) from None
        if board and board != self.spec.board:
            raise BoardHostError(f"place {self.spec.name} is a {self.spec.board} board; this "
                                 f"boot is for {board}: choose a place tagged board={board}")
        if pidfile and not os.path.isabs(pidfile):
            raise BoardHostError(f"pidfile {pidfile!r} is not an absolute path", 400)
        if not netns.exists(lab):
            raise BoardHostError(f"no network lab {lab} on the board host (a NetLab's "
                                 "namespace on this machine)")
        with self._lock:
            if self.powered and lab != self.lab:
                raise BoardHostError(f"{self.spec.name} is powered in lab {self.lab}: power "
                                     "it off before moving its cable")
            self.lab, self.pidfile = lab, pidfile

    def unplug(self) -> None:
        with self._lock:
            self.lab, self.pidfile = None, ""

    def set_link(self, up: bool) -> None:
        from kiln.host.runner.qemu import NETDEV_ID
        with self._lock:
            if not self.powered:
                raise BoardHostError(f"{self.spec.name} is off: no link to switch")
            qmp(self.qmp_path, "set_link", {"name": NETDEV_ID, "up": up})
            self.link = up

    # -- power

    def power_on(self) -> None:
        """Boot the card in the plugged lab (no-op when already on).  Blocks until QEMU runs
        (its QMP socket is up).  Raises :class:`BoardHostError`."""
        from kiln.host.runner import netns, qemu, qmp, sdboot
        from kiln.host.runner.netlab import TAP_NAME
        with self._lock:
            if self.powered:
                return
            self._reap()
            if self.mux != "dut":
                raise BoardHostError(f"the SD card of {self.spec.name} is not in the board "
                                     f"(mux: {self.mux}): switch the mux to dut first")
            if self.lab is None:
                raise BoardHostError(f"the Ethernet cable of {self.spec.name} is plugged into "
                                     "no network lab: plug it (PUT .../cable) first")
            if not netns.exists(self.lab):
                raise BoardHostError(f"network lab {self.lab} is gone: plug the cable into a "
                                     "running lab")
            boot = self.dir / "boot"
            shutil.rmtree(boot, ignore_errors=True)
            boot.mkdir()
            # The firmware's part: config.txt names the kernel and initramfs; cmdline.txt.
            try:
                config = sdboot.read_boot_file(self.card, "config.txt", boot / "config.txt")
                kernel_name, initrd_name = sdboot.config_txt_files(config.read_text())
                kernel = sdboot.read_boot_file(self.card, kernel_name, boot / kernel_name)
                initrd = sdboot.read_boot_file(self.card, initrd_name, boot / initrd_name)
                cmdline = sdboot.read_boot_file(self.card, "cmdline.txt", boot / "cmdline.txt")
            except KilnError as exc:
                raise BoardHostError(f"{self.spec.name} does not boot: {exc}") from None
            self.qmp_path.unlink(missing_ok=True)
            wires = self.board.qemu.wire_commands()     # made before the guest runs
            fd = self.serial.fileno()
            console = ["-display", "none",
                       "-chardev", f"socket,id=console,fd={fd},server=on,wait=off",
                       "-serial", "chardev:console",
                       "-qmp", f"unix:{self.qmp_path},server=on,wait=off"]
            try:
                args = qemu.arguments(self.board, kernel, initrd,
                                      " ".join(cmdline.read_text().split()), TAP_NAME,
                                      console="labgrid",
                                      pidfile=Path(self.pidfile) if self.pidfile else None,
                                      extra_args=console, stopped=bool(wires))
            except (KilnError, OSError, ValueError) as exc:
                raise BoardHostError(f"{self.spec.name} does not boot: {exc}", 500) from None
            with open(self.dir / "qemu.log", "wb") as log:
                self.qemu = proc.start(args.argv(), prefix=netns.exec_prefix(self.lab),
                                       pass_fds=(fd,), stdin=subprocess.DEVNULL, stdout=log,
                                       stderr=subprocess.STDOUT)
            self.boots += 1
            self.link = True
            _append(self.records / QEMU_PIDS_FILE, f"{self.qemu.pid}\n")
            _append(self.records / LABS_FILE, f"{self.lab}\n")
            qemu = self.qemu
            if not proc.wait_until(lambda: self.qmp_path.exists() or qemu.poll() is not None,
                                   QEMU_START_TIMEOUT_S) or not self.qmp_path.exists():
                self._stop()
                log_text = (self.dir / "qemu.log").read_text(errors="replace").strip()
                raise BoardHostError(f"QEMU of {self.spec.name} did not start: "
                                     f"{log_text[-400:] or 'no output'}", 500)
            if wires:
                try:
                    qmp.commands(self.qmp_path, [*wires, ("cont", None)])
                except (KilnError, OSError) as exc:
                    self._stop()
                    raise BoardHostError(f"QEMU of {self.spec.name}: its [qemu] wires were "
                                         f"not made: {exc}", 500) from None

    def power_off(self) -> None:
        with self._lock:
            self._stop()

    def _stop(self) -> None:
        if self.qemu is not None:
            proc.stop(self.qemu, QEMU_STOP_GRACE_S)
            self.qemu = None
        self.qmp_path.unlink(missing_ok=True)
        shutil.rmtree(self.dir / "boot", ignore_errors=True)

    def _reap(self) -> None:
        if self.qemu is not None and self.qemu.poll() is not None:
            self._stop()

    def close(self) -> None:
        self.power_off()
        self.serial.close()


def _append(path: Path, text: str) -> None:
    with open(path, "a") as f:
        f.write(text)


def qmp(path: Path, command: str, arguments: dict | None = None, timeout: float = 10.0) -> dict:
    """Run one QMP command on the monitor socket ``path`` (the runner's client,
    :mod:`kiln.host.runner.qmp`); return its ``return`` value.  Raises
    :class:`BoardHostError` (500) when QEMU refuses or does not answer."""
    from kiln.host.runner import qmp as qmp_client
    try:
        return qmp_client.command(path, command, arguments, timeout)
    except qmp_client.QmpError as exc:
        raise BoardHostError(str(exc), 500) from None


# -- the HTTP side ----------------------------------------------------------------------------

class BoardHost:
    """Every place of the farm and the request dispatch (see the module docstring)."""

    def __init__(self, specs: list[PlaceSpec], workdir: Path) -> None:
        names = [s.name for s in specs]
        indexes = [s.index for s in specs]
        if len(set(names)) != len(names) or len(set(indexes)) != len(indexes):
            raise ValueError("place names and outlet indexes must be unique")
        self.workdir = workdir
        self.places: dict[str, Place] = {}
        try:
            for spec in specs:
                self.places[spec.name] = Place(spec, workdir / "places", workdir)
        except BaseException:
            self.close()
            raise
        self.by_index = {p.spec.index: p for p in self.places.values()}

    def close(self) -> None:
        for place in self.places.values():
            place.close()

    def handle(self, method: str, parts: list[str], body) -> tuple[int, str]:
        """Answer ``method`` on path ``parts``; ``body`` reads the request body (see
        :class:`_Body`).  Returns (status, text)."""
        if len(parts) == 2 and parts[0] == "power":
            place = self._place(index=parts[1])
            if method == "GET":
                return 200, "1" if place.powered else "0"
            if method == "PUT":
                value = body.text().strip()
                if value not in ("0", "1"):
                    raise BoardHostError("power: send 1 or 0", 400)
                place.power_on() if value == "1" else place.power_off()
                return 200, value
        elif len(parts) >= 2 and parts[0] == "places":
            place = self._place(name=parts[1])
            what = parts[2] if len(parts) > 2 else ""
            if what == "" and method == "GET":
                return 200, json.dumps(place.status())
            if what == "mux" and len(parts) == 3:
                if method == "GET":
                    return 200, place.mux
                if method == "PUT":
                    place.set_mux(body.text())
                    return 200, place.mux
            if what == "card" and len(parts) >= 5 and method == "PUT" and parts[3].isdigit():
                with body.file(place.dir) as source:
                    place.write(int(parts[3]), "/".join(parts[4:]), source)
                return 200, "written"
            if what == "cable" and len(parts) == 3:
                if method == "PUT":
                    try:
                        request = json.loads(body.text())
                        lab = request["lab"]
                    except (ValueError, KeyError, TypeError):
                        raise BoardHostError('cable: send {"lab": NAMESPACE, ...}', 400) from None
                    place.plug(lab, request.get("board") or "", request.get("pidfile") or "")
                    return 200, lab
                if method == "DELETE":
                    place.unplug()
                    return 200, "unplugged"
            if what == "link" and len(parts) == 3:
                if method == "GET":
                    return 200, "1" if place.link else "0"
                if method == "PUT":
                    value = body.text().strip()
                    if value not in ("0", "1"):
                        raise BoardHostError("link: send 1 or 0", 400)
                    place.set_link(value == "1")
                    return 200, value
        raise BoardHostError(f"no such request: {method} /{'/'.join(parts)}", 404)

    def _place(self, name: str | None = None, index: str | None = None) -> Place:
        place = (self.places.get(name) if name is not None
                 else self.by_index.get(int(index)) if index.isdigit() else None)
        if place is None:
            raise BoardHostError(f"no place {name or 'with outlet ' + str(index)}", 404)
        return place


class _Body:
    """The request body, read once: as text, or streamed into a temporary file."""

    def __init__(self, handler: BaseHTTPRequestHandler) -> None:
        self.handler = handler
        self.left = int(handler.headers.get("Content-Length") or 0)

    def text(self, limit: int = 65536) -> str:
        if self.left > limit:
            raise BoardHostError(f"request body over {limit} bytes", 413)
        data = self.handler.rfile.read(self.left)
        self.left = 0
        return data.decode(errors="replace")

    def file(self, directory: Path):
        import contextlib
        import tempfile

        @contextlib.contextmanager
        def spooled():
            fd, name = tempfile.mkstemp(dir=directory, prefix="upload-")
            path = Path(name)
            try:
                with os.fdopen(fd, "wb") as out:
                    while self.left:
                        chunk = self.handler.rfile.read(min(_CHUNK, self.left))
                        if not chunk:
                            raise BoardHostError("request body ended early", 400)
                        out.write(chunk)
                        self.left -= len(chunk)
                yield path
            finally:
                path.unlink(missing_ok=True)
        return spooled()

    def drain(self) -> None:
        while self.left:
            chunk = self.handler.rfile.read(min(_CHUNK, self.left))
            if not chunk:
                break
            self.left -= len(chunk)


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self._dispatch("GET")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        parts = [unquote(p) for p in urlsplit(self.path).path.strip("/").split("/") if p]
        body = _Body(self)
        try:
            status, text = self.server.board_host.handle(method, parts, body)
        except BoardHostError as exc:
            status, text = exc.status, str(exc)
        except Exception as exc:  # noqa: BLE001 - answered, not fatal to the board host
            status, text = 500, f"{type(exc).__name__}: {exc}"
        body.drain()          # a refused upload is read to its end, so the client sees the reply
        data = text.encode()
        reason = text.splitlines()[0][:200].encode("latin-1", "replace").decode("latin-1") \
            if status >= 400 and text else None
        self.send_response(status, reason)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)
        self.close_connection = True

    def log_message(self, format, *args):  # noqa: A002 - BaseHTTPRequestHandler's signature
        sys.stderr.write(f"boardhost: {self.address_string()} {format % args}\n")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    board_host: BoardHost


def serve(specs: list[PlaceSpec], workdir: Path, listen: str = "127.0.0.1") -> int:
    """Run the board host until SIGTERM/SIGINT (see the module docstring); returns 0."""
    workdir.mkdir(parents=True, exist_ok=True)
    host = BoardHost(specs, workdir)
    server = _Server((listen, 0), _Handler)
    server.board_host = host
    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    thread = threading.Thread(target=server.serve_forever, name="boardhost-http", daemon=True)
    thread.start()
    try:
        url = f"http://{listen}:{server.server_address[1]}"
        ready = {"url": url, "pid": os.getpid(),
                 "places": {name: {**p.status(), "url": f"{url}/places/{name}",
                                   "power_url": f"{url}/power/{{index}}"}
                            for name, p in host.places.items()}}
        tmp = workdir / (READY_FILE + ".tmp")
        tmp.write_text(json.dumps(ready, indent=2))
        tmp.replace(workdir / READY_FILE)
        while not stop.wait(0.5):
            pass
    finally:
        server.shutdown()
        server.server_close()
        host.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kiln.host.farm.boardhost",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True,
                        help="private directory: cards, logs, boardhost.json")
    parser.add_argument("--place", action="append", required=True, type=PlaceSpec.parse,
                        metavar="NAME=BOARD:INDEX", help="one place (repeatable)")
    parser.add_argument("--listen", default="127.0.0.1", help="address to serve on")
    args = parser.parse_args(argv)
    try:
        return serve(args.place, args.workdir, args.listen)
    except KilnError as exc:
        print(f"boardhost: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
