"""Helpers for tests and benchmarks that need real engines."""
