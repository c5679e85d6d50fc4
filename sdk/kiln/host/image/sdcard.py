"""The ``sdcard`` packer: a staged root tree -> a Raspberry Pi SD-card image + its block map.

::

    sdcard.img                       MBR, disk signature from the input key
      1  KILNBOOT   FAT, 0x0C, boot  GPU firmware (raspi-firmware), vmlinuz (Debian's arm64
                                     kernel, loaded by the firmware directly), the boot
                                     initramfs, the board's DTBs, config.txt, cmdline.txt
      2  kiln-root  squashfs | ext4  the staged tree + Wi-Fi firmware + modules.dep
    sdcard.img.bmap                  what `kiln flash` (bmaptool) writes: mapped blocks only

Boot: the GPU firmware reads ``config.txt`` (``upstream_kernel=1``: the kernel's own DTB names;
``kernel=vmlinuz``, ``initramfs initramfs.cpio.zst followkernel``, the scheme Debian's
raspi-firmware hook writes), loads kernel, DTB and initramfs, and starts the kernel with
``cmdline.txt``.  The boot initramfs (``images/sdcard/init``: busybox, the SD controller and
root filesystem modules of ``[sdcard] boot_modules``) finds ``root=PARTUUID=``, mounts it
(squashfs: read-only with a tmpfs overlay) and ``switch_root``\\ s to Kiln's init, which loads
``[kernel] modules`` from the root partition and runs the app exactly as on the QEMU boards.

Every board fact comes from the board file (firmware files, DTBs, config.txt lines, modules,
Wi-Fi firmware, partition sizes, root filesystem); nothing here knows a board by name.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

from kiln.boards import Board
from kiln.errors import KilnError
from kiln.host.image import cpio, dtedit, genimage, kernel, mbr, recipe as recipe_mod
from kiln.host.image.artifacts import ImageArtifacts
from kiln.host.image.layout import OutLayout
from kiln.host.image.progress import Progress
from kiln.host.image.stage import StagedTree, extra_apts, private_apt

FIRMWARE_DIR = "usr/lib/raspi-firmware"      # in the raspi-firmware package
INIT = "sdcard/init"                          # the boot initramfs's init, below images/
KERNEL_NAME = "vmlinuz"
SUFFIX = {"zstd": "zst", "xz": "xz", "gzip": "gz"}
# Modules the boot initramfs adds after [sdcard] boot_modules, per root filesystem.
ROOTFS_MODULES = {"squashfs": ("squashfs", "overlay"), "ext4": ("ext4",)}
# Files of the kernel's lib/modules/<abi>/ that depmod and modprobe read besides the modules.
_MODULE_META = ("modules.builtin", "modules.builtin.modinfo", "modules.order")


class SdcardError(KilnError):
    """A file the board file names is not where it says, or a tool failed."""


def boot_initrd_name(board: Board) -> str:
    return f"initramfs.cpio.{SUFFIX[board.compression]}"


def pack(staged: StagedTree, board: Board, layout: OutLayout) -> ImageArtifacts:
    """Write ``sdcard.img`` and ``sdcard.img.bmap`` into ``layout.out_dir`` (the boot
    partition's tree stays in ``work/boot/``); return the artifacts.  Blocks for seconds
    (minutes when the firmware packages are not cached yet).  Raises :class:`KilnError`
    subclasses naming the problem."""
    sd = board.sdcard
    if sd is None:
        raise SdcardError(f"board {board.name} has no [sdcard] table")
    missing = genimage.missing_tools(sd.rootfs)
    if missing:
        raise SdcardError(f"cannot pack the SD-card image: apt-get install {' '.join(missing)}")
    recipe = recipe_mod.load()
    ktree = kernel.KernelTree(abi=staged.kernel_abi, image=staged.kernel,
                              modules_dir=staged.kernel.parents[1] / "lib/modules" / staged.kernel_abi)

    pkg_root = layout.scratch("sdcard-packages")
    packages = _firmware_packages(board, layout, recipe, pkg_root)

    # The root partition: the staged tree plus Wi-Fi firmware and the module index.
    root = staged.root
    _install_lib_firmware(board, pkg_root, root)
    _depmod(root, ktree)

    # The boot partition.
    boot = layout.work / "boot"
    if boot.exists():
        shutil.rmtree(boot)
    boot.mkdir(parents=True)
    for name in sd.firmware:
        _copy(pkg_root / FIRMWARE_DIR / name, boot / name, sd.firmware_package)
    shutil.copy(staged.kernel, boot / KERNEL_NAME)
    dtb_dir = ktree.modules_dir.parents[2] / "usr/lib" / f"linux-image-{ktree.abi}"
    for dtb in sd.dtbs:
        _copy(dtb_dir / dtb, boot / Path(dtb).name, f"linux-image-{ktree.abi}")
        dtedit.apply_board(boot / Path(dtb).name, sd)   # the buses the board file enables
    initrd_name = boot_initrd_name(board)
    raw_size = _boot_initramfs(board, recipe, ktree, root, layout, boot / initrd_name)
    (boot / "config.txt").write_text(config_txt(board, initrd_name))
    signature = genimage.disk_signature(staged.key)
    cmdline = sd_cmdline(board, signature)
    (boot / "cmdline.txt").write_text(cmdline + "\n")

    glayout = genimage.Layout(boot_files=tuple(sorted(p.name for p in boot.iterdir())),
                              boot_mb=sd.boot_mb, root_mb=sd.root_mb, rootfs=sd.rootfs,
                              disk_signature=signature)
    gwork = layout.scratch("genimage")
    image = genimage.run(glayout, boot, root, gwork, layout.out_dir)
    root_bytes = (gwork / "images" / f"root.{sd.rootfs}").stat().st_size
    _check_fits(boot, sd.boot_mb, root_bytes, sd.root_mb, sd.rootfs)
    shutil.rmtree(gwork)
    bmap = layout.artifact(image.name + ".bmap")
    mapped = create_bmap(image, bmap)
    shutil.rmtree(pkg_root, ignore_errors=True)

    return ImageArtifacts(
        board=board.name, kernel=boot / KERNEL_NAME, initrd=boot / initrd_name, cmdline=cmdline,
        kernel_abi=staged.kernel_abi, compression=board.compression,
        initrd_bytes=(boot / initrd_name).stat().st_size, initrd_uncompressed_bytes=raw_size,
        kernel_bytes=staged.kernel.stat().st_size,
        packages=staged.packages + tuple(packages),
        kiln_extensions=staged.kiln_extensions, key=staged.key,
        sdcard=image, bmap=bmap, image_bytes=image.stat().st_size, mapped_bytes=mapped,
        rootfs=sd.rootfs, root_bytes=root_bytes)


def config_txt(board: Board, initrd_name: str) -> str:
    """``config.txt``: the board file's lines, then kernel and initramfs (Debian's scheme)."""
    lines = ["# Generated by Kiln (kiln.host.image.sdcard) from board_configs/"
             f"{board.name}.toml", *board.sdcard.config_txt,
             f"kernel={KERNEL_NAME}", f"initramfs {initrd_name} followkernel"]
    return "\n".join(lines) + "\n"


def sd_cmdline(board: Board, signature: int) -> str:
    """``cmdline.txt``: the board's command line plus the root partition (by PARTUUID)."""
    partuuid = mbr.PartitionTable(signature, ()).partuuid(genimage.ROOT_PARTITION)
    return f"{board.cmdline} root=PARTUUID={partuuid} rootfstype={board.sdcard.rootfs} rootwait"


