"""The pieces of ``kiln run`` without QEMU: addressing, dnsmasq, network lab (both modes),
console, QEMU arguments (for ``kiln run`` and for the labgrid place alike), preflight, argument
errors.  The network-lab tests need root."""
from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import shlex
import socket
import struct
import subprocess
import sys
import threading
import time
import tomllib
from pathlib import Path

import pytest

from kiln import boards
from kiln.host.runner import console, dnsmasq, netns, preflight, qemu
from kiln.host.runner.addressing import LabAddressing
from kiln.host.runner.boot import BootImage
from kiln.host.runner.netlab import NetLab, NetLabError

from labgrid_env import QEMU_PLACE, STRATEGY, TARGET, boot_variables, open_environment
from layout import hardware_boards, qemu_boards

BOARDS = qemu_boards()


# -- addressing ------------------------------------------------------------------------------

def test_default_addressing_puts_host_first_and_pool_after_static_guest():
    a = LabAddressing.for_network("10.77.0.0/24")
    assert (str(a.host), str(a.static_guest)) == ("10.77.0.1", "10.77.0.2")
    assert (str(a.dhcp_first), str(a.dhcp_last)) == ("10.77.0.3", "10.77.0.66")
    assert str(a.host_interface) == "10.77.0.1/24"


def test_addressing_around_static_guest_avoids_its_address():
    a = LabAddressing.around_static("192.168.50.1/24")
    assert str(a.static_guest) == "192.168.50.1" and str(a.host) == "192.168.50.2"
    assert a.static_guest not in (a.dhcp_first, a.dhcp_last)
    assert str(LabAddressing.around_static("172.16.3.9/16").host) == "172.16.0.1"


@pytest.mark.parametrize("bad, words", [
    ("10.0.0.5", "needs a prefix length"),
    ("10.0.0.5/31", "too small"),
    ("10.0.0.0/24", "network or broadcast"),
    ("fe80::1/64", "not IPv4"),
    ("banana/24", "invalid static address"),
])
def test_addressing_rejects_bad_static_addresses(bad, words):
    with pytest.raises(ValueError, match=words):
        LabAddressing.around_static(bad)


# -- dnsmasq ---------------------------------------------------------------------------------

def test_dns_record_parsing():
    assert dnsmasq.parse_dns_record("now.zerynth.com=10.77.0.1") == \
        ("now.zerynth.com", ipaddress.IPv4Address("10.77.0.1"))
    for bad, words in [("now.zerynth.com", "HOST=IP"), ("bad host=1.2.3.4", "not a valid DNS"),
                       ("x.com=1.2.3", "not an IPv4")]:
        with pytest.raises(ValueError, match=words):
            dnsmasq.parse_dns_record(bad)


def test_lease_file_parsing(tmp_path):
    path = tmp_path / "leases"
    path.write_text("1795243829 52:54:00:12:34:56 10.77.0.18 kiln-qemu 01:52:54:00:12:34:56\n"
                    "1795243830 52:54:00:AA:BB:CC 10.77.0.19 * *\n")
    leases = dnsmasq.read_leases(path)
    assert [(l.mac, str(l.ip), l.hostname) for l in leases] == [
        ("52:54:00:12:34:56", "10.77.0.18", "kiln-qemu"), ("52:54:00:aa:bb:cc", "10.77.0.19", None)]
    assert dnsmasq.read_leases(tmp_path / "missing") == []


# -- network lab -----------------------------------------------------------------------------

def _dns_query(lab: NetLab, name: str) -> tuple[int, list[str]]:
    """Ask the lab's dnsmasq for ``name`` (A record); returns (rcode, addresses)."""
    qid = os.getpid() & 0xFFFF
    question = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    packet = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + question + struct.pack("!HH", 1, 1)
    with lab.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        s.sendto(packet, (str(lab.host_address), 53))
        reply = s.recv(512)
    rid, flags, _, ancount = struct.unpack("!HHHH", reply[:8])
    assert rid == qid
    offset = 12 + len(question) + 4
    addresses = []
    for _ in range(ancount):
        offset += 2  # compressed name pointer
        rtype, _, _, rdlen = struct.unpack("!HHIH", reply[offset:offset + 10])
        offset += 10
        if rtype == 1:
            addresses.append(str(ipaddress.IPv4Address(reply[offset:offset + rdlen])))
        offset += rdlen
    return flags & 0xF, addresses


