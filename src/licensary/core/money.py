"""Money is an integer of minor units with an ISO 4217 currency; never a float."""

from dataclasses import dataclass

from django.conf import settings


def default_currency() -> str:
    return settings.LICENSARY["CURRENCY"]


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
