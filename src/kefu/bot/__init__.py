"""Tier 1: language detection, intent classification with out-of-scope detection, redaction
of secrets on arrival, dialogue flows and handoff to people."""
