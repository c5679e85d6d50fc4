"""errno / EAI codes as Python exceptions (Python-visible part)."""

class ResolveError(OSError):
    """A host name or service could not be resolved; ``args[0]`` is the negative EAI_* code."""

class AddressError(OSError, ValueError):
    """A socket address has a valid type but a bad value (IP text, port, path length)."""