def test_netlab_serves_dns_records_added_before_and_during_the_run():
    with NetLab(dns_records=[("now.zerynth.com", "10.77.0.1")]) as lab:
        assert _dns_query(lab, "now.zerynth.com") == (0, ["10.77.0.1"])
        assert _dns_query(lab, "kiln-host") == (0, [str(lab.host_address)])
        lab.add_dns_record("late.example", "10.77.0.42")
        deadline = time.monotonic() + 5
        while _dns_query(lab, "late.example")[1] != ["10.77.0.42"]:
            assert time.monotonic() < deadline, "SIGHUP did not reload the hosts file"
            time.sleep(0.1)
    assert not netns.exists(lab.name)


def test_netlab_close_kills_spawned_and_hand_started_processes():
    lab = NetLab().start()
    try:
        spawned = lab.spawn(["sleep", "600"])
        by_hand = subprocess.Popen(["ip", "netns", "exec", lab.name, "sleep", "600"])
        workdir = lab.workdir
        time.sleep(0.2)
    finally:
        lab.close()
    assert spawned.poll() is not None
    assert by_hand.wait(timeout=5) is not None
    assert not netns.exists(lab.name) and not workdir.exists()
    lab.close()  # idempotent


def test_netlab_refuses_an_existing_namespace_and_bad_names():
    with NetLab() as lab:
        with pytest.raises(NetLabError, match=f"ip netns del {lab.name}"):
            NetLab(name=lab.name).start()
        assert netns.exists(lab.name)  # the failed second lab did not delete the first
    with pytest.raises(ValueError, match="invalid network namespace name"):
        NetLab(name="../etc")


def test_netlab_link_can_be_pulled():
    with NetLab() as lab:
        lab.set_link(False)
        assert "state DOWN" in lab.run(["ip", "link", "show", lab.tap]).stdout
        lab.set_link(True)
        assert ",UP" in lab.run(["ip", "link", "show", lab.tap]).stdout


def test_netlab_without_dhcp_runs_no_dnsmasq():
    with NetLab(dhcp=False) as lab:
        pids = subprocess.run(["ip", "netns", "pids", lab.name], capture_output=True,
                              text=True).stdout.split()
        assert pids == [] and lab.leases() == [] and lab.dnsmasq_log() == ""


def _link_names(ip_o_link: str) -> list[str]:
    return sorted(line.split(":")[1].strip().split("@")[0] for line in ip_o_link.splitlines())


def test_veth_lab_puts_the_device_end_alone_in_its_own_namespace():
    with NetLab(mode="veth") as lab:
        device_ns, etc_dir = lab.device_netns, lab.device_resolv_conf.parent
        host_links = lab.run(["ip", "-o", "link"]).stdout
        device_links = lab.run(["ip", "-o", "link"], device=True).stdout
        assert _link_names(host_links) == ["kpeer0", "lo"]
        assert _link_names(device_links) == ["keth0", "lo"]
        assert f"inet {lab.addressing.host_interface}" in lab.run(["ip", "addr"]).stdout
        assert "inet " not in lab.run(["ip", "addr", "show", "keth0"], device=True).stdout
        assert lab.device_resolv_conf.is_file() and lab.dnsmasq_running
        sleeper = lab.spawn(["sleep", "600"], device=True)
        time.sleep(0.2)
        assert sleeper.pid in lab.pids(device=True) and sleeper.pid not in lab.pids()
        with pytest.raises(NetLabError, match="veth lab"):
            lab.tap
    assert sleeper.poll() is not None
    assert not netns.exists(lab.name) and not netns.exists(device_ns) and not etc_dir.exists()
    with pytest.raises(NetLabError, match="tap lab"):
        NetLab().device_netns
    with pytest.raises(ValueError, match="mode"):
        NetLab(mode="bridge")


