from .fmt import label  # noqa: F401 (the package's API)
