"""Checks run only under --api micropython."""
