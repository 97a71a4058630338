from tests.exchange.conftest import anyio_backend, books

__all__ = ["anyio_backend", "books"]
