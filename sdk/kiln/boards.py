"""Board definitions, read from the TOML files in ``board_configs/``.

A board file is pure data: Debian architecture, kernel, console, QEMU arguments, cross compiler.
Code asks ``load(name)`` for a validated :class:`Board` and never branches on a board's name.

Where board files are looked up, first match wins:

1. the directories in ``$KILN_BOARD_CONFIGS`` (``os.pathsep``-separated);
2. ``board_configs/`` of the source tree this module lives in (editable install, checkout);
3. ``<sys.prefix>/share/kiln/board_configs`` (installed as data files by ``setup.py``).
"""
from __future__ import annotations

import os
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiln import boardhw
from kiln.errors import KilnError

# key -> (type, required).  Tables and keys not listed here are rejected, so typos are caught.
_SCHEMA: dict[str, dict[str, tuple[type, bool]]] = {
    "board": {"name": (str, True), "description": (str, False), "compatible": (list, True),
              "soc": (str, False)},
    "debian": {"arch": (str, True), "triplet": (str, True), "kernel_package": (str, True)},
    "kernel": {"modules": (list, True), "console": (str, True), "cmdline": (str, True)},
    "python": {"host_platform": (str, True)},
    "cross": {"cc": (str, True), "packages": (list, True), "qemu_user": (str, True),
              "openssl_target": (str, True)},
    "qemu": {
        "binary": (str, True), "machine": (str, True), "cpu": (str, True),
        "memory_mb": (int, True), "smp": (int, False), "nic_args": (list, True),
        "package": (str, True),
        # SD-card boards: QEMU loads kernel, initramfs and this DTB (a file of the image's boot
        # partition) itself, since it does not run the GPU firmware; the image is the SD card.
        "dtb": (str, False),
        # Index of the QEMU serial port that is the board's console (earlier ports are
        # attached too: on `kiln run`'s console, or to nothing under labgrid).
        "console_serial": (int, False),
        # Kernel arguments added under QEMU only (e.g. the interface QEMU's NIC appears as).
        "append": (list, False),
        # Lowest QEMU version with this machine; an older host QEMU is replaced by a private
        # copy of the {release}-backports package (kiln.host.runner.qemutool).
        "min_version": (str, False),
        # Test-only edits to a copy of the DTB: nodes QEMU does not emulate ("status" set to
        # "disabled") and properties deleted ("/node/path:property").
        "dtb_disable": (list, False), "dtb_delete": (list, False),
        # Emulated peripherals attached for the system tests (QEMU arguments, e.g.
        # ["-device", "tmp105,bus=i2c-bus.1,address=0x48"]): the sensors, memories and flash
        # chips the pin and bus tests drive.  Never part of an image.
        "test_devices": (list, False),
        # Index of the QEMU serial port that is the board's header UART (the PL011 on the
        # Pis), before console_serial: the tests connect it to a host-side Unix socket
        # (kiln.host.runner.qemu.arguments(uart_socket=)); absent: none.
        "uart_serial": (int, False),
        # Wires between emulated devices that QEMU's command line cannot make, made over QMP
        # before the guest runs: "<object>/<gpio-out link> -> <gpio-in>" (QOM paths, e.g. a
        # BCM2835 GPIO output to a flash's chip select).  Test hardware, as test_devices.
        "wires": (list, False),
    },
    "image": {"format": (str, True), "compression": (str, False)},
    # SD-card boards (image format "sdcard"): partitions and what goes on them (meaning of
    # each key: the board files, kiln.host.image.sdcard).
    "sdcard": {
        "apt_components": (list, False), "firmware_package": (str, True),
        "firmware": (list, True), "dtbs": (list, True), "config_txt": (list, True),
        "boot_modules": (list, True), "lib_firmware_package": (str, False),
        "lib_firmware": (list, False), "lib_firmware_links": (list, False),
        "rootfs": (str, False), "boot_mb": (int, True), "root_mb": (int, True),
        # Device-tree edits applied at build time to every DTB the image ships: what
        # config.txt's dtparam=/dtoverlay= do with the Raspberry Pi firmware's own DTBs, which
        # Debian's upstream DTBs cannot take (no __overrides__).  dt_enable: nodes set to
        # status "okay" (dtparam=spi=on); dt_remove: nodes deleted (dtoverlay=disable-bt: the
        # PL011 freed from Bluetooth); dt_spidev: "/node:CS" SPI children the init binds to
        # spidev (/dev/spidevB.CS); dt_pinctrl: "/node=/pin-group-node[,...]" sets the node's
        # default pin groups; dt_cs_gpios: "/spi-node=/gpio-node:8,7" gives the SPI controller
        # its chip selects as active-low GPIOs (cs-gpios, as Raspberry Pi's own DTBs have them).
        "dt_enable": (list, False), "dt_remove": (list, False), "dt_spidev": (list, False),
        "dt_pinctrl": (list, False), "dt_cs_gpios": (list, False),
    },
    # What bsp.board.init() puts in a known state, and the default network interfaces.
    "bsp": {
        "leds_off": (list, False), "interfaces_down": (list, False), "eth": (str, False),
        "wifi": (str, False),
        # The board's Wi-Fi driver module, driver.wifi.<wifi_driver> ("" : no radio), and where
        # the radio is: "onboard" (every image carries the Wi-Fi stack) or "lab" (a simulated
        # radio that only the Wi-Fi test lab's images have).
        "wifi_driver": (str, False), "wifi_radio": (str, False),
    },
    # TLS on the board (images with TLS, kiln.net.tls): the client's cipher preference in
    # OpenSSL's syntax -- "ciphersuites" for TLS 1.3 (SSL_CTX_set_ciphersuites), "ciphers" for
    # TLS 1.2 (SSL_CTX_set_cipher_list) -- exported to the app as KILN_TLS_CIPHERSUITES /
    # KILN_TLS_CIPHERS (absent: OpenSSL's defaults, AES-GCM first); and the kernel's crypto
    # drivers for the board's CPU that kernel TLS uses (loaded at boot in images with TLS).
    "tls": {"ciphersuites": (str, False), "ciphers": (str, False), "modules": (list, False)},
}
# Tables a board file may leave out: [qemu] (hardware-only boards), [sdcard] (QEMU boards),
# [bsp] (nothing to reset; interfaces default to eth0/wlan0), [tls] (OpenSSL's defaults).
OPTIONAL_TABLES = ("qemu", "sdcard", "bsp", "tls")
# Keys whose empty string means "none" (a board without an Ethernet port has eth = "").
_MAY_BE_EMPTY = {("bsp", "eth"), ("bsp", "wifi"), ("bsp", "wifi_driver")}
IMAGE_FORMATS = ("initramfs", "sdcard")
WIFI_RADIOS = ("onboard", "lab")
SD_ROOTFS = ("squashfs", "ext4")
COMPRESSIONS = ("zstd", "xz", "gzip")
# [tls] ciphersuites: TLS 1.3 suite names joined by ":"; ciphers: an OpenSSL cipher string
# (names, aliases, "+", "!", "-", "@STRENGTH"/"@SECLEVEL=n"), ":"-separated.  Both end up in
# board.env, which the init reads as shell: nothing outside these characters is accepted.
_TLS13_SUITES_RE = re.compile(r"TLS_[A-Z0-9_]+(:TLS_[A-Z0-9_]+)*")
_CIPHER_STRING_RE = re.compile(r"[A-Za-z0-9_+!@=.-]+(:[A-Za-z0-9_+!@=.-]+)*")


