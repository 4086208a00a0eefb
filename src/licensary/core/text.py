"""The string types every API input is declared with: bounded, and free of the characters no
column can hold, so that bad text is `422 validation_error` before it reaches the database,
on SQLite and PostgreSQL alike (RELIABILITY "bad input").

PostgreSQL refuses a NUL byte in any text and a value longer than its column; SQLite stores
both, which hides the 500s. Lone surrogates cannot be encoded as UTF-8 at all.
"""

import ipaddress
import re
from dataclasses import KW_ONLY, dataclass
from typing import Annotated, Any

from django.db import models
from pydantic import (
    AfterValidator,
    AwareDatetime,
    Field,
    GetCoreSchemaHandler,
    StringConstraints,
    WithJsonSchema,
)
from pydantic_core import CoreSchema

# C0 and C1 control characters and DEL; free text also keeps tab, line feed and carriage
# return. Surrogates (U+D800-U+DFFF) only ever arrive alone from a JSON "\ud800" escape.
_CONTROL = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
_REFUSED_LINE = re.compile(f"[{_CONTROL}\\t\\n\\r\\ud800-\\udfff]")
_REFUSED_MULTILINE = re.compile(f"[{_CONTROL}\\ud800-\\udfff]")
# The same rule for the OpenAPI document (ECMA-262; JSON text has no lone surrogates).
_PATTERN_LINE = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"
_PATTERN_MULTILINE = "^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f]*$"


def _printable(refused: re.Pattern[str], what: str) -> Any:
    def check(value: str) -> str:
        found = refused.search(value)
        if found:
            raise ValueError(f"{what} may not contain the character U+{ord(found.group()):04X}")
        return value

    return AfterValidator(check)


@dataclass(frozen=True)
class Printable:
    """The rule of a text input: at most `max_length` characters, without control characters
    or lone surrogates; `multiline` (notes, reasons, terms) also allows tab and line breaks.
    Declared as `Annotated[str, Printable(64)]`, which mypy reads as a `str`."""

    max_length: int
    _: KW_ONLY
    min_length: int = 0
    multiline: bool = False

    def __get_pydantic_core_schema__(
        self, source: type[Any], handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        refused, pattern = (
            (_REFUSED_MULTILINE, _PATTERN_MULTILINE)
            if self.multiline
            else (_REFUSED_LINE, _PATTERN_LINE)
        )
        return handler(
            Annotated[
                str,
                StringConstraints(min_length=self.min_length or None, max_length=self.max_length),
                _printable(refused, "free text" if self.multiline else "a one-line value"),
                Field(json_schema_extra={"pattern": pattern}),
            ]
        )


def column(model: type[models.Model], field: str) -> int:
    """The length of a model's text column: inputs that are stored are bounded by it."""
    found = model._meta.get_field(field)
    length = found.max_length if isinstance(found, models.Field) else None
    assert length, f"{model.__name__}.{field} has no max_length"
    return length


def _ip_address(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError("not an IPv4 or IPv6 address") from None


# A filter on an address: one address (no network, no port), in the form licenses keep it.
IpAddressFilter = Annotated[
    str,
    StringConstraints(max_length=45),
    AfterValidator(_ip_address),
    WithJsonSchema(
        {"type": "string", "maxLength": 45, "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]}
    ),
]

# Ids are strings in the API; `parse_id` turns them into keys (or `not_found`).
Id = Annotated[str, Printable(32)]

# A moment a caller names (an expiry): ISO 8601 with its offset; a time without one is
# refused, since nobody can tell which zone it meant.
Instant = Annotated[
    AwareDatetime,
    WithJsonSchema({"type": "string", "format": "date-time", "maxLength": 40}),
]
