"""Demo data for `kefu demo`: a desk that looks lived-in, built through the real services."""
