"""Zerynth's byte strings: a ``bytearray`` that also compares with ``str``.

Zerynth strings are byte strings, so Zerynth programs compare what a stream returns with str
literals (``while line != "\\r\\n": ...``, ``msg.startswith("HTTP/1.")``).  In CPython a
bytearray never equals a str; :class:`zbytearray` -- what Kiln's streams return -- does when
the str's UTF-8 bytes are its bytes, and its search methods accept str arguments.  It prints
like a bytearray.
"""


def _b(value):
    return value.encode("utf-8", "surrogatepass") if isinstance(value, str) else value


def _bs(values):
    if isinstance(values, tuple):
        return tuple(_b(v) for v in values)
    return _b(values)


class zbytearray(bytearray):
    """A bytearray whose comparisons and search methods accept str (as UTF-8 bytes)."""

    __slots__ = ()
    __hash__ = None

    def __eq__(self, other):
        return bytearray.__eq__(self, _b(other))

    def __ne__(self, other):
        return bytearray.__ne__(self, _b(other))

    def __contains__(self, item):
        return bytearray.__contains__(self, _b(item))

    def __getitem__(self, index):
        result = bytearray.__getitem__(self, index)
        return zbytearray(result) if isinstance(index, slice) else result

    def __repr__(self):
        return "bytearray(" + repr(bytes(self)) + ")"

    __str__ = __repr__

    def startswith(self, prefix, *args):
        return bytearray.startswith(self, _bs(prefix), *args)

    def endswith(self, suffix, *args):
        return bytearray.endswith(self, _bs(suffix), *args)

    def find(self, sub, *args):
        return bytearray.find(self, _b(sub), *args)

    def rfind(self, sub, *args):
        return bytearray.rfind(self, _b(sub), *args)

    def index(self, sub, *args):
        return bytearray.index(self, _b(sub), *args)

    def count(self, sub, *args):
        return bytearray.count(self, _b(sub), *args)

    def split(self, sep=None, maxsplit=-1):
        return [zbytearray(p) for p in bytearray.split(self, _b(sep), maxsplit)]

    def strip(self, chars=None):
        return zbytearray(bytearray.strip(self, _b(chars)))

    def lstrip(self, chars=None):
        return zbytearray(bytearray.lstrip(self, _b(chars)))

    def rstrip(self, chars=None):
        return zbytearray(bytearray.rstrip(self, _b(chars)))

    def replace(self, old, new, count=-1):
        return zbytearray(bytearray.replace(self, _b(old), _b(new), count))

    def lower(self):
        return zbytearray(bytearray.lower(self))

    def upper(self):
        return zbytearray(bytearray.upper(self))
