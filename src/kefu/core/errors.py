"""One error hierarchy, mapped once to RFC 9457 problem responses with stable codes.

Services raise these; they never import FastAPI. `kefu.core.problems` turns them into
`application/problem+json` responses with the message in the requester's language.
"""

from __future__ import annotations

from typing import Any

from kefu.core.i18n import N_


class KefuError(Exception):
    """Base of every error a client may see. `code` is stable and machine-readable."""

    status: int = 400
    code: str = "bad_request"
    # A Babel msgid with `%(name)s` placeholders filled from `params`.
    message: str = N_("The request could not be processed.")
    # True for refusals whose audit record (and attempt counters) must outlive the rollback:
    # the request's unit of work commits what was written before raising, then answers 4xx.
    keep_writes: bool = False

    def __init__(self, message: str | None = None, /, **params: Any) -> None:
        if message is not None:
            self.message = message
        self.params = params
        super().__init__(self.message % params if params else self.message)


class BadRequest(KefuError):
    status = 400
    code = "bad_request"


class NotAuthenticated(KefuError):
    status = 401
    code = "not_authenticated"
    message = N_("Sign in to continue.")


class PermissionDenied(KefuError):
    status = 403
    code = "permission_denied"
    message = N_("You do not have permission to do this.")


class NotFound(KefuError):
    status = 404
    code = "not_found"
    message = N_("%(kind)s %(id)s was not found.")


class Conflict(KefuError):
    status = 409
    code = "conflict"
    message = N_("The request conflicts with the current state.")


class InvalidTransition(Conflict):
    code = "invalid_transition"
    message = N_("A ticket cannot move from %(current)s to %(target)s.")


class IdempotencyKeyReused(KefuError):
    status = 422
    code = "idempotency_key_reused"
    message = N_("This Idempotency-Key was already used for a different request.")


class ValidationFailed(KefuError):
    status = 422
    code = "validation_error"
    message = N_("Some fields are invalid.")


class PayloadTooLarge(KefuError):
    status = 413
    code = "payload_too_large"
    message = N_("The request body is larger than %(limit)s bytes.")


class MalformedJson(KefuError):
    status = 400
    code = "malformed_json"
    message = N_("The request body is not valid JSON.")


class NulCharacter(KefuError):
    status = 400
    code = "nul_character"
    message = N_("Text may not contain NUL characters.")


class RateLimited(KefuError):
    status = 429
    code = "rate_limited"
    message = N_("Too many attempts; try again later.")
