from tests.exchange.conftest import anyio_backend, books, exchange, reference_url

__all__ = ["anyio_backend", "books", "exchange", "reference_url"]
