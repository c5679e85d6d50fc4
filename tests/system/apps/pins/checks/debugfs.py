"""What the kernel shows of GPIO lines (/sys/kernel/debug/gpio, mounted by main.py): the
consumer that holds each requested line and its direction and level, as ``gpioinfo`` would."""


def line(chip_node, offset):
    """The debugfs line of ``offset`` on the chip whose parent device name contains
    ``chip_node`` (e.g. ``9030000.pl061``, ``3f200000.gpio``), normalised to
    ``consumer|direction|level`` (``kiln|out|hi``); "" when the line is not requested."""
    with open("/sys/kernel/debug/gpio") as f:
        text = f.read()
    base = None
    for raw in text.splitlines():
        if raw.startswith("gpiochip"):
            base = int(raw.split("GPIOs ", 1)[1].split("-", 1)[0]) if chip_node in raw else None
            continue
        words = raw.split()
        if base is None or not words or words[0] != "gpio-%d" % (base + offset):
            continue
        inside = raw[raw.index("(") + 1:raw.index(")")]
        consumer = inside.split("|", 1)[1].strip() if "|" in inside else ""
        rest = raw[raw.index(")") + 1:].split()
        return "%s|%s|%s" % (consumer, rest[0], rest[1] if len(rest) > 1 else "")
    return ""