def test_netlab_dnsmasq_restarts_with_a_new_pool_and_forgets_leases():
    with NetLab(dhcp=False, local_domains=["kiln.test"]) as lab:
        assert not lab.dnsmasq_running and lab.dnsmasq_log() == ""
        lab.start_dnsmasq(pool=("10.77.0.200", "10.77.0.210"))
        assert "DHCP, IP range 10.77.0.200 -- 10.77.0.210" in lab.dnsmasq_log()
        assert _dns_query(lab, "x.kiln.test") == (3, [])        # NXDOMAIN: a local domain
        with pytest.raises(NetLabError, match="already running"):
            lab.start_dnsmasq()
        with pytest.raises(NetLabError, match="stop dnsmasq"):
            lab.clear_leases()
        lab.stop_dnsmasq()
        assert not lab.dnsmasq_running
        lab.clear_leases()
        lab.start_dnsmasq()
        assert lab.dnsmasq_log().count("DHCP, IP range 10.77.0.200") == 2   # log kept, pool too


# -- console ---------------------------------------------------------------------------------

def _feed(chunks: list[tuple[float, bytes]], close: bool = True) -> int:
    r, w = os.pipe()

    def writer():
        for delay, data in chunks:
            time.sleep(delay)
            os.write(w, data)
        if close:
            os.close(w)

    threading.Thread(target=writer, daemon=True).start()
    return r


def test_console_follow_reads_lines_status_and_eof():
    fd = _feed([(0, b"KILN: app start\r\nhel"), (0.05, b"lo\nKILN: app exited with status 3\n"),
                (0, b"tail")])
    seen = []
    out = console.follow(fd, 5, on_output=seen.append)
    os.close(fd)
    assert out.eof and out.app_status == 3
    assert [line for _, line in out.lines] == ["KILN: app start", "hello",
                                               "KILN: app exited with status 3", "tail"]
    assert b"".join(seen).endswith(b"tail")


def test_console_follow_times_out_and_stops_on_request():
    fd = _feed([(0, b"one\n")], close=False)
    start = time.monotonic()
    out = console.follow(fd, 0.3)
    assert not out.eof and out.app_status is None and 0.3 <= time.monotonic() - start < 2
    fd2 = _feed([(0, b"a\nb\nc\n")])
    out2 = console.follow(fd2, 5, on_line=lambda t, line: line == "b")
    assert [line for _, line in out2.lines] == ["a", "b"]
    os.close(fd)
    os.close(fd2)
    with pytest.raises(ValueError):
        console.follow(0, -1)


# -- QEMU command line -----------------------------------------------------------------------

@pytest.mark.parametrize("name", BOARDS)
def test_qemu_command_comes_from_board_data(name, tmp_path):
    board = boards.load(name)
    kernel, initrd = tmp_path / "vmlinuz", tmp_path / "initrd"
    kernel.write_bytes(b"k")
    initrd.write_bytes(b"i")
    argv = qemu.command(board, kernel, initrd, "console=ttyAMA0 kiln.net=dhcp", "kiln0")
    # (a board needing a newer QEMU than the host's runs a private copy of the same binary)
    assert Path(argv[0]).name == board.qemu.binary
    assert argv[argv.index("-M") + 1] == board.qemu.machine
    assert argv[argv.index("-cpu") + 1] == board.qemu.cpu
    assert argv[argv.index("-m") + 1] == str(board.qemu.memory_mb)
    assert f"tap,id={qemu.NETDEV_ID},ifname=kiln0,script=no,downscript=no" in argv
    assert argv[argv.index("-append") + 1] == "console=ttyAMA0 kiln.net=dhcp"
    joined = " ".join(argv)
    assert " ".join(board.qemu.nic(qemu.NETDEV_ID)) in joined

    other = dataclasses.replace(board, qemu=dataclasses.replace(board.qemu, binary="qemu-x",
                                                                cpu="cortex-a7"))
    argv2 = qemu.command(other, kernel, initrd, "x", "kiln0")
    assert argv2[0] == "qemu-x" and argv2[argv2.index("-cpu") + 1] == "cortex-a7"
    with pytest.raises(FileNotFoundError, match="initramfs"):
        qemu.command(board, kernel, tmp_path / "none", "x", "kiln0")


