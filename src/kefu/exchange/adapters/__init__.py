"""Implementations of the exchange port."""
