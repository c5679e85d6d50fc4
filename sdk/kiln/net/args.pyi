"""Argument conversion for the socket calls (C-level; only the size limit is visible)."""

#: The largest byte count a read accepts (the machine's physical memory).
MAX_READ_SIZE: int
