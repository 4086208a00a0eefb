"""`GET /api/v1/agents/{id}/statement`: what an agent sold and paid (staff, or the agent)."""

from datetime import datetime
from typing import Annotated, Any

from django.utils import timezone
from ninja import Query, Router, Schema
from pydantic import Field

from licensary.accounts.models import User
from licensary.accounts.policy import accounts_visible
from licensary.billing.statements import Statement, agent_statement, statement_span
from licensary.core.api import MoneyOut, get_visible, money
from licensary.core.errors import NotFound
from licensary.core.http import AuthedRequest
from licensary.core.text import Id, Printable

router = Router(tags=["agents"])

When = Annotated[str, Printable(40)]


class StatementLineOut(Schema):
    invoice: str
    number: int
    issued_at: datetime
    invoice_status: str
    kind: str
    description: str
    amount: MoneyOut
    customer: str | None
    customer_email: str | None
    license: str | None


class StatementPaymentOut(Schema):
    invoice: str
    number: int
    method: str
    amount: MoneyOut
    at: datetime


class CreditMovementOut(Schema):
    at: datetime
    kind: str  # payment, deposit, refund, adjustment...
    memo: str
    amount: MoneyOut  # negative: the credit went down
    invoice: str | None


class TotalsOut(Schema):
    sold: MoneyOut
    purchased: MoneyOut
    paid: MoneyOut
    deposited: MoneyOut
    refunded: MoneyOut


class StatementOut(Schema):
    agent: str
    from_: datetime = Field(alias="from")
    to: datetime
    opening_credit: MoneyOut
    closing_credit: MoneyOut
    totals: TotalsOut
    items: list[StatementLineOut]
    payments: list[StatementPaymentOut]
    credit_movements: list[CreditMovementOut]


def statement_out(st: Statement) -> dict[str, Any]:
    cur = st.currency
    return {
        "agent": str(st.agent.pk),
        "from": st.start,
        "to": st.end,
        "opening_credit": money(st.opening_credit, cur),
        "closing_credit": money(st.closing_credit, cur),
        "totals": {key: money(value, cur) for key, value in st.totals().items()},
        "items": [
            {
                "invoice": str(line.invoice_id),
                "number": line.invoice.number,
                "issued_at": line.invoice.issued_at,
                "invoice_status": line.invoice.status,
                "kind": line.kind,
                "description": line.description,
                "amount": money(line.amount, line.invoice.currency),
                "customer": str(line.customer_id) if line.customer_id else None,
                "customer_email": line.customer.email if line.customer else None,
                "license": str(line.license_id) if line.license_id else None,
            }
            for line in st.lines
        ],
        "payments": [
            {
                "invoice": str(p.invoice_id),
                "number": p.invoice.number,
                "method": p.method,
                "amount": money(p.amount, p.currency),
                "at": p.created_at,
            }
            for p in st.payments
        ],
        "credit_movements": [
            {
                "at": p.transaction.created_at,
                "kind": p.transaction.kind,
                "memo": p.transaction.memo,
                "amount": money(p.amount, p.currency),
                "invoice": str(p.transaction.invoice_id) if p.transaction.invoice_id else None,
            }
            for p in st.movements
        ],
    }


@router.get("/agents/{agent_id}/statement", response=StatementOut, by_alias=True)
def statement(
    request: AuthedRequest[User],
    agent_id: Id,
    start: Annotated[When | None, Query(alias="from")] = None,
    end: Annotated[When | None, Query(alias="to")] = None,
) -> dict:
    """What the agent sold (each line with its customer), the payments on its invoices and
    its credit's movements, from `from` to `to` (ISO dates or times, UTC; a bare `to` date
    includes its day; at most 731 days; the last 30 days when left out)."""
    agent = get_visible(accounts_visible(request.auth), agent_id)
    if agent.kind != User.Kind.AGENT:
        raise NotFound("No such object.")
    start_at, end_at = statement_span(start, end, now=timezone.now())
    return statement_out(agent_statement(agent=agent, start=start_at, end=end_at))
