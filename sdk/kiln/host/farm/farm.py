"""A board farm on loopback: labgrid's coordinator and exporter, the board host, the places.

:class:`Farm` starts, in this order and each as its own process (own session, log file in the
farm's private directory):

1. ``labgrid-coordinator`` listening on 127.0.0.1 (a free port unless told), its state files
   (``places.yaml``, ``resources.yaml``) in the farm's directory;
2. the board host (:mod:`kiln.host.farm.boardhost`): the emulated hardware of every place;
3. ``labgrid-exporter`` exporting, per place, a resource group named after the place with what
   a Raspberry Pi place exports (serial console, power outlet, SD card, Ethernet port; see
   :mod:`kiln.host.farm.labgrid_parts`) -- :func:`exporter_config` writes its YAML;

then creates each place with ``labgrid-client`` (``create``, ``add-match
<exporter>/<place>/*``, ``set-tags board=<board>``).  Places are named ``<board>-<n>``.

:meth:`Farm.close` stops the exporter, the board host (which powers every board off) and the
coordinator, deletes the directory and raises :class:`FarmError` naming anything left behind:
a process of the farm, a QEMU the board host started, a network lab a board ran in, the
directory.  Clients (tests) own the network labs; the farm never creates a namespace or a tap.
"""
from __future__ import annotations

import json
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Sequence

from kiln.errors import KilnError
from kiln.host import proc

DEFAULT_LISTEN = "127.0.0.1:20408"      # labgrid's default coordinator address
START_TIMEOUT_S = 60.0
STOP_GRACE_S = 10.0
CLIENT_TIMEOUT_S = 60.0
_LISTENING_RE = re.compile(r"listening on (\S+):(\d+)")


class FarmError(KilnError):
    """The farm could not start, a labgrid command failed, or something outlived the farm."""


def labgrid_tool(name: str) -> list[str]:
    """argv prefix of labgrid's ``name`` command (the one installed with this Python first)."""
    beside = Path(sys.executable).with_name(name)
    if beside.is_file():
        return [str(beside)]
    found = shutil.which(name)
    if found is None:
        raise FarmError(f"{name} not found: pip install labgrid (requirements/dev.txt)")
    return [found]


def labgrid_client(coordinator: str, *args: str, check: bool = True,
                   timeout: float = CLIENT_TIMEOUT_S) -> subprocess.CompletedProcess:
    """Run ``labgrid-client -x coordinator ARGS`` to completion; returns its output (text).

    Raises :class:`FarmError` with its message when it fails and ``check``."""
    result = subprocess.run([*labgrid_tool("labgrid-client"), "-x", coordinator, *args],
                            capture_output=True, text=True, timeout=timeout,
                            stdin=subprocess.DEVNULL)
    if check and result.returncode != 0:
        raise FarmError(f"labgrid-client {' '.join(args)}: "
                        f"{(result.stderr or result.stdout).strip()}")
    return result


#: True when a pid exists and is not a zombie (kiln.host.proc's check, for the farm's services).
running = proc.alive


