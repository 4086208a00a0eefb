"""Client library for servers licensed through Licensary: verify signed license documents."""

__version__ = "0.1.0"

# The version is set before these imports because client.py reads it for the User-Agent.
from .client import (
    CheckResult,
    Client,
    InsecureFirstUse,
    IpMismatch,
    IssuedInFuture,
    KeysFileError,
    NonceMismatch,
    ProductMismatch,
    Rollback,
    ServerUnreachable,
    StaleDocument,
    State,
    check,
)
from .document import (
    BadSignature,
    MalformedDocument,
    MalformedKeys,
    UnknownKey,
    UntrustedKeys,
    VerificationError,
    canonical_json,
    load_public_keys,
    parse_timestamp,
    verify_document,
    verify_key_listing,
)

__all__ = [
    "BadSignature",
    "CheckResult",
    "Client",
    "InsecureFirstUse",
    "IpMismatch",
    "IssuedInFuture",
    "KeysFileError",
    "MalformedDocument",
    "MalformedKeys",
    "NonceMismatch",
    "ProductMismatch",
    "Rollback",
    "ServerUnreachable",
    "StaleDocument",
    "State",
    "UnknownKey",
    "UntrustedKeys",
    "VerificationError",
    "__version__",
    "canonical_json",
    "check",
    "load_public_keys",
    "parse_timestamp",
    "verify_document",
    "verify_key_listing",
]
