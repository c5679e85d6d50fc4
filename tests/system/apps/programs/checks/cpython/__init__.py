"""Checks run only under --api cpython."""