class Service:
    """One long-running process of the farm, its output in ``log``."""

    def __init__(self, name: str, argv: Sequence[str], log: Path, cwd: Path | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.name, self.log = name, log
        with open(log, "wb") as out:
            self.proc = proc.start(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
                                   stderr=subprocess.STDOUT, env=env)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_for(self, pattern: str | re.Pattern, timeout: float = START_TIMEOUT_S) -> re.Match:
        """Wait until the log matches ``pattern``; raise :class:`FarmError` if the process
        exits or ``timeout`` s pass first."""
        regex = re.compile(pattern)

        def matched() -> re.Match | None:
            if self.proc.poll() is not None:
                match = regex.search(self.output())      # it may have printed, then exited
                if match:
                    return match
                raise FarmError(f"{self.name} exited with status {self.proc.returncode}:\n"
                                f"{self.output()[-2000:]}")
            return regex.search(self.output())
        match = proc.wait_until(matched, timeout, interval_s=0.1)
        if match is None:
            raise FarmError(f"{self.name} not ready within {timeout:.0f} s:\n"
                            f"{self.output()[-2000:]}")
        return match

    def stop(self) -> None:
        """SIGTERM its process group, SIGKILL after a grace period; reap it.  Idempotent."""
        proc.stop(self.proc, STOP_GRACE_S)


def start_coordinator(workdir: Path, listen: str = "127.0.0.1:0") -> tuple[Service, str]:
    """``labgrid-coordinator`` on ``listen`` with its state in ``workdir``; returns the service
    and the address clients use (``HOST:PORT``, the port it bound)."""
    workdir.mkdir(parents=True, exist_ok=True)
    service = Service("labgrid-coordinator", [*labgrid_tool("labgrid-coordinator"), "-l", listen],
                      workdir / "coordinator.log", cwd=workdir)
    try:
        match = service.wait_for(_LISTENING_RE)
    except BaseException:
        service.stop()
        raise
    return service, f"{match.group(1)}:{match.group(2)}"


def start_exporter(coordinator: str, config: Path, name: str, log: Path) -> Service:
    """``labgrid-exporter`` named ``name`` exporting ``config`` to ``coordinator``; resources are
    published with host 127.0.0.1."""
    service = Service("labgrid-exporter",
                      [*labgrid_tool("labgrid-exporter"), "-c", coordinator, "-n", name,
                       "--hostname", "127.0.0.1", str(config)], log)
    try:
        service.wait_for(r"Exporter ready")
    except BaseException:
        service.stop()
        raise
    return service


def wait_for_resources(coordinator: str, groups: Sequence[str], exporter: str,
                       timeout: float = START_TIMEOUT_S) -> None:
    """Block until the coordinator lists a resource of every group ``exporter/<group>``."""
    missing: list[str] = []

    def all_listed() -> bool:
        listed = labgrid_client(coordinator, "resources").stdout
        missing[:] = [g for g in groups if f"{exporter}/{g}/" not in listed]
        return not missing
    if not proc.wait_until(all_listed, timeout, interval_s=0.5):
        raise FarmError(f"the coordinator lists no resources of {missing} after "
                        f"{timeout:.0f} s")


def create_place(coordinator: str, place: str, exporter: str, group: str,
                 tags: dict[str, str]) -> None:
    """Create place ``place`` matching every resource of ``exporter/group`` and tag it."""
    labgrid_client(coordinator, "-p", place, "create")
    labgrid_client(coordinator, "-p", place, "add-match", f"{exporter}/{group}/*")
    if tags:
        labgrid_client(coordinator, "-p", place, "set-tags",
                       *[f"{k}={v}" for k, v in tags.items()])


def exporter_config(board_host: dict) -> str:
    """The exporter's YAML for the places of a running board host (its ``boardhost.json``)."""
    # (labgrid renders exporter files with Jinja2: "#" starts a statement, "##" a comment.)
    lines = ["## labgrid-exporter configuration written by kiln farm: one group per QEMU place,",
             "## the resources a Raspberry Pi place exports (serial, power, SD card, Ethernet).",
             "## Places match <exporter>/<group>/*."]
    for name, place in board_host["places"].items():
        lines += [
            f"{name}:",
            f"  location: kiln farm board host {board_host['url']} (QEMU {place['board']})",
            "  NetworkSerialPort:          # QEMU's console on TCP (as ser2net serves a "
            "USB-serial adapter)",
            f"    host: 127.0.0.1\n    port: {place['serial_port']}\n    protocol: raw",
            "    speed: 115200",
            "  NetworkPowerPort:           # outlet of the board host's power switch "
            "(labgrid's rest model)",
            f"    model: rest\n    host: '{place['power_url']}'\n    index: {place['index']}",
            "  KilnFarmSDCard:             # the card image the board boots from",
            f"    host: 127.0.0.1\n    url: '{place['url']}'\n    path: '{place['card']}'",
            "  KilnFarmTapPort:            # the board's Ethernet: a network lab's tap",
            f"    host: 127.0.0.1\n    url: '{place['url']}'",
        ]
    return "\n".join(lines) + "\n"


class Farm:
    """A loopback board farm of ``places`` QEMU places of ``board`` (see the module docstring).

    ``listen``: the coordinator's address (default: a free port on 127.0.0.1; ``kiln farm
    start`` uses labgrid's default 127.0.0.1:20408).  Use as a context manager or call
    :meth:`start` and :meth:`close`.  Needs root (the board host runs QEMU in network labs).
    """

    def __init__(self, board: str = "qemu-aarch64", places: int = 1, *,
                 listen: str = "127.0.0.1:0") -> None:
        if places < 1:
            raise ValueError("a farm needs at least one place")
        self.board = board
        self.place_count = places
        self.listen = listen
        self.exporter_name = f"kiln-farm-{secrets.token_hex(4)}"
        self.places = [f"{board}-{n}" for n in range(1, places + 1)]
        self.workdir: Path | None = None
        self.coordinator: str | None = None
        self.board_host_info: dict = {}
        self._services: list[Service] = []
        self._records: Path | None = None
        self._qemu_pids: list[int] = []
        self._labs: list[str] = []

    # -- lifecycle

    def start(self) -> "Farm":
        """Start everything and create the places; blocks ~10 s.  Raises :class:`FarmError`
        (after stopping what had started)."""
        from kiln import boards
        board = boards.load(self.board)         # KilnError for an unknown board
        if board.qemu is None or board.sdcard is not None:
            raise FarmError(f"board {self.board}: a kiln farm emulates QEMU boards that boot "
                            "kernel + initramfs")
        self.workdir = Path(tempfile.mkdtemp(prefix="kiln-farm-"))
        try:
            coordinator, self.coordinator = start_coordinator(self.workdir / "coordinator",
                                                              self.listen)
            self._services.append(coordinator)
            self._start_board_host()
            config = self.workdir / "exporter.yaml"
            config.write_text(exporter_config(self.board_host_info))
            self._services.append(start_exporter(self.coordinator, config, self.exporter_name,
                                                 self.workdir / "exporter.log"))
            wait_for_resources(self.coordinator, self.places, self.exporter_name)
            for place in self.places:
                create_place(self.coordinator, place, self.exporter_name, place,
                             {"board": self.board})
        except BaseException:
            try:
                self.close()
            except FarmError:
                pass
            raise
        return self

    def _start_board_host(self) -> None:
        host_dir = self.workdir / "boardhost"
        self._records = host_dir
        argv = [sys.executable, "-m", "kiln.host.farm.boardhost", "--workdir", str(host_dir)]
        for index, place in enumerate(self.places, 1):
            argv += ["--place", f"{place}={self.board}:{index}"]
        host_dir.mkdir()
        service = Service("board host", argv, self.workdir / "boardhost.log")
        self._services.append(service)
        ready = host_dir / "boardhost.json"

        def started() -> bool:
            if service.proc.poll() is not None and not ready.exists():
                raise FarmError(f"the board host exited:\n{service.output()[-2000:]}")
            return ready.exists()
        if not proc.wait_until(started, START_TIMEOUT_S, interval_s=0.1):
            raise FarmError(f"the board host did not start:\n{service.output()[-2000:]}")
        self.board_host_info = json.loads(ready.read_text())

    def close(self) -> None:
        """Stop the exporter, the board host and the coordinator; delete the farm's directory.

        Idempotent.  Raises :class:`FarmError` listing what is left behind (it is still
        removed where possible).  The network labs boards ran in are their clients' (tests
        check them: :attr:`labs` stays readable after close)."""
        for service in reversed(self._services):
            service.stop()
        self._read_records()
        left = [f"{s.name} (pid {s.pid})" for s in self._services if running(s.pid)]
        left += [f"QEMU (pid {pid})" for pid in self.qemu_pids() if running(pid)]
        self._services = []
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            if self.workdir.exists():
                left.append(f"directory {self.workdir}")
        if left:
            raise FarmError("left behind by the farm: " + ", ".join(left))

    def __enter__(self) -> "Farm":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.close()

    # -- facts

    def exited_services(self) -> list[str]:
        """Names of the farm's processes that are no longer running."""
        return [s.name for s in self._services if s.proc.poll() is not None]

    @property
    def pids(self) -> list[int]:
        """The farm's own processes: coordinator, board host, exporter."""
        return [s.pid for s in self._services]

    def qemu_pids(self) -> list[int]:
        """Every QEMU the board host has started (running or not)."""
        self._read_records()
        return list(self._qemu_pids)

    def labs(self) -> list[str]:
        """The network labs boards were booted in, in order."""
        self._read_records()
        return list(self._labs)

    def _read_records(self) -> None:
        if self._records is not None and self._records.exists():
            self._qemu_pids = [int(p) for p in _lines(self._records / "qemu.pids")]
            self._labs = _lines(self._records / "labs")

    def place_status(self, place: str) -> dict:
        """The board host's state of ``place`` (power, mux, lab, boots, ...)."""
        from kiln.host.farm.labgrid_parts import board_host_call
        return json.loads(board_host_call("GET", self.board_host_info["places"][place]["url"]))

    def client(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """``labgrid-client`` against this farm's coordinator."""
        return labgrid_client(self.coordinator, *args, check=check)


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text().split()
    except FileNotFoundError:
        return []
