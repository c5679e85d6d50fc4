"""The waiting helper (C-level only: nothing is exported to Python)."""
