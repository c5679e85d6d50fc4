"""Where the system tests find their guest apps and keep their images; which boards they boot."""
from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
APPS = HERE / "apps"


def image_dir(board) -> Path:
    """Where the system tests build and reuse ``board``'s image: not ``out/<board>``, which
    ``kiln run`` and ``kiln image build`` use by default, so a developer's own builds and the
    tests never overwrite each other."""
    return REPO / "out" / "system-tests" / board.name


def qemu_boards() -> list[str]:
    """Every board whose file in ``board_configs/`` has a ``[qemu]`` table, sorted."""
    from kiln import boards
    return [name for name in boards.names() if boards.load(name).qemu is not None]


def hardware_boards() -> list[str]:
    """Every board of ``board_configs/`` without a ``[qemu]`` table (hardware only), sorted."""
    from kiln import boards
    return [name for name in boards.names() if boards.load(name).qemu is None]


def initramfs_qemu_boards() -> list[str]:
    """The QEMU boards booted from kernel + initramfs (the per-board system suite's boards);
    SD-card boards have their own tests (test_sdcard_boards.py), few boots each."""
    from kiln import boards
    return [name for name in qemu_boards() if boards.load(name).sdcard is None]


def sdcard_qemu_boards() -> list[str]:
    """SD-card boards that QEMU boots (their board file has [sdcard] and [qemu] tables)."""
    from kiln import boards
    return [name for name in qemu_boards() if boards.load(name).sdcard is not None]