class BoardError(KilnError):
    """A board name that does not exist or a board file that does not follow the schema."""


@dataclass(frozen=True)
class QemuSpec:
    """How to start the board under QEMU (system emulation)."""

    binary: str
    machine: str
    cpu: str
    memory_mb: int
    smp: int
    nic_args: tuple[str, ...]
    package: str
    dtb: str = ""                          # SD-card boards: the boot partition's DTB QEMU loads
    console_serial: int = 0
    append: tuple[str, ...] = ()
    min_version: str = ""
    dtb_disable: tuple[str, ...] = ()
    dtb_delete: tuple[str, ...] = ()
    test_devices: tuple[str, ...] = ()     # QEMU arguments of the tests' emulated peripherals
    uart_serial: int = -1                  # QEMU serial port of the header UART (-1: none)
    wires: tuple[str, ...] = ()            # "<object>/<gpio-out link> -> <gpio-in>" (QOM)

    def wire_commands(self) -> list[tuple[str, dict]]:
        """The QMP commands making :attr:`wires` (``qom-set`` of each output's link property
        to its input), to run before the guest starts."""
        return [("qom-set", dict(zip(("path", "property", "value"), parse_wire(wire))))
                for wire in self.wires]

    def nic(self, netdev: str) -> list[str]:
        """QEMU arguments attaching the board's NIC to the ``-netdev`` whose id is ``netdev``."""
        return [arg.replace("{netdev}", netdev) for arg in self.nic_args]