def _firmware_packages(board: Board, layout: OutLayout, recipe: recipe_mod.Recipe,
                       dest: Path) -> list[str]:
    """Download (cached) and unpack the GPU and Wi-Fi firmware packages into ``dest``;
    return their ``name=version``."""
    sd = board.sdcard
    apt = private_apt(layout, recipe)
    sources = extra_apts(board, apt) + [apt]
    names = [sd.firmware_package] + ([sd.lib_firmware_package] if sd.lib_firmware_package else [])
    quiet = Progress(enabled=False)
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    found = []
    for name in names:
        for source in sources:
            if not source.index_files():
                continue
            index = source.load_index()
            try:
                pkg = index.newest(name)
            except KilnError:
                continue
            deb, = source.download([pkg], quiet)
            subprocess.run(["dpkg-deb", "-x", str(deb), str(dest)], check=True)
            found.append(f"{pkg.name}={pkg.version}")
            break
        else:
            comps = ", ".join(sorted({c for s in sources for c in s.recipe.components}))
            raise SdcardError(f"package {name} is not in the {board.debian_arch} index "
                              f"(components {comps}); set [sdcard] apt_components in "
                              f"{board.source}")
    return found


def _copy(src: Path, dest: Path, package: str) -> None:
    if not src.is_file():
        raise SdcardError(f"{src.name} is not in {package} (looked for {src}); fix the board file")
    shutil.copy(src, dest)


