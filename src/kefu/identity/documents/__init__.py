"""ID-document review: customers upload identity documents, risk officers review them, and an
approval counts as "identity re-verified" for step-up policies."""
