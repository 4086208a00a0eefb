"""One error class for the domain; the API turns it into problem+json in one handler."""

from typing import Any


class DomainError(Exception):
    """A refused request: `code` is the stable API code, `status` its HTTP status."""

    status = 400
    code = "validation_error"
    title = "Invalid request"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        status: int | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}  # sent with the answer (a 429's Retry-After)
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.extra = extra or {}


class ValidationFailed(DomainError):
    status = 422
    code = "validation_error"
    title = "Validation failed"


class NotFound(DomainError):
    status = 404
    code = "not_found"
    title = "Not found"


class PermissionDenied(DomainError):
    status = 403
    code = "permission_denied"
    title = "Permission denied"


class TermsNotAccepted(DomainError):
    status = 403
    code = "terms_not_accepted"
    title = "The latest terms have not been accepted"


class AccountBanned(DomainError):
    status = 403
    code = "account_banned"
    title = "Account banned"


class IdentityRequired(DomainError):
    status = 403
    code = "identity_required"
    title = "A verified identity is required"


class IpTaken(DomainError):
    status = 409
    code = "ip_taken"
    title = "IP already licensed"


class InvalidIp(DomainError):
    status = 422
    code = "invalid_ip"
    title = "Invalid IP address"


class LicenseDeleted(DomainError):
    status = 409
    code = "license_deleted"
    title = "License deleted"


class InvalidTransition(DomainError):
    status = 409
    code = "invalid_transition"
    title = "Not allowed in the current state"


class InsufficientCredit(DomainError):
    status = 402
    code = "insufficient_credit"
    title = "Insufficient credit"


class IdempotencyConflict(DomainError):
    status = 409
    code = "idempotency_conflict"
    title = "Idempotency key reused with another request"


class UnsupportedMediaType(DomainError):
    status = 415
    code = "unsupported_media_type"
    title = "Unsupported media type"


class RateLimited(DomainError):
    status = 429
    code = "rate_limited"
    title = "Too many requests"


class UrlNotAllowed(DomainError):
    """A webhook target that is not https, or that resolves to a private, loopback,
    link-local or otherwise non-public address (unless LICENSARY_ALLOW_PRIVATE_IPS)."""

    status = 422
    code = "url_not_allowed"
    title = "URL not allowed"
