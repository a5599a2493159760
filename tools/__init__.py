"""Generators for files committed beside the code (each has a --check mode for tests)."""
