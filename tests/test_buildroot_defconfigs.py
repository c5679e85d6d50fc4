"""Kiln's br2-external tree without Buildroot: generated defconfigs, board folders, the scripts
Buildroot runs (post-build, post-image, kiln-init's board files), the offline overlay's pieces.

Buildroot's own checks of the tree are in test_buildroot_tree.py; the offline build under QEMU
in tests/system/test_buildroot_qemu.py.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import kiln
from kiln import boards
from kiln.host.buildroot import boards as br_boards, defconfigs, offline, sources

REPO = Path(__file__).resolve().parents[1]
EXTERNAL = REPO / "images" / "buildroot"
ALL_BOARDS = boards.names()


def _load_script(path: Path):
    """Import one of the tree's Python scripts as a module."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_defconfigs_match_the_generator():
    assert defconfigs.check() == [], "run `kiln buildroot defconfigs` and commit the result"


def test_every_board_file_has_a_buildroot_board_and_a_defconfig():
    assert sorted(br_boards.BOARDS) == ALL_BOARDS
    names = sorted(p.name for p in (EXTERNAL / "configs").glob("*_defconfig"))
    assert names == sorted(br_boards.BOARDS[b].defconfig for b in ALL_BOARDS)
    for b in ALL_BOARDS:
        assert (EXTERNAL / br_boards.BOARDS[b].board_dir).is_dir(), b


def test_the_issue_names_resolve():
    assert br_boards.for_board("rpi4b").defconfig == "kiln_raspberrypi4_64_defconfig"
    with pytest.raises(boards.BoardError, match="no Buildroot mapping for Kiln board 'nope'"):
        br_boards.for_board("nope")


@pytest.mark.parametrize("name", ALL_BOARDS)
def test_defconfig_carries_the_board_file_facts(name):
    board = boards.load(name)
    text = (EXTERNAL / "configs" / br_boards.for_board(name).defconfig).read_text()
    lines = defconfigs.assignments(text)
    assert {"arm64": "BR2_aarch64=y", "armhf": "BR2_arm=y"}[board.debian_arch] in lines
    if board.qemu:
        assert f"BR2_{board.qemu.cpu.replace('-', '_')}=y" in lines
    assert f'BR2_PACKAGE_KILN_INIT_BOARD="{name}"' in lines
    assert "BR2_PACKAGE_PYTHON_KILN=y" in lines and "BR2_INIT_NONE=y" in lines
    assert "BR2_DOWNLOAD_FORCE_CHECK_HASHES=y" in lines
    if board.image_format == "initramfs":
        assert f"BR2_TARGET_ROOTFS_CPIO_{board.compression.upper()}=y" in lines
        assert not any(line.startswith("BR2_TARGET_ROOTFS_EXT2") for line in lines)
    else:
        assert "BR2_TARGET_ROOTFS_EXT2_4=y" in lines
        assert 'BR2_ROOTFS_POST_IMAGE_SCRIPT="support/scripts/genimage.sh"' in lines
    wifi = board.has_wifi()     # an on-board radio: every image carries the Wi-Fi stack
    assert ("# BR2_PACKAGE_PYTHON_KILN_WIFI is not set" in lines) == (not wifi)
    assert ("BR2_PACKAGE_BRCMFMAC_SDIO_FIRMWARE_RPI_WIFI=y" in lines) == \
        (wifi and board.wifi_driver == "brcmfmac")


def test_generator_follows_a_changed_board_file(tmp_path, monkeypatch):
    """A board fact changed in the board file changes the generated defconfig."""
    src = boards.load("qemu-aarch64").source
    changed = tmp_path / "qemu-aarch64.toml"
    changed.write_text(src.read_text().replace('compression = "zstd"', 'compression = "xz"')
                       .replace('cpu = "cortex-a53"', 'cpu = "cortex-a57"'))
    lines = defconfigs.defconfig_lines(boards.load_file(changed))
    assert "BR2_TARGET_ROOTFS_CPIO_XZ=y" in lines and "BR2_cortex_a57=y" in lines
    assert "BR2_TARGET_ROOTFS_CPIO_ZSTD=y" not in lines


