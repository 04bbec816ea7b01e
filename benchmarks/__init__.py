"""Benchmarks that print JSON figures (speed and memory targets are checked here, not in tests)."""
