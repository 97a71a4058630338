"""The customer portal (`/portal/...`): sign-in from the exchange's signed link, my tickets,
the knowledge base, ID-document upload and the "is this really kefu support?" check."""
