"""Money is an integer of minor units with an ISO 4217 currency; never a float."""

from dataclasses import dataclass

from django.conf import settings

from licensary.core.errors import ValidationFailed


def default_currency() -> str:
    """The platform's currency (`LICENSARY_CURRENCY`): products, accounts and invoices use it
    unless a product names its own."""
    return settings.LICENSARY["CURRENCY"]


def is_currency_code(value: object) -> bool:
    """An ISO 4217 alphabetic code as this API spells it: three capital letters."""
    return (
        isinstance(value, str)
        and len(value) == 3
        and value.isascii()
        and value.isupper()
        and value.isalpha()
    )


def require_currency(value: object, *, name: str = "currency") -> str:
    """`value` when it is an ISO 4217 code (three capital letters), or `validation_error`."""
    if not is_currency_code(value):
        raise ValidationFailed(f"{name} is an ISO 4217 code of three capital letters, e.g. EUR.")
    return str(value)


@dataclass(frozen=True)
class Money:
    amount: int
    currency: str

    def as_dict(self) -> dict[str, int | str]:
        return {"amount": self.amount, "currency": self.currency}

    def __str__(self) -> str:
        sign = "-" if self.amount < 0 else ""
        units, cents = divmod(abs(self.amount), 100)
        return f"{sign}{units:,}.{cents:02d} {self.currency}"


MAX_AMOUNT = 10**12  # minor units: far above any real price, well inside a 64-bit column


def require_amount(
    value: object, *, name: str = "amount", allow_negative: bool = False, allow_zero: bool = False
) -> int:
    """An integer of minor units within bounds, or `validation_error`."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed(f"{name} is an integer of minor units.")
    low = -MAX_AMOUNT if allow_negative else (0 if allow_zero else 1)
    if not low <= value <= MAX_AMOUNT or (value == 0 and not allow_zero):
        raise ValidationFailed(
            f"{name} must be between {low} and {MAX_AMOUNT}"
            f"{'' if allow_zero else ', and not zero'}."
        )
    return value
