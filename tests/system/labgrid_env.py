"""labgrid environment configuration for a Kiln board booted under QEMU on a NetLab tap.

This is "the target" half of the system tests: a labgrid environment (YAML) whose only target,
``main``, has a QEMUDriver built from the board file.  A real board later gets an environment
with power and serial drivers instead; the tests only use the console and power protocols.

labgrid's QEMUDriver takes the QEMU binary as a path (its ``tools`` key), not an argv, so the
binary is a :meth:`NetLab.wrapper` script that runs QEMU inside the lab's namespace, where the
tap lives.  ``-no-shutdown`` keeps QEMU (stopped) after the guest powers off so that labgrid's
``off()`` can still quit it through QMP.
"""
from __future__ import annotations

import shlex
from pathlib import Path

import yaml

from kiln.host.runner import qemu
from kiln.host.runner.boot import BootImage
from kiln.host.runner.netlab import NetLab

TARGET = "main"


def environment(board, image: BootImage, lab: NetLab, cmdline: str) -> dict:
    """The labgrid environment (as a dict) booting ``image`` on ``board`` attached to ``lab``."""
    spec = board.qemu
    extra = ["-initrd", str(image.initrd), "-smp", str(spec.smp), "-no-shutdown",
             "-netdev", f"tap,id={qemu.NETDEV_ID},ifname={lab.tap},script=no,downscript=no",
             *spec.nic(qemu.NETDEV_ID)]
    return {
        "targets": {TARGET: {"drivers": {"QEMUDriver": {
            "qemu_bin": "qemu",
            "machine": spec.machine,
            "cpu": spec.cpu,
            "memory": f"{spec.memory_mb}M",
            "kernel": "kernel",
            "display": "none",
            "extra_args": shlex.join(extra),
            "boot_args": cmdline,
        }}}},
        "images": {"kernel": str(image.kernel)},
        "tools": {"qemu": str(lab.wrapper(spec.binary))},
    }


def write_environment(board, image: BootImage, lab: NetLab, cmdline: str, path: Path) -> Path:
    """Write :func:`environment` as YAML to ``path`` and return ``path``."""
    path.write_text(yaml.safe_dump(environment(board, image, lab, cmdline), sort_keys=False))
    return path
