"""Raspberry Pi SD-card images under QEMU's raspi machines, on the tap + dnsmasq lab, and
``kiln flash``.

One image per board (``out/system-tests/<board>-sd/``, app directory ``apps/sdcard/`` plus the
Zerynth seed's second example as ``seed.py``), shared by every test here; QEMU boots what the
image's boot partition holds, from a padded copy of the card (kiln.host.runner.sdboot).  Boots
are few: one per booted board, the seed example on rpi3b, and one boot of a loop device that
``kiln flash`` wrote.

Booted boards: rpi3b and rpi-zero2w (``raspi3b``, the host's QEMU 7.2), rpi4b (``raspi4b``,
bookworm-backports' QEMU 10, console on the PL011: see board_configs/rpi4b.toml and
images/README.md, "What QEMU proves").
"""
from __future__ import annotations

import ipaddress
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from guest import BOOT_TIMEOUT_S, GuestStarter
from image_cache import locked, session_image
from layout import APPS, REPO, sdcard_qemu_boards
from kiln import boards
from kiln.host import flash
from kiln.host.image import ImageArtifacts, mbr
from kiln.host.runner import sdboot
from kiln.host.runner.boot import BootImage, guest_cmdline

pytestmark = pytest.mark.system

BOOTED = ["rpi3b", "rpi-zero2w", "rpi4b"]     # boards booted here (see the module docstring)
KILN = [sys.executable, "-m", "kiln.host"]


def image_dir(name: str) -> Path:
    return REPO / "out" / "system-tests" / f"{name}-sd"


@pytest.fixture(scope="module")
def app_dir(tmp_path_factory) -> Path:
    from test_zerynth_apps import seed_program
    d = tmp_path_factory.mktemp("sdcard-app")
    shutil.copy(APPS / "sdcard" / "main.py", d / "main.py")
    (d / "seed.py").write_text(seed_program())
    return d


_built: dict[str, ImageArtifacts] = {}


def artifacts_for(name: str, app_dir: Path) -> ImageArtifacts:
    """The board's SD image with the test app (built or reused under the image lock)."""
    if name not in _built:
        from kiln.host import image as image_builder
        with locked(image_dir(name)):
            _built[name] = image_builder.ensure(boards.load(name), app=app_dir,
                                                out_dir=image_dir(name), progress=True)
    return _built[name]


def boot_image(name: str, app_dir: Path, tmp_path: Path) -> BootImage:
    board = boards.load(name)
    from kiln.host.runner import qemutool
    qemutool.ensure(board)
    return session_image(board, app_dir, image_dir(name), tmp_path / "boot")


# -- the images ------------------------------------------------------------------------------

def test_sd_boards_are_tested_under_qemu():
    assert set(BOOTED) == set(sdcard_qemu_boards()) == {"rpi3b", "rpi4b", "rpi-zero2w"}


def qemu_nic(board) -> str:
    """The guest interface QEMU's usb-net becomes (``kiln.eth=`` of the board's [qemu] append)."""
    names = [a.split("=", 1)[1] for a in board.qemu.append if a.startswith("kiln.eth=")]
    assert len(names) == 1, board.qemu.append
    return names[0]


