#!/usr/bin/env python3
"""Write BINARIES_DIR/start-qemu.sh for a Kiln QEMU board (post-image).

usage: start_qemu.py BOARD_TOML BINARIES_DIR

The QEMU machine, CPU, memory, NIC and kernel command line come from
the board file ([qemu], [kernel] cmdline).  The guest gets QEMU's
user-mode network (DHCP and DNS from QEMU, the host's network behind
NAT); the console is the terminal.  Arguments of start-qemu.sh are
appended to the kernel command line, e.g. kiln.shell=1.
"""
import shlex
import sys
import tomllib
from pathlib import Path

KERNELS = ("Image", "zImage", "vmlinuz")
NETDEV = "kilnnet"


def script(board, kernel, initrd):
    q = board["qemu"]
    nic = [a.replace("{netdev}", NETDEV) for a in q["nic_args"]]
    argv = [q["binary"], "-M", q["machine"], "-cpu", q["cpu"],
            "-m", str(q["memory_mb"]), "-smp", str(q.get("smp", 1)),
            "-nographic", "-no-reboot", "-netdev", f"user,id={NETDEV}",
            *nic,
            "-kernel", kernel, "-initrd", initrd]
    cmdline = board["kernel"]["cmdline"]
    return (
        "#!/bin/sh\n"
        f"# Boots Kiln's {board['board']['name']} image under QEMU "
        "(written by Kiln's board/qemu/post-image.sh).\n"
        "# Arguments are appended to the kernel command line, "
        "e.g. kiln.shell=1.\n"
        'cd "$(dirname "$0")"\n'
        f"exec {shlex.join(argv)} \\\n"
        f'\t-append "{cmdline} $*"\n')


def main(argv):
    if len(argv) != 3:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    board = tomllib.loads(Path(argv[1]).read_text())
    images = Path(argv[2])
    kernel = next((k for k in KERNELS if (images / k).is_file()), None)
    initrds = sorted(p.name for p in images.glob("rootfs.cpio*"))
    if kernel is None or not initrds:
        print(f"kiln: no kernel ({', '.join(KERNELS)}) or rootfs.cpio* in "
              f"{images}", file=sys.stderr)
        return 1
    out = images / "start-qemu.sh"
    out.write_text(script(board, kernel, initrds[-1]))
    out.chmod(0o755)
    print(f"kiln: wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
