"""The watchdog loop, launching, fleet up/down: doors and core put to work."""
