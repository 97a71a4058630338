"""What can go wrong when kefu talks to the exchange, as `KefuError`s with stable codes.

The http adapter maps the contract's error bodies (their `code`) back to these classes, so a
caller sees the same error whichever adapter is configured.
"""

from __future__ import annotations

from kefu.core.errors import KefuError
from kefu.core.i18n import N_


class ExchangeError(KefuError):
    status = 502
    code = "exchange_error"
    message = N_("The exchange could not complete the request.")


class UnknownAccount(ExchangeError):
    status = 404
    code = "exchange_unknown_account"
    message = N_("The exchange has no account %(account)s.")


class UnknownRecord(ExchangeError):
    status = 404
    code = "exchange_unknown_record"
    message = N_("The exchange has no such record.")


class AccountFrozen(ExchangeError):
    status = 423
    code = "exchange_account_frozen"
    message = N_("The account is frozen (%(scopes)s); this operation is not allowed.")


class WithdrawalLocked(ExchangeError):
    status = 423
    code = "exchange_withdrawal_locked"
    message = N_("Withdrawals are locked for this account until %(until)s.")


class InsufficientBalance(ExchangeError):
    status = 409
    code = "exchange_insufficient_balance"
    message = N_("The available balance is too low for this withdrawal.")


class ExchangeIdempotencyConflict(ExchangeError):
    status = 422
    code = "exchange_idempotency_conflict"
    message = N_("This idempotency key was already used for a different request.")


class ExchangeInvalidRequest(ExchangeError):
    status = 422
    code = "exchange_invalid_request"
    message = N_("The exchange refused the request as invalid: %(detail)s")


class ExchangeUnavailable(ExchangeError):
    status = 503
    code = "exchange_unavailable"
    message = N_("The exchange is unavailable; try again later.")


class ExchangeAuthFailed(ExchangeError):
    status = 502
    code = "exchange_auth_failed"
    message = N_("The exchange refused kefu's credentials.")


ERRORS_BY_CODE: dict[str, type[ExchangeError]] = {
    cls.code: cls
    for cls in (
        ExchangeError,
        UnknownAccount,
        UnknownRecord,
        AccountFrozen,
        WithdrawalLocked,
        InsufficientBalance,
        ExchangeIdempotencyConflict,
        ExchangeInvalidRequest,
        ExchangeUnavailable,
        ExchangeAuthFailed,
    )
}