def parse_wire(wire: str) -> tuple[str, str, str] | None:
    """``"/machine/<object>/<output link> -> /machine/<input>"`` as (object, output link,
    input) QOM paths; None when ``wire`` is not of that form."""
    out, arrow, into = (part.strip() for part in wire.partition("->"))
    obj, _, prop = out.rpartition("/")
    if arrow and obj.startswith("/machine/") and prop and into.startswith("/machine/") \
            and " " not in out + into:
        return obj, prop, into
    return None


@dataclass(frozen=True)
class SdcardSpec:
    """The SD-card image of a Raspberry Pi board (packed by :mod:`kiln.host.image.sdcard`)."""

    firmware_package: str             # GPU firmware package (raspi-firmware)
    firmware: tuple[str, ...]         # its files copied to the boot partition
    dtbs: tuple[str, ...]             # DTBs of the kernel package copied to the boot partition
    config_txt: tuple[str, ...]       # config.txt lines (the packer adds kernel= / initramfs)
    boot_modules: tuple[str, ...]     # loaded by the boot initramfs, in order (SD controller)
    boot_mb: int                      # FAT boot partition size
    root_mb: int                      # root partition size
    rootfs: str = "squashfs"          # "squashfs" (read-only + tmpfs overlay) or "ext4"
    apt_components: tuple[str, ...] = ()   # Debian components besides the recipe's
    lib_firmware_package: str = ""    # package with the /lib/firmware files below
    lib_firmware: tuple[str, ...] = ()     # paths below /lib/firmware copied to the root
    lib_firmware_links: tuple[str, ...] = ()  # "link=target" below /lib/firmware
    dt_enable: tuple[str, ...] = ()        # DT nodes set to status "okay" in every shipped DTB
    dt_remove: tuple[str, ...] = ()        # DT nodes deleted
    dt_spidev: tuple[str, ...] = ()        # "/spi-node:CS" children bound to spidev at boot
    dt_pinctrl: tuple[str, ...] = ()       # "/node=/pin-group-node": the node's default pins
    dt_cs_gpios: tuple[str, ...] = ()      # "/spi-node=/gpio-node:L0,L1": active-low chip selects


