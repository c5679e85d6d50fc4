"""Booting Kiln images under QEMU on an isolated network (``kiln run``).

The pieces are kept apart so that tests and benchmarks can reuse them and so that "the target"
(a QEMU guest today, a real board through labgrid later) stays separate from "the network lab":

* :mod:`kiln.host.runner.preflight` -- host checks (root, /dev/net/tun, programs) naming the fix;
* :mod:`kiln.host.runner.netns` -- entering a network namespace from Python (sockets, argv prefix);
* :mod:`kiln.host.runner.addressing` -- the lab subnet: host-side address, static guest, DHCP pool;
* :mod:`kiln.host.runner.dnsmasq` -- dnsmasq's command line (the only one), hosts file, leases;
* :mod:`kiln.host.runner.netlab` -- namespace + tap (QEMU) or veth (a host process as the device)
  + host address + dnsmasq + host-side servers: ``kiln run``, system and host tests share it;
* :mod:`kiln.host.runner.qemu` -- the QEMU arguments, built from board data only, for ``kiln run``
  and for the system tests' labgrid environment alike;
* :mod:`kiln.host.runner.qemutool` -- which QEMU binary boots a board (a private copy of a newer
  Debian QEMU when the board file asks for one);
* :mod:`kiln.host.runner.sdboot` -- the Raspberry Pi firmware's job for an SD image under QEMU's
  raspi machines (kernel, initramfs, command line and DTB from the card's boot partition);
* :mod:`kiln.host.runner.wifilab` -- the Wi-Fi test lab's access points, as a kernel argument;
* :mod:`kiln.host.runner.console` -- following the guest console and the app's exit status;
* :mod:`kiln.host.runner.boot` -- one boot of an image in a lab, QEMU stopped afterwards;
* :mod:`kiln.host.runner.signals` -- SIGTERM/SIGHUP as exceptions so teardown always runs;
* :mod:`kiln.host.runner.cli` -- the ``kiln run`` subcommand tying them together.
"""
