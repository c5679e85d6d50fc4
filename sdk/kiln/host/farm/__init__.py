"""``kiln farm``: Kiln's system tests on boards reached through a labgrid coordinator.

A board farm is labgrid's coordinator/exporter model: a ``labgrid-coordinator`` knows *places*
(one per board); a ``labgrid-exporter`` on each lab host exports the resources wired to its
boards (serial console, power outlet, SD-card mux, network port); a client acquires a place and
drives it through a ``RemotePlace`` environment file.  The system tests' strategy
(``tests/system/kiln_labgrid.py``) does not change between a local QEMU and a place: only the
environment file does (``tests/system/envs/``).

Parts:

* :mod:`kiln.host.farm.boardhost` -- the emulated hardware of QEMU places (one process): per
  place a serial port on TCP (QEMU's console, as ser2net serves a USB-serial adapter), a power
  outlet (HTTP, labgrid's ``rest`` power model) whose on/off start and stop the board's QEMU
  inside the network lab its cable is plugged into, an "SD card" image file written through a
  mux as a USB-SD-Mux place's card is, and the board's Ethernet port;
* :mod:`kiln.host.farm.labgrid_parts` -- the labgrid resource and driver classes of the card and
  the Ethernet port (the serial port and the outlet are labgrid's own classes);
* :mod:`kiln.host.farm.farm` -- :class:`~kiln.host.farm.farm.Farm`: coordinator, board host
  and exporter on loopback, places created, tagged and matched with ``labgrid-client``;
* :mod:`kiln.host.farm.testrun` -- acquire places, run pytest against them (one process per
  place, the tests split between them), release;
* :mod:`kiln.host.farm.cli` -- the ``kiln farm`` command.
"""
