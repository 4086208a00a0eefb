"""Building licenses through the API and reading their lifecycle back, for tests/licenses."""

from datetime import UTC, datetime, timedelta
from typing import Any

from django.core import mail
from django.utils.dateparse import parse_datetime

from licensary.accounts.models import User
from licensary.billing.models import Invoice
from tests.helpers import Api, api_for, give_credit, run_jobs

START = datetime(2025, 10, 1, 10, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)
DAY = timedelta(days=1)


def public_ip(n: int) -> str:
    """The n-th of a run of public addresses (n from 0 to 62,499)."""
    return f"93.184.{n // 250}.{n % 250 + 1}"


def at(text: str | None) -> datetime | None:
    """An API time as an aware datetime."""
    return None if text is None else parse_datetime(text)


def buy_license(api: Api, ip: str, product: str = "panel") -> str:
    """Order `product` on `ip`, pay the invoice with credit and deliver; the license id."""
    order = api.post("/orders", {"product": product, "ip": ip})
    assert order.status_code == 201, order.json_body
    paid = api.post(f"/invoices/{order.json_body['invoice']}/pay-with-credit")
    assert paid.status_code == 200, paid.json_body
    run_jobs()
    delivered = api.get(f"/orders/{order.json_body['id']}").json_body
    assert delivered["status"] == "completed", delivered
    return delivered["license"]


def customer_with_license(user: User, staff: User, ip: str, credit: int = 1500) -> tuple[Api, str]:
    """`user` with `credit` more than one new order costs, holding a fresh license on `ip`."""
    give_credit(user, 1500 + credit, staff)
    api = api_for(user)
    return api, buy_license(api, ip)


def renewal_invoices(license_id: str) -> list[Invoice]:
    return list(
        Invoice.objects.filter(
            purpose=Invoice.Purpose.RENEWAL, lines__license_id=license_id
        ).order_by("pk")
    )


def take_mail() -> list[tuple[str, list[str]]]:
    """The emails sent since the last call, as (subject, recipients)."""
    sent = [(message.subject, list(message.to)) for message in mail.outbox]
    mail.outbox.clear()
    return sent


def history(api: Api, license_id: str) -> list[dict[str, Any]]:
    """Every entry of the license's history, page after page."""
    entries: list[dict[str, Any]] = []
    cursor = ""
    while cursor is not None:
        response = api.get(f"/licenses/{license_id}/history?limit=200&cursor={cursor}")
        assert response.status_code == 200, response.json_body
        entries += response.json_body["items"]
        cursor = response.json_body["next_cursor"]
    return entries
