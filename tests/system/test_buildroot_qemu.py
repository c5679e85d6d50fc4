"""The offline Buildroot build of the QEMU aarch64 board, booted under QEMU in the network lab.

``kiln buildroot build`` (kiln.host.buildroot.build) builds ``kiln_qemu_aarch64_virt_defconfig``
plus the offline overlay with Buildroot 2026.02.3, with the probe app
(``kiln/host/buildroot/probe_app.py``) as the image's app.  The image -- Debian's kernel,
Buildroot's ``rootfs.cpio.zst`` -- boots through the same labgrid place and strategy as every
system test, on a fresh lab (namespace, tap, dnsmasq); one boot checks both socket faces on the
ARM CPU, DHCP on ``eth``, a DNS answer and a TCP exchange with the host side per face.

The build is cached per machine (outside the clone): cold ~7-10 minutes on 2 cores, seconds
when nothing changed.  Its timings and sizes are recorded in ``build.json`` next to the image
(docs/performance.md quotes them); nothing here asserts a duration.
"""
from __future__ import annotations

import ipaddress
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from kiln import boards, payload
from kiln.host.buildroot import build as br_build, probe_app
from kiln.host.image import cpio
from kiln.host.runner import preflight
from kiln.host.runner.boot import BootImage, guest_cmdline

from guest import BOOT_TIMEOUT_S, GuestStarter
from lab_checks import reply_for
from servers import TcpReplyServer

pytestmark = pytest.mark.system

BOARD = "qemu-aarch64"
PROBE_APP = Path(probe_app.__file__)
PROBE_NAME = "probe.kiln.test"      # answered only by the lab's dnsmasq


@pytest.fixture(scope="module")
def built() -> br_build.BuildResult:
    """The offline Buildroot image with the probe app (built, rebuilt or reused)."""
    return br_build.build(BOARD, app=PROBE_APP, log=print)


@pytest.fixture(scope="module")
def image(built, tmp_path_factory) -> BootImage:
    """A private copy of the image (another session may rebuild the cached one)."""
    copy = tmp_path_factory.mktemp("buildroot-image")
    kernel = Path(shutil.copy2(built.kernel, copy / "vmlinuz"))
    initrd = Path(shutil.copy2(built.initrd, copy / Path(built.initrd).name))
    return BootImage(kernel, initrd, built.cmdline)


@pytest.fixture(scope="module")
def rootfs(built) -> dict[str, cpio.Entry]:
    """The image's root file system, from its compressed cpio."""
    return {e.path: e for e in cpio.read_newc(cpio.decompress(Path(built.initrd)))}


def test_image_is_buildroots_with_the_board_side_payload_only(built, rootfs):
    assert built.defconfig == "kiln_qemu_aarch64_virt_defconfig"
    assert built.python_version == "3.13"
    site = "usr/lib/python3.13/site-packages"
    extensions = sorted(p for p in rootfs
                        if p.startswith(f"{site}/kiln/net/") and p.endswith(".so"))
    expected = {p.stem for p in (Path(br_build.repo_root()) / "sdk/kiln/net").glob("*.pyx")}
    # The offline build leaves BR2_PACKAGE_PYTHON_KILN_TLS off (kiln.host.buildroot.offline):
    # python-kiln is built with KILN_TLS=0, without the TLS layer, and no OpenSSL ships.
    expected -= {m.rsplit(".", 1)[1] for m in payload.TLS_MODULES}
    assert {Path(p).name.split(".")[0] for p in extensions} == expected
    assert not any("libssl.so" in p or "libcrypto.so" in p for p in rootfs)
    assert all(p.endswith(".cpython-313-aarch64-linux-gnu.so") for p in extensions)
    for package in ("networking", "usocket", "bsp", "driver", "kiln/app"):
        assert any(p.startswith(f"{site}/{package}/") for p in rootfs), package
    assert not any(p.startswith(f"{site}/kiln/host") for p in rootfs)      # host tooling
    assert not any(p.startswith("usr/bin/kiln") for p in rootfs)          # no kiln command
    assert rootfs["etc/kiln/board.toml"].data == boards.load(BOARD).source.read_bytes()
    assert rootfs["etc/kiln/board-name"].data == f"{BOARD}\n".encode()
    init = rootfs["sbin/init"].data
    assert init == (Path(br_build.repo_root()) / "images" / "init").read_bytes()
    modules = rootfs["etc/kiln/modules"].data.decode().split()
    names = [Path(m).name for m in modules]
    assert "virtio_net.ko" in names and names.index("net_failover.ko") < names.index(
        "virtio_net.ko")                                  # dependencies first
    assert all(f"lib/modules/{m}" in rootfs for m in modules)
    assert rootfs["app/main.py"].data == PROBE_APP.read_bytes()
    assert built.initrd_bytes == Path(built.initrd).stat().st_size > 0


