"""Zerynth's builtins without an import: ``new_exception`` in Zerynth's statement form (a
program-wide exception class with a default message), ``random()``/``random(a, b)``,
``hex``, the time units."""

new_exception(BoardError, IOError, "the board failed")


def run(ctx):
    try:
        raise BoardError
    except IOError as e:
        name, msg = type(e).__name__, str(e)
    values = [random(0, 3) for _ in range(400)]
    return {"name": name, "msg": msg, "all_in_range": set(values) == {0, 1, 2, 3},
            "big": random() >= 0, "hex": hex(255), "hex_bare": hex(255, ""),
            "units": "%d,%d,%d" % (MICROS, MILLIS, SECONDS)}
