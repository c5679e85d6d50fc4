"""A package in lib/ with a relative import."""
from .core import double  # noqa: F401 (the package's API)