def test_offline_buildroot_image_boots_and_passes_the_probe(built, image, lab, resources):
    board = boards.load(BOARD)
    problems = preflight.problems_for_run(board)
    assert not problems, "host not ready:\n" + "\n".join(problems)
    seed, size = random.randrange(1, 2**31), 4096
    lab.add_dns_record(PROBE_NAME, str(lab.host_address))
    zerynth_server = TcpReplyServer(lab, size)
    usocket_server = TcpReplyServer(lab, size)
    extra = (f"kiln.probe_host={PROBE_NAME} kiln.probe_zport={zerynth_server.port} "
             f"kiln.probe_uport={usocket_server.port} kiln.probe_seed={seed} "
             f"kiln.probe_size={size}")
    starter = GuestStarter(board, image, resources)
    try:
        guest = starter.start(lab, guest_cmdline(image, lab, static=False, extra=extra))
        status = guest.wait_exit(BOOT_TIMEOUT_S)
        transcript = guest.transcript
    finally:
        starter.close_all()
    assert status == 0, transcript
    found = probe_app.parse(transcript)
    assert "done" in found, transcript

    # Both faces are the Cython core Buildroot cross-compiled, running on the ARM CPU.
    platform = found["platform"]
    assert platform["machine"] == "aarch64" and platform["python"] == "3.13"
    assert platform["suffix"] == "cpython-313-aarch64-linux-gnu.so"

    # eth got its address from the lab's dnsmasq; the lab's DNS answered the probe's name.
    (lease,) = lab.leases()
    network = found["network"]
    assert ipaddress.ip_address(network["address"]) == lease.ip
    assert lab.addressing.dhcp_first <= lease.ip <= lab.addressing.dhcp_last
    assert network["resolved"] == str(lab.host_address)
    log = lab.dnsmasq_log()
    assert f"DHCPACK({lab.tap}) {lease.ip}" in log and f"query[A] {PROBE_NAME}" in log, log
    assert f"KILN: net dhcp {lease.ip}/" in transcript

    # A TCP exchange per face, checked on both ends.
    for face, server in (("zerynth", zerynth_server), ("usocket", usocket_server)):
        sent = probe_app.payload(seed, size, face)
        assert server.result() == sent, face
        assert server.peer[0] == str(lease.ip)
        assert found[face]["received"] == str(size)
        assert found[face]["digest"] == probe_app.digest(reply_for(sent)), face
    assert found["zerynth"]["type"] == "bytearray"


def test_build_is_reused_when_nothing_changed(built):
    again = br_build.build(BOARD, app=PROBE_APP, log=None)
    assert again.kind == "reused"
    assert again.config_key == built.config_key and again.kiln_key == built.kiln_key
    assert Path(again.initrd).stat().st_size == built.initrd_bytes


def test_probe_app_fails_loudly_off_target(tmp_path):
    """The probe is a real check: without Kiln's image around it, it fails (status != 0)."""
    run = subprocess.run(["python3", str(PROBE_APP)], capture_output=True, text=True,
                         cwd=tmp_path, env={"PATH": "/usr/bin:/bin"})
    assert run.returncode != 0
