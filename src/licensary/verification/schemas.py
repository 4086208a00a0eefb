"""What the verification API takes and answers."""

import re
from datetime import datetime
from typing import Literal

from ninja import Field, Schema
from pydantic import field_validator

from licensary.catalog.models import Product
from licensary.verification.services import NONCE_MAX

PRODUCT_MAX: int = Product._meta.get_field("slug").max_length or 64
# C0 and C1 control characters, DEL and lone surrogates: never in a slug or a nonce. A lone
# surrogate cannot even be encoded to be signed, and PostgreSQL refuses NUL in text.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def is_plain_text(value: str) -> bool:
    """What `VerifyIn` accepts in its fields (the fast path asks it too, and hands anything
    else to this schema for its refusal). A nonce too long to be worth scanning is refused
    by its length (`invalid_nonce`)."""
    return len(value) > NONCE_MAX or _UNSAFE.search(value) is None


class VerifyIn(Schema):
    product: str = Field(max_length=PRODUCT_MAX)
    nonce: str

    @field_validator("product", "nonce")
    @classmethod
    def _plain_text(cls, value: str) -> str:
        if not is_plain_text(value):
            raise ValueError("control characters and lone surrogates are not allowed")
        return value


class VerifyOut(Schema):
    document: str
    signature: str
    key_id: str


class KeyOut(Schema):
    key_id: str
    algorithm: str
    public_key: str
    status: Literal["active", "next", "retiring"]
    activates_at: datetime
    created_at: datetime


class KeySignatureOut(Schema):
    key_id: str
    signature: str


class KeysOut(Schema):
    keys: list[KeyOut]
    document: str = Field(description="The canonical JSON text of `keys`, which is signed.")
    signatures: list[KeySignatureOut] = Field(
        description="A signature over `document` by each published key."
    )