@pytest.mark.parametrize("name", sdcard_qemu_boards())
def test_sdcard_image_layout(name, app_dir, tmp_path):
    board = boards.load(name)
    art = artifacts_for(name, app_dir)
    table = mbr.read(art.sdcard)
    boot, root = table.get(1), table.get(2)
    assert (boot.type, boot.bootable, boot.start) == (0x0C, True, 4 * 2**20)
    assert boot.size == board.sdcard.boot_mb * 2**20
    assert root.type == 0x83 and root.start == boot.end
    assert root.size == board.sdcard.root_mb * 2**20
    # cmdline.txt names this image's root partition; config.txt is Debian's scheme.
    cmdline = sdboot.read_boot_file(art.sdcard, "cmdline.txt", tmp_path / "c").read_text()
    assert f"root=PARTUUID={table.partuuid(2)} " in cmdline and board.cmdline in cmdline
    config = sdboot.read_boot_file(art.sdcard, "config.txt", tmp_path / "cfg").read_text()
    for line in (*board.sdcard.config_txt, "kernel=vmlinuz",
                 "initramfs initramfs.cpio.zst followkernel"):
        assert line in config.splitlines()
    listing = subprocess.run(["mdir", "-b", "-i", f"{art.sdcard}@@{boot.start}", "::"],
                             capture_output=True, text=True,
                             env=dict(os.environ, MTOOLS_SKIP_CHECK="1")).stdout
    names = {Path(line.strip()).name for line in listing.split()}
    expected = {*board.sdcard.firmware, *(Path(d).name for d in board.sdcard.dtbs),
                "vmlinuz", "initramfs.cpio.zst", "config.txt", "cmdline.txt"}
    assert expected <= names, listing
    # The root filesystem, and the Wi-Fi firmware and module index in it.
    with open(art.sdcard, "rb") as f:
        f.seek(root.start)
        assert f.read(4) == b"hsqs"          # squashfs magic
    rootfs = Path(art.sdcard).parent / "work" / "rootfs"
    for rel in board.sdcard.lib_firmware:
        assert (rootfs / "lib/firmware" / rel).is_file()
    assert (rootfs / "lib/modules" / art.kernel_abi / "modules.dep").is_file()
    # The block map covers the image; the goal: at most 64 MB mapped.
    assert 0 < art.mapped_bytes <= art.image_bytes == Path(art.sdcard).stat().st_size
    from kiln.host.image.sdcard import mapped_bytes
    assert mapped_bytes(art.bmap) == art.mapped_bytes <= 64 * 10**6
    print(f"{name}: {art.image_bytes / 2**20:.0f} MiB image, {art.mapped_bytes / 1e6:.1f} MB "
          f"mapped, root {art.root_bytes / 1e6:.1f} MB")


# -- boots -----------------------------------------------------------------------------------

def model_of(dtb: Path) -> str:
    return subprocess.run(["fdtget", str(dtb), "/", "model"], capture_output=True, text=True,
                          check=True).stdout.strip()


@pytest.mark.parametrize("name", BOOTED)
def test_sd_image_boots_gets_dhcp_and_reports_the_board(name, app_dir, lab, resources, tmp_path):
    board = boards.load(name)
    image = boot_image(name, app_dir, tmp_path)
    starter = GuestStarter(board, image, resources)
    try:
        guest = starter.start(lab, guest_cmdline(image, lab, False))
        guest.expect(r"SDCARD first line", BOOT_TIMEOUT_S)
        guest.expect(r"Kiln board summary", 60)
        guest.expect(rf"board\s+{re.escape(name)} ", 30)
        m = guest.expect(r"model\s+(.+?)\r?\n", 30)
        assert m.group(1).strip() == model_of(image.dtb)          # the live device tree
        assert guest.wait_exit(60) == 0, guest.transcript
        out = guest.transcript
        # DHCP over the tap: QEMU's usb-net (on dwc2) stands in for the board's NIC.
        m = re.search(r"KILN: net dhcp ([\d.]+)/(\d+) gw=([\d.]+) dns=([\d.]+)", out)
        assert m, out
        ip = ipaddress.IPv4Address(m.group(1))
        assert ip in lab.addressing.network
        assert ipaddress.IPv4Address(m.group(3)) == lab.host_address
        assert [lease.ip for lease in lab.leases()] == [ip]
        assert f"DHCPACK({lab.tap}) {ip}" in lab.dnsmasq_log()
        assert f"SDCARD eth (True, '{ip}'" in out
        assert re.search(rf"{qemu_nic(board)}\s+[0-9a-f:]{{17}}", out), out
        # The root is the card's squashfs with a RAM overlay.
        assert re.search(r"SDCARD mount /dev/mmcblk\dp2 /mnt/root-ro squashfs ro", out), out
        assert re.search(r"SDCARD mount overlay / overlay", out), out
    finally:
        starter.close_all()


