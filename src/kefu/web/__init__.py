"""Server-rendered pages: the agent console and the customer portal."""
