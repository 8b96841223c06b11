"""The real-CLI test tier (a package, so its conftest never shadows tests/conftest.py)."""
