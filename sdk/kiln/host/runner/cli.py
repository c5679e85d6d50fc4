"""kiln run: build if needed, boot a board under QEMU in an isolated network lab.

The lab is a fresh network namespace holding a tap device, the host-side address and dnsmasq
(DHCP and DNS); the guest's console is streamed to stdout, Kiln's own messages go to stderr.

Exit status: the app's own status when the guest reports it; 124 when ``--timeout`` expires;
1 when the guest stops without reporting one; 2 for user-facing errors (``KilnError``);
130/143 on Ctrl-C/SIGTERM.  The lab is torn down in every case.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

TIMEOUT_STATUS = 124
DEFAULT_SUBNET = "10.77.0.0/24"
NO_STATUS = 1


def register(subparsers) -> None:
    """Add the ``run`` subcommand to the ``kiln`` parser's ``subparsers``."""
    p = subparsers.add_parser(
        "run", help="boot a board's image under QEMU on an isolated tap network",
        description="Build the board's image if needed, then boot it under QEMU on a tap "
                    "device in a fresh network namespace with dnsmasq serving DHCP and DNS; "
                    "stream the console and exit with the app's status.",
        epilog="Needs root. Host-side servers: `ip netns exec NAME COMMAND` (NAME is printed "
               "at start; choose it with --netns).")
    p.add_argument("--board", required=True, help="board name (a file in board_configs/)")
    p.add_argument("--app", type=Path,
                   help="the app: a main.py, or a directory holding main.py, copied whole "
                        "(packages, lib/, data files; default: the image's demo app)")
    p.add_argument("--out-dir", type=Path, metavar="DIR",
                   help="where the image is built and reused (default: out/<board>/)")
    p.add_argument("--netns", metavar="NAME",
                   help="name of the network namespace to create (default: unique kiln-XXXXXXXX)")
    p.add_argument("--dns-record", metavar="HOST=IP", action="append", default=[],
                   help="extra DNS answer served to the guest (repeatable)")
    p.add_argument("--static", metavar="IP/PREFIX",
                   help="give the guest this static address instead of DHCP; the lab's subnet "
                        "becomes its network and the host side takes its first free address")
    p.add_argument("--host-server", metavar="COMMAND", action="append", default=[],
                   help="shell command started in the namespace before the guest boots "
                        "(repeatable), e.g. 'python3 -m http.server 80'")
    p.add_argument("--api", choices=("zerynth", "micropython", "cpython"), default="zerynth",
                   help="what the app's globals and 'import socket' follow (default: zerynth)")
    p.add_argument("--app-owns-network", action="store_true",
                   help="boot with eth0 unconfigured (kiln.net=none): the app brings it up "
                        "itself with eth.configure()/eth.start(), as Zerynth programs do")
    p.add_argument("--subnet", metavar="CIDR",
                   help="the lab's subnet (default 10.77.0.0/24); the host side takes its first "
                        "address, DHCP leases after it and after every --host-address")
    p.add_argument("--host-address", metavar="IP", action="append", default=[],
                   help="one more host-side address in the lab (repeatable), e.g. the server "
                        "address a program hard-codes (the Zerynth seed's 192.168.1.10)")
    wifi = p.add_argument_group(
        "Wi-Fi lab", "boot an image with the Wi-Fi test lab (simulated radios; hostapd on the "
        "second one in a guest-side namespace, bridged to the board's NIC, so the app's "
        "station reaches this lab over Wi-Fi); the app owns the network (kiln.net=none)")
    wifi.add_argument("--wifi-ap", metavar="SSID",
                      help="start an access point with this SSID")
    wifi.add_argument("--wifi-password", metavar="PASS", default="",
                      help="its WPA2 passphrase or WPA3 password")
    wifi.add_argument("--wifi-security", choices=("open", "wpa2", "wpa3"), default=None,
                      help="its security (default: wpa2 with a password, open without)")
    p.add_argument("--qmp", metavar="SOCKET", type=Path, default=None,
                   help="QEMU's QMP monitor on this Unix socket, for acting on the running "
                        "board (kiln.host.runner.qmp: e.g. system_powerdown presses the "
                        "virt boards' power button, BTN0)")
    p.add_argument("--uart", metavar="SOCKET", type=Path, default=None,
                   help="the board's header UART ([qemu] uart_serial, the Pis' PL011) on this "
                        "Unix socket (QEMU listens; connect with e.g. socat)")
    p.add_argument("--timeout", metavar="S", type=float, default=None,
                   help="stop the guest after S seconds (default: run until it powers off)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Carry out ``kiln run``; returns the process exit status (see module docstring)."""
    # Imported here so that `kiln --help` stays cheap.
    from kiln import boards
    from kiln.errors import KilnError
    from kiln.host.runner import boot, dnsmasq, netns, preflight, qemutool, signals
    from kiln.host.runner.addressing import LabAddressing
    from kiln.host.runner.netlab import NetLab
    from kiln.host.runner.wifilab import LabNetwork, lab_arg

    if args.timeout is not None and args.timeout <= 0:
        raise KilnError(f"--timeout must be a positive number of seconds, got {args.timeout}")
    if args.app is not None and not (args.app.is_file() or (args.app / "main.py").is_file()):
        raise KilnError(f"--app {args.app}: no such file (nor a directory with a main.py)")
    if args.static and args.subnet:
        raise KilnError("--static and --subnet both choose the lab's subnet: give one of them")
    if not args.wifi_ap and (args.wifi_password or args.wifi_security):
        raise KilnError("--wifi-password and --wifi-security describe the --wifi-ap network: "
                        "give --wifi-ap SSID too")
    try:
        addressing = LabAddressing.around_static(args.static) if args.static \
            else LabAddressing.for_network(args.subnet or DEFAULT_SUBNET,
                                           reserved=tuple(args.host_address))
        records = [dnsmasq.parse_dns_record(r) for r in args.dns_record]
        lab = NetLab(name=args.netns, addressing=addressing,
                     dns_records=[(h, str(ip)) for h, ip in records],
                     host_addresses=args.host_address)
        wifi_arg = ""
        if args.wifi_ap:
            security = args.wifi_security or ("wpa2" if args.wifi_password else "open")
            wifi_arg = lab_arg([LabNetwork(args.wifi_ap, security, args.wifi_password)])
    except ValueError as exc:
        raise KilnError(str(exc)) from None
    if args.netns is not None and netns.exists(args.netns):  # fail before a long build
        raise KilnError(f"network namespace {args.netns} already exists: choose another "
                        f"--netns name or delete it with `ip netns del {args.netns}`")

    board = boards.load(args.board)
    if board.qemu is not None and board.qemu.min_version:
        qemutool.ensure(board)        # a newer QEMU, unpacked privately (before the long build)
    preflight.check_run(board)
    artifacts = _build(board, args.app, args.out_dir, ("wifi",) if wifi_arg else ())
    # SD-card images boot from files taken out of a copy of the image (sdboot.prepare).
    workdir = Path(tempfile.mkdtemp(prefix=f"kiln-run-{board.name}-"))

    with signals.terminate_raises():
        try:
            image = boot.from_artifacts(artifacts, board, workdir)
            lab.start()
            _print_lab(lab, static=bool(args.static))
            for command in args.host_server:  # their output goes to stderr, like ours
                lab.spawn(["sh", "-c", command], stdin=subprocess.DEVNULL, stdout=sys.stderr)
            owns_network = args.app_owns_network or bool(wifi_arg)
            extra = " ".join(part for part in (f"kiln.api={args.api}", wifi_arg,
                                               "kiln.net=none" if owns_network else "") if part)
            outcome, _ = boot.boot(board, image, lab, static=bool(args.static),
                                   timeout_s=args.timeout, on_output=_stream,
                                   extra_cmdline=extra, qmp_socket=args.qmp,
                                   uart_socket=args.uart)
        finally:
            with signals.deferred():
                lab.close()
                shutil.rmtree(workdir, ignore_errors=True)
    if outcome.app_status is not None:
        return outcome.app_status
    if not outcome.eof:
        print(f"kiln: timed out after {args.timeout:g} s; guest stopped", file=sys.stderr)
        return TIMEOUT_STATUS
    print("kiln: the guest stopped without reporting the app's exit status", file=sys.stderr)
    return NO_STATUS


def _build(board, app: Path | None, out_dir: Path | None, labs: tuple[str, ...] = ()):
    """The board's image for ``app`` (with the test-lab parts ``labs``): reused when its inputs
    are unchanged, else built."""
    from kiln.errors import KilnError
    try:
        from kiln.host import image
    except ModuleNotFoundError as exc:
        raise KilnError(f"the image builder is not available ({exc})") from None
    artifacts = image.cached(board, app=app, out_dir=out_dir, labs=labs)
    if artifacts is None:
        print(f"kiln: building the {board.name} image ...", file=sys.stderr, flush=True)
        artifacts = image.build(board, app=app, out_dir=out_dir, labs=labs)
    return artifacts


def _print_lab(lab, static: bool) -> None:
    guest = (f"static {lab.addressing.static_guest_interface}" if static
             else f"DHCP from {lab.addressing.dhcp_first}-{lab.addressing.dhcp_last}")
    records = ", ".join(f"{h}={ip}" for h, ip in sorted(lab.dns_records.items()))
    print(f"kiln: network namespace {lab.name} (no route to any real network)\n"
          f"kiln:   host side {lab.addressing.host_interface} on {lab.tap}; guest: {guest}\n"
          f"kiln:   DNS answers: {records}\n"
          f"kiln:   start a host-side server with: {lab.server_hint()}",
          file=sys.stderr, flush=True)


def _stream(chunk: bytes) -> None:
    sys.stdout.buffer.write(chunk)
    sys.stdout.buffer.flush()