@dataclass(frozen=True)
class Board:
    """One validated board definition (see ``board_configs/*.toml`` for the meaning of fields)."""

    name: str
    description: str
    compatible: tuple[str, ...]
    debian_arch: str
    triplet: str
    kernel_package: str
    kernel_modules: tuple[str, ...]
    console: str
    cmdline: str
    python_host_platform: str
    cross_cc: str
    cross_packages: tuple[str, ...]
    openssl_target: str              # OpenSSL's Configure target (Kiln's own OpenSSL)
    qemu_user: str
    qemu: QemuSpec | None           # None: the board runs on hardware only
    image_format: str
    compression: str
    source: Path
    sdcard: SdcardSpec | None = None
    bsp_leds_off: tuple[str, ...] = ()
    bsp_interfaces_down: tuple[str, ...] = ()
    soc: str = ""                   # what bsp.board reports as the SoC ("" : from the device)
    eth_iface: str = "eth0"         # "" when the board has no Ethernet port
    wifi_iface: str = "wlan0"
    wifi_driver: str = ""           # driver.wifi.<name> of the board's radio ("" : none)
    wifi_radio: str = "onboard"     # "onboard", or "lab": only test-lab images have the radio
    tls_ciphersuites: str = ""      # TLS 1.3 client preference ("" : OpenSSL's default)
    tls_ciphers: str = ""           # TLS 1.2 client preference ("" : OpenSSL's default)
    tls_modules: tuple[str, ...] = ()  # kernel crypto drivers for kernel TLS on this CPU
    # Pins and buses ([gpio], [pins], [[i2c]], [[spi]], [[uart]], [[pwm]], [watchdog]; schema
    # and meaning: kiln.boardhw).
    hw: boardhw.Hardware = boardhw.Hardware()

    def has_wifi(self, labs: tuple[str, ...] = ()) -> bool:
        """True if an image built with the test-lab parts ``labs`` has this board's radio."""
        return bool(self.wifi_driver) and (self.wifi_radio == "onboard" or "wifi" in labs)

    def env_text(self, wifi: bool) -> str:
        """``/etc/kiln/board.env``, the facts the image's init exports to the launcher and the
        drivers, as shell ``NAME=value`` lines (both image pipelines write it from here):
        ``KILN_BOARD``, ``KILN_ETH_IFACE``, ``KILN_WIFI_IFACE`` and ``KILN_WIFI_DRIVER`` (only when
        the image has the radio: ``wifi``), ``KILN_TLS_CIPHERSUITES``/``KILN_TLS_CIPHERS`` (the
        client's cipher preference, read by kiln.net.tls); empty facts are left out."""
        facts = {"KILN_BOARD": self.name, "KILN_ETH_IFACE": self.eth_iface,
                 "KILN_WIFI_IFACE": self.wifi_iface if wifi else "",
                 "KILN_WIFI_DRIVER": self.wifi_driver if wifi else "",
                 "KILN_TLS_CIPHERSUITES": self.tls_ciphersuites,
                 "KILN_TLS_CIPHERS": self.tls_ciphers}
        return "".join(f"{name}={value}\n" for name, value in facts.items() if value)

    def toml_text(self) -> str:
        """The board file's text, exactly as read (shipped as ``/etc/kiln/board.toml``)."""
        return self.source.read_text()


def find_data_dir(name: str, env_var: str | None = None) -> list[Path]:
    """Existing directories called ``name`` where Kiln's data lives, most specific first.

    Looks in ``$env_var`` (``os.pathsep``-separated), the source tree (``<repo>/<name>``) and
    ``<sys.prefix>/share/kiln/<name>``.  Returns an empty list when none exists.
    """
    candidates: list[Path] = []
    if env_var and os.environ.get(env_var):
        candidates += [Path(p) for p in os.environ[env_var].split(os.pathsep) if p]
    candidates.append(Path(__file__).resolve().parents[2] / name)
    candidates.append(Path(sys.prefix) / "share" / "kiln" / name)
    seen: list[Path] = []
    for path in candidates:
        if path.is_dir() and path not in seen:
            seen.append(path)
    return seen


def _board_files() -> dict[str, Path]:
    files: dict[str, Path] = {}
    for directory in find_data_dir("board_configs", "KILN_BOARD_CONFIGS"):
        for path in sorted(directory.glob("*.toml")):
            files.setdefault(path.stem, path)
    return files


def names() -> list[str]:
    """Sorted names of every board Kiln knows (one per ``board_configs/<name>.toml``)."""
    return sorted(_board_files())


def load(name: str) -> Board:
    """Read and validate board ``name``.

    Raises :class:`BoardError` naming the known boards when ``name`` is unknown, and naming the
    file, table and key when the file is not valid TOML or breaks the schema.
    """
    files = _board_files()
    if name not in files:
        known = ", ".join(sorted(files)) or "none (no board_configs directory found)"
        raise BoardError(f"unknown board {name!r}; known boards: {known}")
    return load_file(files[name])


