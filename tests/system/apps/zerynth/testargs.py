"""``kiln.test_NAME=VALUE`` arguments of the kernel command line, for test apps."""


def arg(name, default=None):
    with open("/proc/cmdline") as f:
        for word in f.read().split():
            if word.startswith(f"kiln.test_{name}="):
                return word.split("=", 1)[1]
    return default
