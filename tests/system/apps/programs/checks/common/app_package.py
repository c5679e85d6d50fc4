"""A package of the app (toolbox/: a subpackage, relative imports up and down) imports from the
app's folder, and its modules get the face's builtins and ``import socket``."""
import os


def run(ctx):
    import toolbox
    from toolbox.text import fmt
    expected = os.path.join(ctx.app_dir, "toolbox", "__init__.py")
    if toolbox.__file__ != expected:
        raise AssertionError("toolbox comes from %s, not %s" % (toolbox.__file__, expected))
    if fmt.__name__ != "toolbox.text.fmt" or fmt.__package__ != "toolbox.text":
        raise AssertionError("fmt is %s in %s" % (fmt.__name__, fmt.__package__))
    label = fmt.label(3)
    if label != "3000m" or toolbox.scale(2) != 2000:
        raise AssertionError("relative imports give %r, %r" % (label, toolbox.scale(2)))
    return {"label": label, "socket": toolbox.which_socket(),
            "sleep": toolbox.zerynth_sleep(), "file": toolbox.__file__}
