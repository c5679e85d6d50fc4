"""What each Kiln board is in Buildroot terms.

Board facts (architecture, CPU of the QEMU boards, kernel command line, image format and
compression, whether the board has Wi-Fi) live in ``board_configs/<board>.toml`` and nowhere
else.  This module holds only what a board file cannot know because it is Buildroot's business:
the name of the Kiln defconfig, the board folder of the br2-external tree, the upstream Buildroot
defconfig the board follows, and the kernel, firmware and host-tool lines taken from it (a user
with internet builds Buildroot's own kernel and firmware packages, as Buildroot's
``raspberrypi*_64`` and ``qemu_*`` defconfigs do).

Every line here is a real Buildroot symbol; ``kiln buildroot check`` loads every generated
defconfig in Buildroot and fails when one is dropped.
"""
from __future__ import annotations

from dataclasses import dataclass

from kiln.boards import BoardError

# Lines shared by the three Raspberry Pi boards, as in Buildroot 2026.02.3's
# configs/raspberrypi{3,4,zero2w}_64_defconfig: Raspberry Pi's kernel fork at the commit Buildroot
# pins (its hash is in board/raspberrypi/patches/linux/linux.hash), kmod with xz for its
# compressed modules, the host tools of the SD-card image.
_RPI_KERNEL = (
    'BR2_LINUX_KERNEL=y',
    'BR2_LINUX_KERNEL_CUSTOM_TARBALL=y',
    'BR2_LINUX_KERNEL_CUSTOM_TARBALL_LOCATION="$(call github,raspberrypi,linux,'
    '21b410140c47ffab5668399f6f143c7d7b935c8b)/linux-21b410140c47ffab5668399f6f143c7d7b935c8b'
    '.tar.gz"',
    'BR2_LINUX_KERNEL_DEFCONFIG="bcm2711"',
    'BR2_LINUX_KERNEL_DTS_SUPPORT=y',
)
_RPI_KERNEL_TAIL = ('BR2_LINUX_KERNEL_NEEDS_HOST_OPENSSL=y',)
_RPI_PACKAGES = (
    'BR2_PACKAGE_BUSYBOX_SHOW_OTHERS=y',
    'BR2_PACKAGE_XZ=y',
    'BR2_PACKAGE_KMOD=y',
    'BR2_PACKAGE_KMOD_TOOLS=y',
)
_RPI_HOST = (
    'BR2_PACKAGE_HOST_DOSFSTOOLS=y',
    'BR2_PACKAGE_HOST_GENIMAGE=y',
    'BR2_PACKAGE_HOST_KMOD_XZ=y',
    'BR2_PACKAGE_HOST_MTOOLS=y',
)
# The Broadcom Wi-Fi chips of the Raspberry Pi boards need their firmware and NVRAM files.
_RPI_WIFI_FIRMWARE = (
    'BR2_PACKAGE_BRCMFMAC_SDIO_FIRMWARE_RPI=y',
    'BR2_PACKAGE_BRCMFMAC_SDIO_FIRMWARE_RPI_WIFI=y',
)
# Buildroot's QEMU kernel: the version and hash of configs/qemu_*_defconfig
# (board/qemu/patches/linux/linux.hash).
_QEMU_KERNEL = (
    'BR2_LINUX_KERNEL=y',
    'BR2_LINUX_KERNEL_CUSTOM_VERSION=y',
    'BR2_LINUX_KERNEL_CUSTOM_VERSION_VALUE="6.18.7"',
)


@dataclass(frozen=True)
class BuildrootBoard:
    """One Kiln board as a Buildroot board (see the module docstring)."""

    kiln_board: str             # board_configs/<kiln_board>.toml
    name: str                   # Buildroot-style name: configs/kiln_<name>_defconfig
    board_dir: str              # folder of the br2-external tree holding its files
    upstream: str               # the Buildroot defconfig whose kernel/firmware lines it uses
    cpu: str = ""               # BR2_<cpu> of a board without [qemu] cpu in its board file
    patch_dir: str = ""         # BR2_GLOBAL_PATCH_DIR (upstream hashes of kernel tarballs)
    kernel: tuple[str, ...] = ()
    packages: tuple[str, ...] = ()
    wifi_firmware: tuple[str, ...] = ()
    host: tuple[str, ...] = ()

    @property
    def defconfig(self) -> str:
        """File name of the generated defconfig."""
        return f"kiln_{self.name}_defconfig"


