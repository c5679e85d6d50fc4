#!/bin/sh
# Post-image script of Kiln's QEMU boards: writes start-qemu.sh next to
# the kernel and the initramfs, the QEMU command line of the board file
# (/etc/kiln/board.toml) with QEMU's user-mode network, as Buildroot's
# own QEMU boards do.
set -eu

"${HOST_DIR}/bin/python3" "${BR2_EXTERNAL_KILN_PATH}/board/qemu/start_qemu.py" \
	"${TARGET_DIR}/etc/kiln/board.toml" "$1"
