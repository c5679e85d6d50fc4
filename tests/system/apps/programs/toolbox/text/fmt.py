from .. import units
from ..units import FACTOR


def label(x):
    return "%d%s" % (units.scale(x), "m" if FACTOR == 1000 else "?")