def test_check_reports_drift_and_strays(tmp_path):
    tree = tmp_path / "tree"
    shutil.copytree(EXTERNAL, tree)
    target = tree / "configs" / "kiln_qemu_aarch64_virt_defconfig"
    target.write_text(target.read_text() + "BR2_PACKAGE_NANO=y\n")
    (tree / "configs" / "kiln_nothing_defconfig").write_text("")
    (tree / "configs" / "kiln_raspberrypi4_64_defconfig").unlink()
    problems = defconfigs.check(tree)
    assert any("kiln_qemu_aarch64_virt_defconfig differs" in p for p in problems)
    assert any("kiln_nothing_defconfig belongs to no board" in p for p in problems)
    assert any("kiln_raspberrypi4_64_defconfig is missing" in p for p in problems)
    defconfigs.write(tree)
    assert defconfigs.check(tree) == []


def test_kiln_version_in_the_tree_is_kilns():
    external_mk = (EXTERNAL / "external.mk").read_text()
    assert re.search(r"^KILN_VERSION = (\S+)$", external_mk, re.M).group(1) == kiln.__version__


def test_kiln_init_board_files(tmp_path):
    script = EXTERNAL / "package" / "kiln-init" / "board_files.py"
    run = subprocess.run([sys.executable, str(script), str(REPO), "rpi-zero2w", str(tmp_path),
                          "--wifi"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    etc = tmp_path / "etc" / "kiln"
    assert (etc / "board.toml").read_text() == boards.load("rpi-zero2w").toml_text()
    assert (etc / "board-name").read_text() == "rpi-zero2w\n"
    assert "KILN_WIFI_IFACE=wlan0\nKILN_WIFI_DRIVER=brcmfmac\n" in (etc / "board.env").read_text()
    assert "KILN_ETH_IFACE" not in (etc / "board.env").read_text()   # no Ethernet port
    no_wifi = subprocess.run([sys.executable, str(script), str(REPO), "qemu-arm", str(tmp_path)],
                             capture_output=True, text=True)
    assert no_wifi.returncode == 0, no_wifi.stderr
    assert (etc / "board.env").read_text() == "KILN_BOARD=qemu-arm\nKILN_ETH_IFACE=eth0\n"
    bad = subprocess.run([sys.executable, str(script), str(REPO), "nope", str(tmp_path)],
                         capture_output=True, text=True)
    assert bad.returncode == 1 and "known boards: qemu-aarch64" in bad.stderr


def _fake_target(root: Path, board: str, dep: str, builtin: str = "") -> Path:
    (root / "etc" / "kiln").mkdir(parents=True)
    shutil.copy(boards.load(board).source, root / "etc" / "kiln" / "board.toml")
    kdir = root / "lib" / "modules" / "6.1.0-9-arm64"
    kdir.mkdir(parents=True)
    (kdir / "modules.dep").write_text(dep)
    (kdir / "modules.builtin").write_text(builtin)
    return root


def test_post_build_orders_kernel_modules_dependencies_first(tmp_path):
    target = _fake_target(
        tmp_path / "t", "qemu-aarch64",
        "kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko "
        "kernel/net/core/failover.ko\n"
        "kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko\n"
        "kernel/net/core/failover.ko:\n"
        "kernel/drivers/block/loop.ko:\n",
        builtin="kernel/drivers/virtio/virtio_mmio.ko\n")
    script = EXTERNAL / "board" / "kiln" / "kernel_modules.py"
    run = subprocess.run([sys.executable, str(script), str(target)], capture_output=True,
                         text=True)
    assert run.returncode == 0, run.stderr
    assert (target / "etc" / "kiln" / "modules").read_text().split() == [
        "6.1.0-9-arm64/kernel/net/core/failover.ko",
        "6.1.0-9-arm64/kernel/drivers/net/net_failover.ko",
        "6.1.0-9-arm64/kernel/drivers/net/virtio_net.ko"]   # virtio_mmio is built in


def test_post_build_adds_kernel_tls_modules_with_tls(tmp_path):
    """With --tls (images with Kiln's TLS layer; post-build.sh passes it when the configuration
    has BR2_PACKAGE_PYTHON_KILN_TLS=y), the recipe's [tls] modules and the board file's [tls]
    modules follow the board's own, each with its dependencies first."""
    target = _fake_target(
        tmp_path / "t", "qemu-aarch64",
        "kernel/drivers/net/virtio_net.ko:\n"
        "kernel/net/tls/tls.ko:\n"
        "kernel/crypto/gf128mul.ko:\n"
        "kernel/crypto/ghash-generic.ko: kernel/crypto/gf128mul.ko\n"
        "kernel/arch/arm64/crypto/ghash-ce.ko: kernel/crypto/gf128mul.ko\n",
        builtin="kernel/drivers/virtio/virtio_mmio.ko\nkernel/net/core/failover.ko\n"
                "kernel/drivers/net/net_failover.ko\n")
    recipe = tmp_path / "recipe.toml"
    recipe.write_text('[tls]\nmodules = ["tls", "ghash_generic"]\n')
    script = EXTERNAL / "board" / "kiln" / "kernel_modules.py"
    run = subprocess.run([sys.executable, str(script), str(target), "--tls", str(recipe)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    listed = (target / "etc" / "kiln" / "modules").read_text().split()
    assert [Path(m).name for m in listed] == [
        "virtio_net.ko", "tls.ko", "gf128mul.ko", "ghash-generic.ko", "ghash-ce.ko"]
    # The board file's [tls] drivers the fake kernel lacks are named, not fatal.
    assert "chacha_neon" in run.stderr and "poly1305_neon" in run.stderr
    bad = subprocess.run([sys.executable, str(script), str(target), "--tsl", str(recipe)],
                         capture_output=True, text=True)
    assert bad.returncode == 2
    assert "usage: kernel_modules.py TARGET_DIR [--tls RECIPE]" in bad.stderr


def test_post_build_passes_tls_when_the_configuration_has_it():
    script = (EXTERNAL / "board" / "kiln" / "post-build.sh").read_text()
    assert "grep -qx 'BR2_PACKAGE_PYTHON_KILN_TLS=y' \"${BR2_CONFIG}\"" in script
    assert '--tls "${BR2_EXTERNAL_KILN_PATH}/../recipe.toml"' in script
    assert (EXTERNAL.parent / "recipe.toml").is_file()


def test_post_build_warns_about_modules_the_kernel_lacks(tmp_path):
    """The board file's list is written for Debian's kernel: modules another kernel builds in
    or lacks are named in a warning, the others still listed."""
    wanted = boards.load("rpi3b").kernel_modules
    present = "kernel/drivers/net/wireless/brcm80211/brcmfmac/brcmfmac.ko.xz: " \
              "kernel/net/wireless/cfg80211.ko.xz\nkernel/net/wireless/cfg80211.ko.xz:\n"
    target = _fake_target(tmp_path / "t", "rpi3b", present)
    run = subprocess.run([sys.executable, str(EXTERNAL / "board" / "kiln" / "kernel_modules.py"),
                          str(target)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "WARNING: board rpi3b: kernel 6.1.0-9-arm64 has neither built in nor as a " \
           "module" in run.stderr
    for name in wanted:
        assert (name in run.stderr) == (name != "brcmfmac"), name
    assert (target / "etc" / "kiln" / "modules").read_text().split() == [
        "6.1.0-9-arm64/kernel/net/wireless/cfg80211.ko.xz",
        "6.1.0-9-arm64/kernel/drivers/net/wireless/brcm80211/brcmfmac/brcmfmac.ko.xz"]


def test_post_build_without_loadable_modules_writes_an_empty_list(tmp_path):
    target = tmp_path / "t"
    (target / "etc" / "kiln").mkdir(parents=True)
    shutil.copy(boards.load("qemu-arm").source, target / "etc" / "kiln" / "board.toml")
    run = subprocess.run([sys.executable, str(EXTERNAL / "board" / "kiln" / "kernel_modules.py"),
                          str(target)], capture_output=True, text=True)
    assert run.returncode == 0 and (target / "etc" / "kiln" / "modules").read_text() == ""
    assert "must be built in" in run.stderr


def test_qemu_post_image_writes_the_board_files_qemu_command(tmp_path):
    board = boards.load("qemu-arm")
    (tmp_path / "zImage").write_bytes(b"k")
    (tmp_path / "rootfs.cpio").write_bytes(b"r")
    (tmp_path / "rootfs.cpio.zst").write_bytes(b"z")
    run = subprocess.run([sys.executable, str(EXTERNAL / "board" / "qemu" / "start_qemu.py"),
                          str(board.source), str(tmp_path)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    script = (tmp_path / "start-qemu.sh").read_text()
    assert f"exec {board.qemu.binary} -M {board.qemu.machine} -cpu {board.qemu.cpu}" in script
    assert "-device virtio-net-device,netdev=kilnnet" in script
    assert "-kernel zImage -initrd rootfs.cpio.zst" in script
    assert f'-append "{board.cmdline} $*"' in script
    assert (tmp_path / "start-qemu.sh").stat().st_mode & 0o111


@pytest.mark.parametrize("name", [b for b in ALL_BOARDS if boards.load(b).sdcard])
def test_raspberry_pi_boot_files_carry_the_board_facts(name):
    board = boards.load(name)
    br = br_boards.for_board(name)
    folder = EXTERNAL / br.board_dir
    config = (folder / "config.txt").read_text().splitlines()
    # The board file's config.txt is written for Debian's firmware and kernel; the facts that
    # hold for any kernel must be in Buildroot's too.
    for fact in ("arm_64bit=1", "enable_uart=1"):
        assert fact in board.sdcard.config_txt and fact in config, (name, fact)
    assert "kernel=Image" in config
    cmdline = (folder / "cmdline.txt").read_text().split()
    for arg in board.cmdline.split():
        if not arg.startswith("console="):
            assert arg in cmdline, (name, arg)
    assert "root=/dev/mmcblk0p2" in cmdline and "rw" in cmdline
    genimage = (folder / "genimage.cfg").read_text()
    dts = re.search(r'INTREE_DTS_NAME="broadcom/(\S+)"', "\n".join(br.kernel)).group(1)
    assert f'"{dts}.dtb"' in genimage
    start = re.search(r"^start_file=(\S+)$", "\n".join(config), re.M).group(1)
    assert f'"rpi-firmware/{start}"' in genimage
    assert ("BR2_PACKAGE_RPI_FIRMWARE_BOOTCODE_BIN=y" in br.packages) == \
        ('"rpi-firmware/bootcode.bin"' in genimage)


def test_offline_overlay_replaces_toolchain_and_kernel_only():
    text = (EXTERNAL / "configs" / "kiln_qemu_aarch64_virt_defconfig").read_text()
    overlay = ["BR2_TOOLCHAIN_EXTERNAL=y", "BR2_TOOLCHAIN_EXTERNAL_CUSTOM=y",
               "# BR2_LINUX_KERNEL is not set", 'BR2_PACKAGE_KILN_INIT_APP="/a/main.py"']
    merged = defconfigs.assignments(offline.merged_defconfig(text, overlay))
    assert not any("BOOTLIN" in line or line.startswith("BR2_LINUX_KERNEL_") for line in merged)
    assert merged[-4:] == overlay
    kept = [line for line in defconfigs.assignments(text)
            if not line.lstrip("# ").startswith(("BR2_TOOLCHAIN_EXTERNAL", "BR2_LINUX_KERNEL"))]
    assert all(line in merged for line in kept)


def test_offline_overlay_builds_tls_like_the_defconfig():
    """The CI build carries TLS (OpenSSL, ca-certificates, kernel TLS) as the user build does;
    OpenSSL and ca-certificates come from Debian's mirror as overrides, with Buildroot's
    patches that apply to them."""
    lines = offline.Overlay(*(Path("/x"),) * 6, kernel_abi="6.1.0-9-arm64", triplet="t",
                            gcc="12", headers="6_1").lines()
    assert "BR2_PACKAGE_PYTHON_KILN_TLS=y" in lines
    assert not any("PYTHON_KILN_TLS is not set" in line for line in lines)
    by_package = {s.package: s for s in sources.SOURCES if s.use == "override"}
    assert by_package["LIBOPENSSL"].file == "openssl_3.6.3.orig.tar.gz"
    assert len(by_package["LIBOPENSSL"].patches) == 3
    assert by_package["CA_CERTIFICATES"].patches == (
        "0001-mozilla-certdata2pem.py-make-cryptography-module-opt.patch",)
    mk = (EXTERNAL / "package" / "python-kiln" / "python-kiln.mk").read_text()
    assert "LIBOPENSSL_TARGET_ARCH += enable-ktls" in mk


def test_pinned_sources_agree_with_the_shared_snapshot():
    """Every pinned source that the shared snapshot also holds has the same sha256 there."""
    shared = sources.shared_dir()
    assert shared is not None, "../shared/buildroot/sources is missing beside the checkout"
    sums = {}
    for line in (shared / "SHA256SUMS").read_text().splitlines():
        digest, path = line.split(None, 1)
        sums[path.removeprefix("./")] = digest
    for src in sources.SOURCES:
        if src.shared_path in sums:
            assert sums[src.shared_path] == src.sha256, src.file
    names = [s.file for s in sources.SOURCES]
    assert len(names) == len(set(names))
    assert {s.use for s in sources.SOURCES} == {"site", "override", "python3-package"}
    assert all(s.package for s in sources.SOURCES if s.use == "override")
    assert all(s.site_name for s in sources.SOURCES if s.use == "site")


def test_a_source_with_the_wrong_checksum_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("KILN_BUILDROOT_CACHE", str(tmp_path / "cache"))
    shared = tmp_path / "shared"
    (shared / "pypi").mkdir(parents=True)
    (shared / "pypi" / "wheel-0.46.3.tar.gz").write_bytes(b"not the sdist")
    monkeypatch.setenv("KILN_BUILDROOT_SOURCES", str(shared))
    wheel = next(s for s in sources.SOURCES if s.file == "wheel-0.46.3.tar.gz")
    with pytest.raises(sources.SourceError, match="wheel-0.46.3.tar.gz from .* has sha256"):
        sources.fetch(wheel)
    assert not (tmp_path / "cache" / "sources" / "wheel-0.46.3.tar.gz").exists()


def test_host_openssl_is_the_hosts_c_rehash(tmp_path):
    """host-libopenssl of the offline build is a shim (HOST_PROGRAMS): Buildroot runs its
    ``./config --prefix=...``, ``make`` and ``make install`` as for OpenSSL, and gets a
    ``c_rehash`` that runs the host's ``openssl rehash``: the links OpenSSL's own c_rehash
    makes (the new subject hash only; Debian's c_rehash would add the old MD5 ones)."""
    text = offline.shim_configure("HOST_LIBOPENSSL")
    assert "host-libopenssl of Kiln's offline Buildroot build" in text
    src = tmp_path / "src"
    src.mkdir()
    (src / "config").write_text(text)
    (src / "config").chmod(0o755)
    prefix = tmp_path / "host"
    for cmd in (["./config", f"--prefix={prefix}", "--openssldir=/x", "no-docs", "shared"],
                ["make"], ["make", "install"]):
        run = subprocess.run(cmd, cwd=src, capture_output=True, text=True)
        assert run.returncode == 0, (cmd, run.stdout, run.stderr)
    certs = tmp_path / "certs"
    certs.mkdir()
    pem = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                          "ec_paramgen_curve:P-256", "-nodes", "-keyout", "/dev/null",
                          "-subj", "/CN=Kiln shim test", "-days", "1"],
                         capture_output=True, text=True, check=True).stdout
    (certs / "kiln.pem").write_text(pem)
    run = subprocess.run([str(prefix / "bin" / "c_rehash"), str(certs)], capture_output=True,
                         text=True)
    assert run.returncode == 0, run.stderr
    subject_hash = subprocess.run(["openssl", "x509", "-noout", "-subject_hash"], input=pem,
                                  capture_output=True, text=True, check=True).stdout.strip()
    assert os.readlink(certs / f"{subject_hash}.0") == "kiln.pem"
    assert sorted(p.name for p in certs.iterdir()) == sorted([f"{subject_hash}.0", "kiln.pem"])