def _install_lib_firmware(board: Board, pkg_root: Path, root: Path) -> None:
    """Copy ``[sdcard] lib_firmware`` (symlinks resolved inside the package tree) and make
    ``lib_firmware_links``."""
    sd = board.sdcard
    src_base, dest_base = pkg_root / "lib/firmware", root / "lib/firmware"
    for rel in sd.lib_firmware:
        src = src_base / rel
        real = _resolve_inside(pkg_root, src)
        if real is None or not real.is_file():
            raise SdcardError(f"firmware file {rel} is not in {sd.lib_firmware_package}; fix "
                              f"[sdcard] lib_firmware in {board.source}")
        (dest_base / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(real, dest_base / rel)
    for entry in sd.lib_firmware_links:
        link, target = entry.split("=", 1)
        path = dest_base / link
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink() or path.exists():
            path.unlink()
        path.symlink_to(target)
        if not path.exists():
            raise SdcardError(f"[sdcard] lib_firmware_links: {link} -> {target} points to "
                              f"nothing in the image")


def _resolve_inside(root: Path, path: Path) -> Path | None:
    """``path`` with symlinks resolved as if ``root`` were ``/`` (absolute links stay inside)."""
    for _ in range(40):
        if not path.is_symlink():
            return path if path.exists() else None
        target = os.readlink(path)
        path = (root / target.lstrip("/")) if target.startswith("/") else (path.parent / target)
        path = Path(os.path.normpath(path))
    return None


def _depmod(tree: Path, ktree: kernel.KernelTree) -> None:
    """``modules.dep`` & co. for the modules under ``tree`` (Debian's package ships none)."""
    mdir = tree / "lib/modules" / ktree.abi
    mdir.mkdir(parents=True, exist_ok=True)
    for name in _MODULE_META:
        if (ktree.modules_dir / name).is_file():
            shutil.copy(ktree.modules_dir / name, mdir / name)
    depmod = shutil.which("depmod") or "/sbin/depmod"
    if not Path(depmod).exists():
        raise SdcardError("depmod not found: apt-get install kmod")
    result = subprocess.run([depmod, "-b", str(tree), ktree.abi], capture_output=True, text=True)
    if result.returncode != 0 or not (mdir / "modules.dep").is_file():
        raise SdcardError(f"depmod failed: {result.stderr.strip()}")


def _boot_initramfs(board: Board, recipe: recipe_mod.Recipe, ktree: kernel.KernelTree,
                    staged_root: Path, layout: OutLayout, dest: Path) -> int:
    """The boot initramfs (busybox, init, SD and root-filesystem modules) compressed into
    ``dest``; returns its uncompressed size."""
    tree = layout.scratch("boot-initramfs")
    if tree.exists():
        shutil.rmtree(tree)
    for d in ("bin", "dev", "proc", "sys", "newroot", "etc/kiln"):
        (tree / d).mkdir(parents=True)
    shutil.copy(staged_root / "bin/busybox", tree / "bin/busybox")
    for d in ("bin", "sbin", "usr/bin", "usr/sbin"):   # the applet links stage() made
        for link in sorted((staged_root / d).iterdir()) if (staged_root / d).is_dir() else []:
            if link.is_symlink() and os.readlink(link) == "/bin/busybox" \
                    and not (tree / "bin" / link.name).is_symlink():
                (tree / "bin" / link.name).symlink_to("busybox")
    for applet in ("sh", "mount", "insmod", "switch_root", "od", "findfs"):
        if not (tree / "bin" / applet).is_symlink():
            raise SdcardError(f"the image's busybox has no {applet} applet (boot initramfs)")
    init = tree / "init"
    shutil.copy(recipe.images_dir / INIT, init)
    init.chmod(0o755)
    wanted = board.sdcard.boot_modules + ROOTFS_MODULES[board.sdcard.rootfs]
    lines = []
    modules_root = ktree.modules_dir.parent
    for ko in kernel.module_load_order(ktree.modules_dir, wanted):
        rel = ko.relative_to(modules_root)
        (tree / "lib/modules" / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ko, tree / "lib/modules" / rel)
        lines.append(rel.as_posix())
    (tree / "etc/kiln/boot-modules").write_text("".join(line + "\n" for line in lines))
    _depmod(tree, ktree)
    raw = layout.scratch("boot-initramfs.cpio")
    entries = cpio.tree_entries(tree) + [cpio.char_device("dev/console", 5, 1),
                                         cpio.char_device("dev/null", 1, 3, 0o666)]
    with raw.open("wb") as f:
        raw_size = cpio.write_newc(entries, f)
    cpio.compress(raw, dest, board.compression)
    raw.unlink()
    shutil.rmtree(tree)
    return raw_size


def _check_fits(boot: Path, boot_mb: int, root_bytes: int, root_mb: int, rootfs: str) -> None:
    used = sum(p.stat().st_size for p in boot.iterdir())
    if used > boot_mb * 2**20 * 0.95:
        raise SdcardError(f"the boot files take {used / 2**20:.1f} MiB: raise [sdcard] boot_mb "
                          f"({boot_mb})")
    if root_bytes > root_mb * 2**20:
        raise SdcardError(f"the {rootfs} root filesystem takes {root_bytes / 2**20:.1f} MiB: "
                          f"raise [sdcard] root_mb ({root_mb})")


def create_bmap(image: Path, bmap: Path) -> int:
    """Write ``bmap`` for ``image`` with ``bmaptool create``; return the mapped bytes."""
    if not shutil.which("bmaptool"):
        raise SdcardError("bmaptool not found: apt-get install bmap-tools")
    result = subprocess.run(["bmaptool", "create", "-o", str(bmap), str(image)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise SdcardError(f"bmaptool create failed: {result.stderr.strip()}")
    return mapped_bytes(bmap)


def mapped_bytes(bmap: Path) -> int:
    """Bytes of the image that ``bmap`` marks as mapped (blocks x block size)."""
    tree = ET.parse(bmap).getroot()
    block = int(tree.findtext("BlockSize").strip())
    return int(tree.findtext("MappedBlocksCount").strip()) * block
