"""The agent console: cookie sign-in, the home page and the ID-document review queue."""
