"""lib/ is on the import path right after the app's folder (MicroPython's '' then /lib); a
single-file library, a namespace folder (mip's layout of umqtt/simple.py) and a package with a
relative import load from it with the face's builtins; the app's folder wins over lib/."""
import os
import sys


def run(ctx):
    lib = os.path.join(ctx.app_dir, "lib")
    if sys.path[:2] != [ctx.app_dir, lib]:
        raise AssertionError("sys.path starts with %r" % (sys.path[:3],))
    import precedence
    import probe_lib
    import probe_ns.echo
    import probe_pkg
    for module in (probe_lib, probe_ns.echo, probe_pkg):
        if not module.__file__.startswith(lib + os.sep):
            raise AssertionError("%s comes from %s" % (module.__name__, module.__file__))
    if list(probe_ns.__path__) != [os.path.join(lib, "probe_ns")]:
        raise AssertionError("probe_ns.__path__ is %r" % (list(probe_ns.__path__),))
    if probe_pkg.double(21) != 42:
        raise AssertionError("probe_pkg.double(21) is %r" % probe_pkg.double(21))
    sockets = {probe_lib.which_socket(), probe_ns.echo.which_socket()}
    if len(sockets) != 1:
        raise AssertionError("lib modules disagree on socket: %r" % sockets)
    return {"socket": sockets.pop(), "sleep": probe_ns.echo.zerynth_sleep(),
            "precedence": precedence.WHERE}