BOARDS: dict[str, BuildrootBoard] = {b.kiln_board: b for b in (
    BuildrootBoard(
        kiln_board="rpi3b", name="raspberrypi3_64", board_dir="board/raspberrypi3-64",
        upstream="raspberrypi3_64_defconfig",
        patch_dir="board/raspberrypi/patches",
        kernel=(*_RPI_KERNEL, 'BR2_LINUX_KERNEL_INTREE_DTS_NAME="broadcom/bcm2710-rpi-3-b"',
                *_RPI_KERNEL_TAIL),
        packages=(*_RPI_PACKAGES, 'BR2_PACKAGE_RPI_FIRMWARE=y',
                  'BR2_PACKAGE_RPI_FIRMWARE_BOOTCODE_BIN=y',
                  'BR2_PACKAGE_RPI_FIRMWARE_VARIANT_PI=y'),
        wifi_firmware=_RPI_WIFI_FIRMWARE, host=_RPI_HOST),
    BuildrootBoard(
        kiln_board="rpi4b", name="raspberrypi4_64", board_dir="board/raspberrypi4-64",
        upstream="raspberrypi4_64_defconfig",
        patch_dir="board/raspberrypi/patches",
        kernel=(*_RPI_KERNEL, 'BR2_LINUX_KERNEL_INTREE_DTS_NAME="broadcom/bcm2711-rpi-4-b"',
                *_RPI_KERNEL_TAIL),
        packages=(*_RPI_PACKAGES, 'BR2_PACKAGE_RPI_FIRMWARE=y',
                  'BR2_PACKAGE_RPI_FIRMWARE_VARIANT_PI4=y'),
        wifi_firmware=_RPI_WIFI_FIRMWARE, host=_RPI_HOST),
    BuildrootBoard(
        kiln_board="rpi-zero2w", name="raspberrypizero2w_64",
        board_dir="board/raspberrypizero2w-64", upstream="raspberrypizero2w_64_defconfig",
        patch_dir="board/raspberrypi/patches",
        kernel=(*_RPI_KERNEL,
                'BR2_LINUX_KERNEL_INTREE_DTS_NAME="broadcom/bcm2710-rpi-zero-2-w"',
                *_RPI_KERNEL_TAIL),
        packages=(*_RPI_PACKAGES, 'BR2_PACKAGE_RPI_FIRMWARE=y',
                  'BR2_PACKAGE_RPI_FIRMWARE_BOOTCODE_BIN=y',
                  'BR2_PACKAGE_RPI_FIRMWARE_VARIANT_PI=y'),
        wifi_firmware=_RPI_WIFI_FIRMWARE, host=_RPI_HOST),
    BuildrootBoard(
        kiln_board="qemu-aarch64", name="qemu_aarch64_virt", board_dir="board/qemu/aarch64-virt",
        upstream="qemu_aarch64_virt_defconfig", patch_dir="board/qemu/patches",
        kernel=(*_QEMU_KERNEL,
                'BR2_LINUX_KERNEL_USE_CUSTOM_CONFIG=y',
                'BR2_LINUX_KERNEL_CUSTOM_CONFIG_FILE="board/qemu/aarch64-virt/linux.config"',
                'BR2_LINUX_KERNEL_CONFIG_FRAGMENT_FILES='
                '"$(BR2_EXTERNAL_KILN_PATH)/board/qemu/linux.fragment"',
                'BR2_LINUX_KERNEL_NEEDS_HOST_OPENSSL=y')),
    BuildrootBoard(
        kiln_board="qemu-arm", name="qemu_arm_virt", board_dir="board/qemu/arm-virt",
        # Buildroot has no plain 32-bit virt defconfig: qemu_arm_ebbr_defconfig boots the same
        # machine (through U-Boot); the kernel here is Linux's multi_v7 configuration.
        upstream="qemu_arm_ebbr_defconfig", patch_dir="board/qemu/patches",
        kernel=(*_QEMU_KERNEL,
                'BR2_LINUX_KERNEL_DEFCONFIG="multi_v7"',
                'BR2_LINUX_KERNEL_CONFIG_FRAGMENT_FILES='
                '"$(BR2_EXTERNAL_KILN_PATH)/board/qemu/linux.fragment"',
                'BR2_LINUX_KERNEL_NEEDS_HOST_OPENSSL=y')),
)}


def for_board(kiln_board: str) -> BuildrootBoard:
    """The Buildroot side of Kiln board ``kiln_board``; :class:`kiln.boards.BoardError` (a
    KilnError: ``kiln`` prints it without a traceback) naming the known ones."""
    try:
        return BOARDS[kiln_board]
    except KeyError:
        raise BoardError(f"no Buildroot mapping for Kiln board {kiln_board!r}: add it to "
                       f"kiln.host.buildroot.boards.BOARDS (known: {', '.join(BOARDS)})") from None