@pytest.mark.parametrize("name", BOARDS)
def test_runner_and_labgrid_place_start_qemu_with_the_same_arguments(name, tmp_path):
    board = boards.load(name)
    image = BootImage(tmp_path / "vmlinuz", tmp_path / "initrd", board.cmdline)
    image.kernel.write_bytes(b"k")
    image.initrd.write_bytes(b"i")
    cmdline = f"{board.cmdline} kiln.net=dhcp kiln.test=imports"
    runner = qemu.command(board, image.kernel, image.initrd, cmdline, "kiln0")
    common = qemu.arguments(board, image.kernel, image.initrd, cmdline, "kiln0",
                            console="labgrid", pidfile=tmp_path / "qemu.pid")
    before = {k: v for k, v in os.environ.items() if k.startswith("LG_")}
    with NetLab() as lab:
        env = open_environment(QEMU_PLACE, boot_variables(board, image, lab, cmdline,
                                                          pidfile=tmp_path / "qemu.pid"))
        try:
            target = env.get_target(TARGET)
            driver = target.get_driver("QEMUDriver", activate=False)
            strategy = target.get_driver(STRATEGY, activate=False)
            placed = driver.get_qemu_base_args()     # what labgrid will start, minus its QMP/serial
            wrapper = Path(placed[0]).read_text()
        finally:
            env.cleanup()
    assert {k: v for k, v in os.environ.items() if k.startswith("LG_")} == before
    # The labgrid place runs the board's QEMU in the lab namespace with kiln run's arguments.
    assert f"ip netns exec {lab.name} " in wrapper and board.qemu.binary in wrapper
    assert placed[placed.index("-machine") + 1] == runner[runner.index("-M") + 1]
    assert placed[placed.index("-cpu") + 1] == runner[runner.index("-cpu") + 1]
    assert placed[placed.index("-m") + 1] == runner[runner.index("-m") + 1]
    assert placed[placed.index("-kernel") + 1] == runner[runner.index("-kernel") + 1]
    assert placed[placed.index("-append") + 1] == runner[runner.index("-append") + 1] == cmdline
    assert shlex.join(common.args) in shlex.join(placed)
    shared = ["-smp", str(board.qemu.smp), "-no-reboot", "-initrd", str(image.initrd),
              "-netdev", f"tap,id={qemu.NETDEV_ID},ifname=kiln0,script=no,downscript=no",
              *board.qemu.nic(qemu.NETDEV_ID)]
    for argv in (runner, placed):
        joined = shlex.join(argv)
        assert all(shlex.join([a]) in joined for a in shared), (shared, argv)
    assert "-no-shutdown" in placed and "-no-shutdown" not in runner
    assert "chardev:console" in runner and "chardev:console" not in placed
    # The strategy binds the place's power and console (here both QEMU) and its cable switch.
    assert strategy.power is driver and strategy.console is driver
    assert type(strategy.cable).__name__ == "QEMUNetLinkDriver"
    # The place makes the board's [qemu] wires over QMP before the guest runs, as kiln run does.
    assert [tuple(w) for w in json.loads(driver.wires)] == board.qemu.wire_commands()
    assert strategy.sdmux is None and strategy.storage is None and strategy.board == name


# -- preflight -------------------------------------------------------------------------------

def test_preflight_messages_name_the_fix(tmp_path):
    assert "sudo" in preflight.root_problem(euid=1000)
    assert preflight.root_problem(euid=0) is None
    assert "modprobe tun" in preflight.tun_problem(tmp_path / "tun")
    (tmp_path / "file").write_text("")
    assert "not a character device" in preflight.tun_problem(tmp_path / "file")
    assert preflight.program_problem("kiln-no-such-program", "kiln-pkg") == \
        "kiln-no-such-program not found: install it with `apt-get install kiln-pkg`"
    assert "CONFIG_NET_NS" in preflight.netns_problem(tmp_path / "net")


@pytest.mark.parametrize("name", BOARDS)
def test_preflight_names_the_qemu_package_of_the_board(name, monkeypatch):
    board = boards.load(name)
    monkeypatch.setenv("PATH", "/nonexistent")
    problems = preflight.problems_for_run(board)
    assert f"{board.qemu.binary} not found: install it with `apt-get install " \
           f"{board.qemu.package}`" in problems
    assert "dnsmasq not found: install it with `apt-get install dnsmasq-base`" in problems


@pytest.mark.parametrize("name", boards.names())
def test_kiln_run_refuses_hardware_only_boards_by_name(name):
    hardware_only = dataclasses.replace(boards.load(name), qemu=None)
    problems = preflight.problems_for_run(hardware_only)
    assert problems == [f"board {name} runs on hardware only (its board file has no [qemu] "
                        f"table): kiln run boots QEMU boards ({', '.join(BOARDS)})"]


