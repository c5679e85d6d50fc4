"""labgrid classes for the parts of a ``kiln farm`` QEMU place that labgrid has no class for.

A QEMU place exports what a Raspberry Pi place exports; two of its four parts are labgrid's own
classes, two are here (Pi place -> QEMU place):

* serial console: ``USBSerialPort``, exported through ser2net as ``NetworkSerialPort`` -> a
  ``NetworkSerialPort`` (protocol ``raw``): QEMU's console socket;
* power: ``NetworkPowerPort`` on a PDU -> ``NetworkPowerPort`` (model ``rest``): the board
  host's outlet starts and stops QEMU;
* SD card: ``USBSDMuxDevice``, exported as ``NetworkUSBSDMuxDevice`` (``USBSDMuxDriver``,
  ``USBStorageDriver``) -> :class:`KilnFarmSDCard`, an image file the board boots from
  (:class:`KilnFarmSDMuxDriver`, :class:`KilnFarmStorageDriver`);
* Ethernet: ``USBNetworkInterface``, exported as ``RemoteNetworkInterface`` ->
  :class:`KilnFarmTapPort`, QEMU's NIC on a network lab's tap (:class:`KilnFarmCableDriver`).

The two drivers of the card are subclasses of labgrid's ``USBSDMuxDriver`` and
``USBStorageDriver`` with the same methods, so ``KilnStrategy`` writes a QEMU place's card with
the very calls it writes a Pi's card with (mux to the host, ``write_files`` onto partition 1,
mux to the board).  Each resource carries ``url``: the board host's endpoint of the place
(:mod:`kiln.host.farm.boardhost`), reached over HTTP on loopback like a PDU.

Environment files list this module in ``imports:`` (``tests/system/envs/farm-qemu.yaml``);
``kiln farm client`` runs ``labgrid-client`` with it imported, so that labgrid's own commands
(``power``, ``console``) can build a QEMU place's target.
"""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path, PurePath

import attr
from labgrid.driver import Driver, USBSDMuxDriver, USBStorageDriver
from labgrid.driver.exception import ExecutionError
from labgrid.factory import target_factory
from labgrid.protocol import DigitalOutputProtocol
from labgrid.resource.common import NetworkResource
from labgrid.step import step

_STR = attr.validators.instance_of(str)
# Power-on reads the card and starts QEMU; a card write moves a kernel: generous on a busy host.
HTTP_TIMEOUT_S = 120.0
MUX_MODES = ("dut", "host", "off")


@target_factory.reg_resource
@attr.s(eq=False)
class KilnFarmSDCard(NetworkResource):
    """A QEMU place's SD card: an image file on the board host (``path``, for information),
    switched between the host and the board and written through the board host (``url``)."""

    url = attr.ib(validator=_STR)
    path = attr.ib(default="", validator=_STR)


@target_factory.reg_resource
@attr.s(eq=False)
class KilnFarmTapPort(NetworkResource):
    """A QEMU place's Ethernet port: the board's NIC attaches to the tap of the network lab its
    cable is plugged into (board host endpoint ``url``)."""

    url = attr.ib(validator=_STR)


def board_host_call(method: str, url: str, body: bytes | str | None = None, *,
                    path: Path | None = None, timeout: float = HTTP_TIMEOUT_S) -> str:
    """One request to the board host; returns the reply body (text).  ``path``: send this
    file's bytes as the body.  Raises :class:`ExecutionError` with the board host's message."""
    headers = {}
    data = body.encode() if isinstance(body, str) else body
    stream = None
    if path is not None:
        stream = open(path, "rb")
        data = stream
        headers["Content-Length"] = str(Path(path).stat().st_size)
        headers["Content-Type"] = "application/octet-stream"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return reply.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        message = exc.read().decode(errors="replace").strip() or exc.reason
        raise ExecutionError(f"{method} {url}: {message}") from None
    except OSError as exc:
        raise ExecutionError(f"{method} {url}: board host unreachable ({exc})") from None
    finally:
        if stream is not None:
            stream.close()


@target_factory.reg_driver
@attr.s(eq=False)
class KilnFarmSDMuxDriver(USBSDMuxDriver):
    """The card's mux: ``host`` (the board host may write it), ``dut`` (the board boots from
    it), ``off``.  Same methods as labgrid's ``USBSDMuxDriver`` (``client`` = ``dut``)."""

    bindings = {"mux": "KilnFarmSDCard"}

    @Driver.check_active
    @step(title="sdmux_set", args=["mode"])
    def set_mode(self, mode):
        mode = "dut" if mode.lower() == "client" else mode.lower()
        if mode not in MUX_MODES:
            raise ExecutionError(f"Setting mode '{mode}' not supported by KilnFarmSDMuxDriver")
        board_host_call("PUT", f"{self.mux.url}/mux", mode)

    @Driver.check_active
    @step(title="sdmux_get")
    def get_mode(self):
        return board_host_call("GET", f"{self.mux.url}/mux").strip()


@target_factory.reg_driver
@attr.s(eq=False)
class KilnFarmStorageDriver(USBStorageDriver):
    """Writes files onto a partition of the card while the mux gives it to the host -- what
    labgrid's ``USBStorageDriver`` does to a USB-SD-Mux's card, here through the board host
    (which refuses while the board has the card)."""

    bindings = {"storage": "KilnFarmSDCard"}

    def on_deactivate(self):
        pass

    @Driver.check_active
    @step(args=["sources", "target", "partition", "target_is_directory"])
    def write_files(self, sources, target, partition, target_is_directory=True):
        """Copy files ``sources`` into directory ``target`` (or, with
        ``target_is_directory=False``, to file ``target``) of partition ``partition``."""
        sources = [Path(s) for s in sources]
        if not target_is_directory and len(sources) != 1:
            raise ValueError("single source argument required when target_is_directory=False")
        for source in sources:
            dest = PurePath(target) / source.name if target_is_directory else PurePath(target)
            name = str(dest).lstrip("/")
            board_host_call("PUT", f"{self.storage.url}/card/{int(partition)}/{name}",
                            path=source)

    @Driver.check_active
    def write_image(self, filename=None, mode=None, partition=None, skip=0, seek=0):
        raise ExecutionError("a kiln farm card takes boot files (write_files), not whole images")


@target_factory.reg_driver
@attr.s(eq=False)
class KilnFarmCableDriver(Driver, DigitalOutputProtocol):
    """The board's Ethernet cable, plugged into network lab ``lab`` (the namespace of a
    :class:`~kiln.host.runner.netlab.NetLab` in tap mode on the board host's machine) while the
    driver is active; ``set(False)``/``set(True)`` pull and plug it on a running board.

    ``board``: the board the client's image is for (the board host refuses a place of another
    board); ``pidfile``: where the board's QEMU writes its pid (the test session's leak check;
    empty for none).  ``KilnStrategy`` activates its cable before power-on.
    """

    bindings = {"port": "KilnFarmTapPort"}
    lab = attr.ib(validator=_STR)
    board = attr.ib(default="", validator=_STR)
    pidfile = attr.ib(default="", validator=_STR)

    def on_activate(self):
        board_host_call("PUT", f"{self.port.url}/cable", json.dumps(
            {"lab": self.lab, "board": self.board, "pidfile": self.pidfile}))

    def on_deactivate(self):
        board_host_call("DELETE", f"{self.port.url}/cable")

    @Driver.check_active
    @step(args=["status"])
    def set(self, status):
        board_host_call("PUT", f"{self.port.url}/link", "1" if status else "0")

    @Driver.check_active
    def get(self):
        return board_host_call("GET", f"{self.port.url}/link").strip() == "1"
