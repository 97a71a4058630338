"""Customers (mirrored from the exchange), agents, roles and sign-in sessions."""