def test_seed_second_example_on_rpi3b(app_dir, lab, resources, tmp_path):
    from test_zerynth_apps import HOST, expect_seed_second_example, http_server
    board = boards.load("rpi3b")
    image = boot_image("rpi3b", app_dir, tmp_path)
    lab.add_dns_record(HOST, str(lab.host_address))
    server = http_server(lab, tmp_path)
    starter = GuestStarter(board, image, resources)
    try:
        cmdline = guest_cmdline(image, lab, False, "kiln.app=seed.py") + " kiln.net=none"
        guest = starter.start(lab, cmdline)
        expect_seed_second_example(guest, lab, "rpi3b", 90)
        assert "Exception" not in guest.transcript, guest.transcript
    finally:
        starter.close_all()
        server.terminate()
        server.wait()


# -- kiln flash ------------------------------------------------------------------------------

class Loop:
    """A loop device over a sparse file of ``size`` bytes (detached at close)."""

    def __init__(self, backing: Path, size: int, partscan: bool = True):
        backing.write_bytes(b"")
        os.truncate(backing, size)
        self.backing = backing
        self.path = Path(subprocess.run(
            ["losetup", "--find", "--show", *(["--partscan"] if partscan else []), str(backing)],
            capture_output=True, text=True, check=True).stdout.strip())

    def close(self):
        subprocess.run(["losetup", "--detach", str(self.path)], check=False)


@pytest.fixture
def loops(tmp_path):
    made = []

    def make(size=128 * 2**20, partscan=True):
        loop = Loop(tmp_path / f"card{len(made)}.img", size, partscan)
        made.append(loop)
        return loop

    try:
        yield make
    finally:
        subprocess.run(["umount", str(tmp_path / "mnt")], capture_output=True)
        for loop in made:
            loop.close()
        # A device still open (udev's probe, a QEMU being reaped) detaches when last closed.
        deadline = time.monotonic() + 10
        while True:
            attached = subprocess.run(["losetup", "-a"], capture_output=True, text=True).stdout
            left = [str(loop.path) for loop in made if str(loop.backing) in attached]
            if not left or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert not left, f"loop devices left attached: {left}\n{attached}"


