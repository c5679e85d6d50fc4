"""Board support for Kiln: ``from bsp import board`` (Zerynth style).

- ``bsp.board``     ``init()``, ``summary()``, ``facts()`` for the board Kiln runs on.
- ``bsp.identity``  reads who the board is from the running system (device tree, revision code,
                    /proc/meminfo) and matches it against ``board_configs/``.
- ``bsp.rpi``       decodes Raspberry Pi revision codes.
"""
