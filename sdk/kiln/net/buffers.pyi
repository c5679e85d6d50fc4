"""Buffer acquisition for the socket calls (C-level only: nothing is exported to Python)."""