def kiln_flash(*args, input_text=None):
    """``kiln flash ARGS`` in its own process group (bmaptool included: killed with it if it
    hangs); stdin is ``input_text`` or /dev/null, never the developer's terminal."""
    proc = subprocess.Popen([*KILN, "flash", *map(str, args)], text=True,
                            stdin=subprocess.PIPE if input_text is not None else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        out, err = proc.communicate(input_text, timeout=300)
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_flash_refuses_unsafe_targets(app_dir, loops, tmp_path):
    art = artifacts_for("rpi3b", app_dir)
    # Not a block device.
    r = kiln_flash("--board", "rpi3b", "--image", art.sdcard, "--yes", art.sdcard)
    assert r.returncode == 2 and "is not a block device" in r.stderr
    # Too small, and no --yes without a terminal.
    small = loops(8 * 2**20)
    r = kiln_flash("--board", "rpi3b", "--image", art.sdcard, "--yes", small.path)
    assert r.returncode == 2 and "the image needs" in r.stderr
    card = loops()
    r = kiln_flash("--board", "rpi3b", "--image", art.sdcard, card.path)
    assert r.returncode == 2 and "without confirmation: pass --yes" in r.stderr
    # On a terminal it asks; anything but yes writes nothing.
    import pexpect
    before = card_head(card.path)
    term = pexpect.spawn(KILN[0], [*KILN[1:], "flash", "--board", "rpi3b", "--image",
                                   str(art.sdcard), str(card.path)], timeout=60,
                         encoding="utf-8")
    try:
        term.expect(rf"Write sdcard.img to {re.escape(str(card.path))} .*Everything on it is "
                    rf"erased\. \[y/N\] ")
        term.sendline("n")
        term.expect(pexpect.EOF)
    finally:
        term.close(force=True)
    assert term.exitstatus == 2 and "not confirmed; nothing written" in term.before
    assert card_head(card.path) == before
    # Mounted.
    subprocess.run(["mkfs.ext4", "-q", "-F", str(card.path)], capture_output=True, check=True)
    (tmp_path / "mnt").mkdir()
    subprocess.run(["mount", str(card.path), str(tmp_path / "mnt")], check=True)
    try:
        r = kiln_flash("--board", "rpi3b", "--image", art.sdcard, "--yes", card.path)
        assert r.returncode == 2 and "is mounted" in r.stderr, r.stderr
    finally:
        subprocess.run(["umount", str(tmp_path / "mnt")], check=True)
    # A fake non-removable disk: the same loop device seen through a sysfs in which its device
    # number is a SATA disk (no loop/ attributes, removable = 0).
    target = flash.describe(card.path)
    assert (target.loop, target.removable, target.partition) == (True, False, False)
    sysfs = fake_disk_sysfs(tmp_path / "sysfs", _read_dev(target.name), target.size)
    fake = flash.describe(card.path, sysfs=sysfs)
    assert (fake.name, fake.loop, fake.removable, fake.model) == ("sdz", False, False,
                                                                   "ATA Fake SSD")
    problems = flash.refusals(fake, art.image_bytes, sysfs=sysfs, mountinfo="", swaps="",
                              root_devnos=set())
    assert problems == [f"{card.path} (ATA Fake SSD) is not a removable device: kiln flash "
                        f"writes SD cards and card readers only"]
    # The disk holding the running system (checked without writing anything).
    root = os.stat("/").st_dev
    devno = f"{os.major(root)}:{os.minor(root)}"
    problems = flash.refusals(target, art.image_bytes, mountinfo="", swaps="",
                              root_devnos={_read_dev(target.name)})
    assert f"{card.path} holds the running system" in problems
    assert flash.refusals(target, art.image_bytes, mountinfo="", swaps="",
                          root_devnos={devno}) == []


def card_head(device: Path) -> bytes:
    with open(device, "rb") as f:
        return f.read(1 << 20)


def _read_dev(name: str) -> str:
    return Path(f"/sys/class/block/{name}/dev").read_text().strip()


def fake_disk_sysfs(root: Path, devno: str, size: int) -> Path:
    """A sysfs tree at ``root`` where block device ``devno`` is ``sdz``, a fixed SATA disk."""
    disk = root / "devices" / "pci0000:00" / "ata9" / "block" / "sdz"
    (disk / "device").mkdir(parents=True)
    (disk / "holders").mkdir()
    for name, value in (("dev", devno), ("size", str(size // 512)), ("removable", "0"),
                        ("device/vendor", "ATA"), ("device/model", "Fake SSD")):
        (disk / name).write_text(value + "\n")
    for link in (root / "dev" / "block" / devno, root / "class" / "block" / "sdz"):
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(disk)
    return root


def test_flash_writes_a_loop_device_that_boots(app_dir, loops, lab, resources, tmp_path):
    art = artifacts_for("rpi3b", app_dir)
    card = loops()                       # 128 MiB: a power of two, as QEMU's SD model wants
    r = kiln_flash("--board", "rpi3b", "--image", art.sdcard, "--yes", card.path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert mbr.read(card.path) == mbr.read(art.sdcard)
    # Partition 1 of the written card: refused as a target, and it holds the boot files.
    subprocess.run(["partx", "-u", str(card.path)], capture_output=True)
    p1 = Path(f"{card.path}p1")
    deadline = time.monotonic() + 10
    while not p1.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    r = kiln_flash("--board", "rpi3b", "--image", art.sdcard, "--yes", p1)
    assert r.returncode == 2 and "is a partition" in r.stderr
    # Boot the card itself (the loop device), kernel and DTB read from its boot partition.
    board = boards.load("rpi3b")
    from_card = sdboot.prepare(board, card.path, tmp_path / "card")   # files out of the card
    image = BootImage(from_card.kernel, from_card.initrd, from_card.cmdline, dtb=from_card.dtb,
                      sdcard=card.path)
    starter = GuestStarter(board, image, resources)
    try:
        guest = starter.start(lab, guest_cmdline(image, lab, False))
        guest.expect(r"SDCARD first line", BOOT_TIMEOUT_S)
        assert guest.wait_exit(90) == 0, guest.transcript
        assert "KILN: net dhcp" in guest.transcript
    finally:
        starter.close_all()
