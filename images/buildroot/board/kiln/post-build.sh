#!/bin/sh
# Post-build script of every Kiln board. Runs after the packages and
# the rootfs overlays are installed, so it sees the kernel modules of
# whatever kernel the image carries (Buildroot's, or one an overlay
# brings).
set -eu

# /etc/kiln/modules: the kernel modules Kiln's init loads with insmod,
# dependencies first, for the board file's [kernel] modules.
# With Kiln's TLS layer, kernel TLS's modules too (Kiln's image recipe
# names them, as for its Debian images).
if grep -qx 'BR2_PACKAGE_PYTHON_KILN_TLS=y' "${BR2_CONFIG}"; then
	set -- "$1" --tls "${BR2_EXTERNAL_KILN_PATH}/../recipe.toml"
fi
"${HOST_DIR}/bin/python3" "${BR2_EXTERNAL_KILN_PATH}/board/kiln/kernel_modules.py" "$@"

# Python's ensurepip carries a pip wheel (1.8 MB, incompressible): a
# Kiln board runs its app and installs no packages at run time.
rm -rf "$1"/usr/lib/python3*/ensurepip