def load_file(path: Path, *, named_after_board: bool = True) -> Board:
    """Read and validate one board file.

    ``named_after_board``: the file's stem must be the board's name (``board_configs/``); an
    image's copy, ``/etc/kiln/board.toml``, is read with False.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise BoardError(f"{path}: cannot read board file: {exc}") from None
    return from_dict(data, source=path, named_after_board=named_after_board)


def from_dict(data: dict[str, Any], source: Path, named_after_board: bool = True) -> Board:
    """Validate the parsed TOML ``data`` of board file ``source`` and build a :class:`Board`."""
    _check_schema(data, source)
    b, deb, k, py, cross, img = (data[t] for t in
                                 ("board", "debian", "kernel", "python", "cross", "image"))
    q, sd, bsp, tls = (data.get(t) for t in OPTIONAL_TABLES)
    if named_after_board and b["name"] != source.stem:
        _fail(source, "board", "name", f"is {b['name']!r} but the file is named {source.name}")
    lists = [("board", "compatible"), ("kernel", "modules"), ("cross", "packages")]
    lists += [("qemu", "nic_args")] if q else []
    lists += [("sdcard", k) for k in ("config_txt", "firmware", "dtbs", "boot_modules",
                                      "apt_components", "lib_firmware", "lib_firmware_links")
              if sd and k in sd]
    lists += [("qemu", k) for k in ("append", "dtb_disable", "dtb_delete", "test_devices",
                                    "wires") if q and k in q]
    lists += [("sdcard", k) for k in ("dt_enable", "dt_remove", "dt_spidev", "dt_pinctrl",
                                      "dt_cs_gpios") if sd and k in sd]
    lists += [("bsp", key) for key in ("leds_off", "interfaces_down") if bsp and key in bsp]
    lists += [("tls", "modules")] if tls and "modules" in tls else []
    for table, key in lists:
        items = data[table][key]
        if not all(isinstance(i, str) and i for i in items):
            _fail(source, table, key, "must be a list of non-empty strings")
    if q:
        if q["memory_mb"] < 64:
            _fail(source, "qemu", "memory_mb", f"is {q['memory_mb']}; the image needs at least 64")
        if q.get("smp", 1) < 1:
            _fail(source, "qemu", "smp", "must be at least 1")
        if not any("{netdev}" in a for a in q["nic_args"]):
            _fail(source, "qemu", "nic_args", "must contain '{netdev}' where the -netdev id goes")
        if q.get("console_serial", 0) < 0:
            _fail(source, "qemu", "console_serial", "must be 0 or more")
        if q.get("uart_serial", -1) >= q.get("console_serial", 0):
            _fail(source, "qemu", "uart_serial", "must be a serial port before the console's "
                                                 "(console_serial)")
        for wire in q.get("wires", ()):
            if parse_wire(wire) is None:
                _fail(source, "qemu", "wires", f"has {wire!r}: each wire is "
                      f"'/machine/<object>/<output link> -> /machine/<input>' (QOM paths)")
        if sd is not None and not q.get("dtb"):
            _fail(source, "qemu", "dtb", "is missing: an SD-card board under QEMU needs the "
                                         "DTB QEMU loads (one of [sdcard] dtbs, by file name)")
        if sd is not None and q.get("dtb") and not any(
                d.rsplit("/", 1)[-1] == q["dtb"] for d in sd["dtbs"]):
            _fail(source, "qemu", "dtb", f"is {q['dtb']!r}, which is not in [sdcard] dtbs")
    if sd:
        if sd.get("rootfs", "squashfs") not in SD_ROOTFS:
            _fail(source, "sdcard", "rootfs", f"is {sd['rootfs']!r}; expected one of {SD_ROOTFS}")
        for key in ("boot_mb", "root_mb"):
            if sd[key] < 8:
                _fail(source, "sdcard", key, f"is {sd[key]}; at least 8 (MiB)")
        for link in sd.get("lib_firmware_links", ()):
            if link.count("=") != 1:
                _fail(source, "sdcard", "lib_firmware_links", f"entry {link!r} is not LINK=TARGET")
        for key in ("dt_enable", "dt_remove"):
            for node in sd.get(key, ()):
                if not node.startswith("/"):
                    _fail(source, "sdcard", key, f"entry {node!r} is not a node path (/soc/...)")
        for entry in sd.get("dt_spidev", ()):
            node, _, cs = entry.rpartition(":")
            if not node.startswith("/") or not cs.isdigit():
                _fail(source, "sdcard", "dt_spidev", f"entry {entry!r} is not /spi-node:CS")
        for entry in sd.get("dt_pinctrl", ()):
            node, _, pins = entry.partition("=")
            if not node.startswith("/") or not all(g.strip().startswith("/")
                                                   for g in pins.split(",")):
                _fail(source, "sdcard", "dt_pinctrl", f"entry {entry!r} is not "
                                                      f"/node=/pin-node[,/pin-node]")
        for entry in sd.get("dt_cs_gpios", ()):
            node, _, rest = entry.partition("=")
            gpio, _, lines = rest.rpartition(":")
            if not (node.startswith("/") and gpio.startswith("/") and lines
                    and all(n.isdigit() for n in lines.split(","))):
                _fail(source, "sdcard", "dt_cs_gpios", f"entry {entry!r} is not "
                                                       f"/spi-node=/gpio-node:LINE,LINE")
    if bsp and bsp.get("wifi_radio", "onboard") not in WIFI_RADIOS:
        _fail(source, "bsp", "wifi_radio", f"is {bsp['wifi_radio']!r}; expected one of "
                                           f"{WIFI_RADIOS}")
    tls = tls or {}
    if "ciphersuites" in tls and not _TLS13_SUITES_RE.fullmatch(tls["ciphersuites"]):
        _fail(source, "tls", "ciphersuites", f"is {tls['ciphersuites']!r}; expected TLS 1.3 "
                                             f"suite names joined by ':' (OpenSSL's syntax, "
                                             f"e.g. 'TLS_CHACHA20_POLY1305_SHA256:"
                                             f"TLS_AES_128_GCM_SHA256')")
    if "ciphers" in tls and not _CIPHER_STRING_RE.fullmatch(tls["ciphers"]):
        _fail(source, "tls", "ciphers", f"is {tls['ciphers']!r}; expected an OpenSSL cipher "
                                        f"string (e.g. 'CHACHA20:ALL:!COMPLEMENTOFDEFAULT:"
                                        f"!eNULL'): names and aliases joined by ':', with "
                                        f"'+', '!', '-', '@' -- no spaces or quotes")
    if img["format"] not in IMAGE_FORMATS:
        _fail(source, "image", "format", f"is {img['format']!r}; expected one of {IMAGE_FORMATS}")
    if (img["format"] == "sdcard") != (sd is not None):
        _fail(source, "image", "format", f"is {img['format']!r}: an [sdcard] table is "
                                         f"{'required' if sd is None else 'not allowed'}")
    if img["format"] == "initramfs" and q is None:
        _fail(source, "image", "format", "is 'initramfs', which boots under QEMU: "
                                         "a [qemu] table is required")
    compression = img.get("compression", "zstd")
    if compression not in COMPRESSIONS:
        _fail(source, "image", "compression", f"is {compression!r}; expected one of {COMPRESSIONS}")
    console_args = [a for a in k["cmdline"].split()
                    if a == f"console={k['console']}" or a.startswith(f"console={k['console']},")]
    if not console_args:
        _fail(source, "kernel", "cmdline", f"must contain console={k['console']}")
    bsp = bsp or {}
    hw = boardhw.parse(data, lambda table, key, problem: _fail(source, table, key, problem))
    return Board(
        name=b["name"], description=b.get("description", b["name"]),
        compatible=tuple(b["compatible"]), debian_arch=deb["arch"], triplet=deb["triplet"],
        kernel_package=deb["kernel_package"], kernel_modules=tuple(k["modules"]),
        console=k["console"], cmdline=k["cmdline"], python_host_platform=py["host_platform"],
        cross_cc=cross["cc"], cross_packages=tuple(cross["packages"]),
        openssl_target=cross["openssl_target"],
        qemu_user=cross["qemu_user"],
        qemu=QemuSpec(binary=q["binary"], machine=q["machine"], cpu=q["cpu"],
                      memory_mb=q["memory_mb"], smp=q.get("smp", 1),
                      nic_args=tuple(q["nic_args"]), package=q["package"],
                      dtb=q.get("dtb", ""), console_serial=q.get("console_serial", 0),
                      append=tuple(q.get("append", ())), min_version=q.get("min_version", ""),
                      dtb_disable=tuple(q.get("dtb_disable", ())),
                      dtb_delete=tuple(q.get("dtb_delete", ())),
                      test_devices=tuple(q.get("test_devices", ())),
                      uart_serial=q.get("uart_serial", -1),
                      wires=tuple(q.get("wires", ()))) if q else None,
        image_format=img["format"], compression=compression, source=source,
        sdcard=SdcardSpec(
            firmware_package=sd["firmware_package"], firmware=tuple(sd["firmware"]),
            dtbs=tuple(sd["dtbs"]), config_txt=tuple(sd["config_txt"]),
            boot_modules=tuple(sd["boot_modules"]), boot_mb=sd["boot_mb"],
            root_mb=sd["root_mb"], rootfs=sd.get("rootfs", "squashfs"),
            apt_components=tuple(sd.get("apt_components", ())),
            lib_firmware_package=sd.get("lib_firmware_package", ""),
            lib_firmware=tuple(sd.get("lib_firmware", ())),
            lib_firmware_links=tuple(sd.get("lib_firmware_links", ())),
            dt_enable=tuple(sd.get("dt_enable", ())), dt_remove=tuple(sd.get("dt_remove", ())),
            dt_spidev=tuple(sd.get("dt_spidev", ())),
            dt_pinctrl=tuple(sd.get("dt_pinctrl", ())),
            dt_cs_gpios=tuple(sd.get("dt_cs_gpios", ()))) if sd else None,
        bsp_leds_off=tuple(bsp.get("leds_off", ())),
        bsp_interfaces_down=tuple(bsp.get("interfaces_down", ())),
        eth_iface=bsp.get("eth", "eth0"), wifi_iface=bsp.get("wifi", "wlan0"),
        wifi_driver=bsp.get("wifi_driver", ""), wifi_radio=bsp.get("wifi_radio", "onboard"),
        soc=b.get("soc", ""),
        tls_ciphersuites=tls.get("ciphersuites", ""), tls_ciphers=tls.get("ciphers", ""),
        tls_modules=tuple(tls.get("modules", ())), hw=hw,
    )


def _check_schema(data: dict[str, Any], source: Path) -> None:
    for table in data:
        if table not in _SCHEMA and table not in boardhw.HW_TABLES:
            raise BoardError(f"{source}: unknown table [{table}]; expected "
                             f"{sorted(_SCHEMA) + sorted(boardhw.HW_TABLES)}")
    for table, keys in _SCHEMA.items():
        if table in OPTIONAL_TABLES and table not in data:
            continue
        if not isinstance(data.get(table), dict):
            raise BoardError(f"{source}: missing table [{table}]")
        for key in data[table]:
            if key not in keys:
                _fail(source, table, key, f"is not a known key; expected one of {sorted(keys)}")
        for key, (kind, required) in keys.items():
            if key not in data[table]:
                if required:
                    _fail(source, table, key, "is missing")
                continue
            value = data[table][key]
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                _fail(source, table, key, f"must be {kind.__name__}, got {type(value).__name__}")
            if kind is str and not value.strip() and (table, key) not in _MAY_BE_EMPTY:
                _fail(source, table, key, "must not be empty")


def _fail(source: Path, table: str, key: str, problem: str) -> None:
    raise BoardError(f"{source}: [{table}] {key} {problem}")