def test_qemu_boards_are_the_board_files_with_a_qemu_table():
    files = sorted((Path(boards.__file__).resolve().parents[2] / "board_configs").glob("*.toml"))
    with_qemu = [f.stem for f in files if "qemu" in tomllib.loads(f.read_text())]
    assert BOARDS == with_qemu and {"qemu-aarch64", "qemu-arm"} <= set(BOARDS)
    assert sorted(BOARDS + hardware_boards()) == [f.stem for f in files]


# -- kiln run argument errors ----------------------------------------------------------------

@pytest.mark.parametrize("args, words", [
    (["--dns-record", "now.zerynth.com"], "must look like HOST=IP"),
    (["--static", "10.1.2.3"], "needs a prefix length"),
    (["--netns", "a/b"], "invalid network namespace name"),
    (["--timeout", "0"], "--timeout must be a positive"),
    (["--app", "/nonexistent/main.py"], "no such file"),
])
def test_kiln_run_rejects_bad_arguments_before_doing_anything(args, words):
    # A namespace name of our own, so that other sessions' labs coming and going do not matter.
    name = f"kiln-test-{os.getpid()}-{time.monotonic_ns() % 100000}"
    named = args if "--netns" in args else [*args, "--netns", name]
    before = set(netns.list_names())
    result = subprocess.run([sys.executable, "-m", "kiln.host", "run", "--board", "qemu-aarch64",
                             *named], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert words in result.stderr and result.stderr.startswith("kiln: ")
    assert not netns.exists(name)
    assert not [n for n in set(netns.list_names()) - before if not n.startswith("kiln-")]


def test_kiln_run_unknown_board_lists_known_boards():
    result = subprocess.run([sys.executable, "-m", "kiln.host", "run", "--board", "nope"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "qemu-aarch64" in result.stderr


def test_netns_socket_lives_in_the_namespace():
    with NetLab() as lab:
        with lab.socket() as s:
            s.bind((str(lab.host_address), 0))  # only exists inside the lab
        with socket.socket() as s, pytest.raises(OSError):
            s.bind((str(lab.host_address), 0))




def test_header_uart_qmp_and_test_devices_on_the_qemu_command_line(tmp_path):
    """rpi3b: the PL011 (serial 0, before the console) on a Unix socket QEMU listens on, the
    console still last; QMP on its own socket; the board's emulated bus devices attached.
    A board without [qemu] uart_serial refuses a UART socket by name."""
    board = boards.load("rpi3b")
    kernel, initrd = tmp_path / "vmlinuz", tmp_path / "initrd"
    kernel.write_bytes(b"k")
    initrd.write_bytes(b"i")
    uart, qmp_sock = tmp_path / "uart.sock", tmp_path / "qmp.sock"
    for console in ("stdio", "labgrid"):
        args = qemu.arguments(board, kernel, initrd, "x", "kiln0", console=console,
                              uart_socket=uart, qmp_socket=qmp_sock).args
        serials = [args[i + 1] for i, a in enumerate(args) if a == "-serial"]
        assert serials[board.qemu.uart_serial] == "chardev:uart", (console, serials)
        assert f"socket,id=uart,path={uart},server=on,wait=off" in args
        assert serials == (["chardev:uart", "chardev:console"] if console == "stdio"
                           else ["chardev:uart"])        # labgrid adds the console port last
        assert args[args.index("-qmp") + 1] == f"unix:{qmp_sock},server=on,wait=off"
        assert " ".join(board.qemu.test_devices) in " ".join(args)
    plain = qemu.arguments(board, kernel, initrd, "x", "kiln0").args
    assert "chardev:uart" not in plain and "-qmp" not in plain
    assert [plain[i + 1] for i, a in enumerate(plain) if a == "-serial"] == \
        ["chardev:console", "chardev:console"]
    with pytest.raises(ValueError, match="qemu-aarch64 has no \\[qemu\\] uart_serial"):
        qemu.arguments(boards.load("qemu-aarch64"), kernel, initrd, "x", "kiln0",
                       uart_socket=uart)


def test_qmp_client_runs_a_command_and_names_refusals(tmp_path):
    """kiln.host.runner.qmp against a real QEMU's monitor (no guest: -S, machine none)."""
    import shutil as _shutil
    import subprocess as _subprocess
    import time as _time
    from kiln.host.runner import qmp
    sock = tmp_path / "qmp.sock"
    proc = _subprocess.Popen([_shutil.which("qemu-system-aarch64"), "-M", "none", "-S",
                              "-display", "none", "-qmp", f"unix:{sock},server=on,wait=off"])
    try:
        deadline = _time.monotonic() + 20
        while not sock.exists() and _time.monotonic() < deadline:
            _time.sleep(0.05)
        assert qmp.command(sock, "query-status")["status"] == "prelaunch"
        with pytest.raises(qmp.QmpError, match="QMP no-such-command: "):
            qmp.command(sock, "no-such-command")
        with pytest.raises(qmp.QmpError, match="QMP qom-set"):
            qmp.command(sock, "qom-set", {"path": "/machine/peripheral/none",
                                          "property": "temperature", "value": 1})
    finally:
        proc.kill()
        proc.wait()


def test_board_wires_are_made_on_the_boards_qemu(tmp_path):
    """Every board's ``[qemu] wires`` against its own QEMU (started stopped, with the board's
    test devices): the QMP commands the runner and the labgrid place send are accepted, and
    each output link then names its input (rpi3b: GPIO 8, the kernel's CE0, drives the
    N25Q128's chip select)."""
    import subprocess as _subprocess
    from kiln.host.runner import qemutool, qmp
    wired = [boards.load(n) for n in BOARDS if boards.load(n).qemu.wires]
    assert "rpi3b" in [b.name for b in wired]
    for board in wired:
        qemutool.ensure(board)
        sock = tmp_path / f"{board.name}.sock"
        proc = _subprocess.Popen([qemutool.binary(board), "-M", board.qemu.machine, "-S",
                                  "-display", "none", "-qmp", f"unix:{sock},server=on,wait=off",
                                  *board.qemu.test_devices], stderr=_subprocess.DEVNULL)
        try:
            commands = board.qemu.wire_commands()
            qmp.commands(sock, commands, connect_timeout=30)
            for _, args in commands:
                assert qmp.command(sock, "qom-get", {"path": args["path"],
                                                     "property": args["property"]}) \
                    == args["value"], (board.name, args)
            with pytest.raises(qmp.QmpError, match="QMP qom-set .*unnamed-gpio-out"):
                qmp.commands(sock, [("qom-set", {**commands[0][1],
                                                 "value": "/machine/peripheral/none"})])
        finally:
            proc.kill()
            proc.wait()


def test_labgrid_qemu_driver_kills_a_qemu_that_no_longer_answers(tmp_path, monkeypatch):
    """KilnQEMUDriver.off(): a QEMU whose main loop hangs answers neither QMP ``quit`` nor
    SIGTERM (seen when an emulated DMA loop held it); labgrid would wait forever for the
    reply.  Here QEMU is frozen with SIGSTOP: off() kills it after QUIT_TIMEOUT_S and raises
    naming the hang; a QEMU that answers quits as before.  (The guest runs garbage as its
    kernel: only QEMU itself matters.)"""
    import signal as _signal
    import kiln_labgrid
    from labgrid.driver import ExecutionError
    board = boards.load("qemu-aarch64")
    image = BootImage(tmp_path / "vmlinuz", tmp_path / "initrd", board.cmdline)
    image.kernel.write_bytes(b"\0" * 4096)
    image.initrd.write_bytes(b"\0" * 4096)
    with NetLab() as lab:
        for frozen in (False, True):
            # A QEMU that answers keeps the default bound (a loaded host may take seconds).
            monkeypatch.setattr(kiln_labgrid, "QUIT_TIMEOUT_S", 2.0 if frozen else 30.0)
            env = open_environment(QEMU_PLACE, boot_variables(board, image, lab, "x"))
            try:
                target = env.get_target(TARGET)
                driver = target.get_driver("QEMUDriver")
                driver.on()
                child = driver._child
                if frozen:
                    os.kill(child.pid, _signal.SIGSTOP)
                    t0 = time.monotonic()
                    with pytest.raises(ExecutionError, match="did not quit within 2.0 s"):
                        driver.off()
                    assert time.monotonic() - t0 < 15
                else:
                    driver.off()
                assert child.poll() is not None and driver.status == 0
            finally:
                target.deactivate_all_drivers()
                env.cleanup()
