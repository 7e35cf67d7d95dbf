"""One error family for the whole service.

Every error carries a stable snake_case ``code`` and the HTTP status it maps to, so the web layer turns any
of them into an RFC 9457 problem document without a lookup table. ``detail`` is written for the caller and
must never contain input values (they may be personal data).
"""

from __future__ import annotations


class DidServiceError(Exception):
    code = "internal_error"
    status = 500
    title = "Internal error"

    def __init__(self, detail: str | None = None, *, code: str | None = None) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        if code is not None:
            self.code = code


# --- request errors (the caller can fix them) -------------------------------------------------------------


class BadRequest(DidServiceError):
    code = "bad_request"
    status = 400
    title = "Bad request"


class InvalidJson(BadRequest):
    code = "invalid_json"
    title = "The request body is not acceptable JSON"


class Unauthorized(DidServiceError):
    code = "unauthorized"
    status = 401
    title = "Authentication required"


class Forbidden(DidServiceError):
    code = "forbidden"
    status = 403
    title = "Not allowed"


class NotFound(DidServiceError):
    code = "not_found"
    status = 404
    title = "Not found"


class MethodNotAllowed(DidServiceError):
    code = "method_not_allowed"
    status = 405
    title = "Method not allowed"


class Conflict(DidServiceError):
    code = "conflict"
    status = 409
    title = "Conflict"


class RateLimited(DidServiceError):
    code = "rate_limited"
    status = 429
    title = "Too many requests"

    def __init__(self, detail: str | None = None, *, code: str | None = None, retry_after: int | None = None) -> None:
        super().__init__(detail, code=code)
        # Whole seconds until the caller may try again (for a Retry-After header); None when unknown.
        self.retry_after = retry_after


class PayloadTooLarge(DidServiceError):
    code = "payload_too_large"
    status = 413
    title = "Request body too large"


class UnsupportedMediaType(DidServiceError):
    code = "unsupported_media_type"
    status = 415
    title = "Unsupported media type"


class Unprocessable(DidServiceError):
    """Well-formed but unacceptable input."""

    code = "unprocessable"
    status = 422
    title = "Unprocessable request"


class UnknownCredentialType(Unprocessable):
    code = "unknown_credential_type"
    title = "Unknown credential type"


class SchemaViolation(Unprocessable):
    code = "schema_violation"
    title = "The credential does not match its type's schema"

    def __init__(self, detail: str | None = None, *, errors: list[dict] | None = None) -> None:
        super().__init__(detail)
        # [{path, keyword}] only: JSON Schema messages quote the offending value, which may be personal data.
        self.errors = errors or []


class ServerControlledField(Unprocessable):
    code = "server_controlled_field"
    title = "The request sets a field only the issuer may set"


class UnsupportedFormat(Unprocessable):
    code = "unsupported_format"
    title = "Unsupported credential format"


# --- server-side conditions ---------------------------------------------------------------------------------


class StoreError(DidServiceError):
    code = "store_error"
    status = 500
    title = "Storage error"


class StoreUnavailable(StoreError):
    code = "store_unavailable"
    status = 503
    title = "The store is unavailable"


class StoreConflict(Conflict):
    """A write would break a uniqueness rule; nothing was written."""

    code = "conflict"


class LogHalted(DidServiceError):
    """The transparency log failed a consistency check; nothing is appended or signed until an operator resumes it."""

    code = "log_halted"
    status = 503
    title = "Issuance is stopped: the transparency log failed verification"


class ConfigurationError(DidServiceError):
    code = "configuration_error"
    title = "Invalid configuration"


class KeyDecryptionError(ConfigurationError):
    code = "key_decryption_failed"
    title = "Private keys cannot be decrypted with the configured key-encryption key"


# --- DID resolution -----------------------------------------------------------------------------------------


class ResolutionError(DidServiceError):
    """A DID could not be resolved; verification reports its check as could_not_run or failed."""

    code = "did_resolution_failed"
    status = 422
    title = "DID resolution failed"

    def __init__(self, detail: str | None = None, *, code: str | None = None, transient: bool = False) -> None:
        super().__init__(detail, code=code)
        # A transient failure (network, timeout) means a check could not run; it is not evidence of forgery.
        self.transient = transient


class InvalidDid(ResolutionError):
    code = "invalid_did"
    title = "Malformed or unsupported DID"
