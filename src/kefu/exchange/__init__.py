"""The port to the exchange back office and its adapters.

kefu never holds funds: every read of a customer's exchange data and every control (freeze,
password reset, withdrawal lock, payout) goes through `kefu.exchange.port.Exchange`. Two
adapters implement it: `demo` (a simulated exchange in kefu's own database) and `http` (the
REST contract in `contract/exchange-api.yaml` that an exchange implements).
"""
