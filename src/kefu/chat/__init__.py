"""Live chat: the customer widget, its WebSocket, and the agents' live view."""
