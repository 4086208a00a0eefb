"""Where an agent's sale meets a ban, a claim or the mail: the one who pays is the one told,
billed and refunded; a banned account gets nothing new through its agent.

Carol is a verified agent with customer dave; alice and bob are customers; the panel's list
price is 1000 a period with a setup fee of 500.
"""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client

from licensary.accounts.services import terms_publish
from licensary.billing.models import Invoice
from licensary.billing.services import invoice_pay_external
from licensary.governance.bans import account_ban
from licensary.ledger.services import account_credit
from licensary.licenses.models import License
from licensary.licenses.sweep import sweep
from licensary.notifications.models import MailMessage
from licensary.orders.models import Order
from tests.api.support import delivered_order
from tests.helpers import PUBLIC_IP, Api, api_for, give_credit, run_jobs

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture(autouse=True)
def clock() -> Iterator[Any]:
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def sell(carol_api: Api, dave: Any, *, pay: bool = True) -> dict:
    order = carol_api.post(
        "/orders", {"product": "panel", "ip": PUBLIC_IP, "account": str(dave.pk)}
    ).json_body
    if pay:
        assert carol_api.post(f"/invoices/{order['invoice']}/pay-with-credit").status_code == 200
        run_jobs()
    return carol_api.get(f"/orders/{order['id']}").json_body


def mails_to(email: str) -> list[str]:
    return list(MailMessage.objects.filter(to_email=email).values_list("event", flat=True))


def test_banning_a_customer_voids_what_its_agent_has_not_paid_for_it(carol, dave, staff, product):
    carol_api = api_for(carol)
    order = sell(carol_api, dave, pay=False)

    account_ban(account=dave, actor=staff, reason="tampering", note="patched the binary")

    assert Invoice.objects.get(pk=order["invoice"]).status == "void"
    assert Order.objects.get(pk=order["id"]).status == "canceled"
    give_credit(carol, 1500, staff)
    refused = carol_api.post(f"/invoices/{order['invoice']}/pay-with-credit")
    assert refused.status_code == 409, refused.json_body
    run_jobs()
    assert not License.objects.filter(account=dave).exists()
    assert account_credit(carol).amount == 1500


def test_banning_a_customer_refunds_its_agent_an_order_paid_and_not_delivered(
    alice, carol, dave, staff, product
):
    delivered_order(alice, product, PUBLIC_IP, staff)  # dave's order is held: alice's IP
    give_credit(carol, 1500, staff)
    order = sell(api_for(carol), dave)
    assert order["status"] == "on_hold"

    account_ban(account=dave, actor=staff, reason="sharing", note="resold access")
    run_jobs()

    assert Order.objects.get(pk=order["id"]).status == "rejected"
    assert Invoice.objects.get(pk=order["invoice"]).status == "refunded"
    assert account_credit(carol).amount == 1500  # the agent paid; the agent is not banned
    assert account_credit(dave).amount == 0


def test_after_its_agents_ban_the_customer_gets_the_renewal_invoice_in_time(
    clock, carol, dave, staff, product
):
    give_credit(carol, 1500, staff)
    order = sell(api_for(carol), dave)
    clock.move_to(START + 23 * DAY)
    sweep()
    [to_carol] = Invoice.objects.filter(purpose="renewal")
    assert to_carol.account_id == carol.pk

    account_ban(account=carol, actor=staff, reason="sharing", note="resold to a competitor")
    clock.move_to(START + 24 * DAY)
    sweep()

    to_carol.refresh_from_db()
    assert to_carol.status == "void"
    [to_dave] = Invoice.objects.filter(purpose="renewal", status="unpaid")
    assert (to_dave.account_id, to_dave.total) == (dave.pk, 1000)
    assert License.objects.get(pk=order["license"]).billed_to_id is None


def test_the_statement_counts_deposits_and_refunds_apart_from_payments(carol, staff, product):
    carol_api = api_for(carol)
    deposit = carol_api.post("/deposits", {"amount": 1500}, **{"Idempotency-Key": "d-1"})
    assert deposit.status_code == 201, deposit.json_body
    invoice_pay_external(
        invoice=Invoice.objects.get(pk=deposit.json_body["id"]),
        method="gateway",
        gateway="stripe",
        reference="pi_carol_1",
        amount=1500,
        actor=None,
    )

    totals = carol_api.get(f"/agents/{carol.pk}/statement").json_body["totals"]

    assert {k: v["amount"] for k, v in totals.items()} == {
        "sold": 0,
        "purchased": 0,
        "paid": 0,
        "deposited": 1500,
        "refunded": 0,
    }


def prove(claim_id: str, challenge: str) -> None:
    answer = Client().post(
        f"/api/v1/claims/{claim_id}/proof",
        data={"challenge": challenge},
        content_type="application/json",
        REMOTE_ADDR=PUBLIC_IP,
    )
    assert answer.status_code == 200, answer.json()


def proved_claim(alice, carol, dave, staff, product, clock) -> str:
    """carol claims alice's blocked license for dave and proves it from the IP: the claim."""
    lic = License.objects.get(pk=delivered_order(alice, product, PUBLIC_IP, staff).license_id)
    clock.move_to(lic.period_end + DAY)
    made = (
        api_for(carol)
        .post("/claims", {"product": "panel", "ip": PUBLIC_IP, "account": str(dave.pk)})
        .json_body
    )
    prove(made["id"], made["challenge"])
    return made["id"]


def approve(staff, claim_id: str) -> Order:
    approved = api_for(staff).post(f"/claims/{claim_id}/approve")
    assert approved.status_code == 200, approved.json_body
    run_jobs()
    return Order.objects.select_related("invoice").get(pk=approved.json_body["order"])


def test_an_agents_approved_claim_is_the_agents_to_pay_and_both_are_told(
    clock, alice, carol, dave, staff, product
):
    claim = proved_claim(alice, carol, dave, staff, product, clock)
    MailMessage.objects.all().delete()
    order = approve(staff, claim)

    assert (order.invoice.account_id, order.invoice.total) == (carol.pk, 1500)
    assert mails_to("carol@agent.test") == ["claim_approved"]
    assert mails_to("dave@example.test") == ["claim_approved"]
    to_dave = MailMessage.objects.get(to_email="dave@example.test")
    assert "Your agent pays the claim order" in to_dave.text
    to_carol = MailMessage.objects.get(to_email="carol@agent.test")
    assert "for dave@example.test" in to_carol.text


def test_a_claim_whose_agent_has_not_taken_the_new_terms_is_the_claimants_to_pay(
    clock, alice, carol, dave, staff, product
):
    claim = proved_claim(alice, carol, dave, staff, product, clock)
    terms_publish(text="New terms.", actor=staff)
    assert api_for(dave).post("/terms/accept", {"version": 1}).status_code == 200

    order = approve(staff, claim)

    assert (order.invoice.account_id, order.invoice.total) == (dave.pk, 1500)


def test_a_sold_license_blocked_tells_the_customer_and_the_agent_who_pays(
    clock, carol, dave, staff, product
):
    give_credit(carol, 1500, staff)
    order = sell(api_for(carol), dave)
    MailMessage.objects.all().delete()

    clock.move_to(START + 30 * DAY + timedelta(hours=1))
    sweep()
    run_jobs()

    assert mails_to("dave@example.test") == ["license_blocked"]
    assert mails_to("carol@agent.test") == ["license_blocked"]
    to_dave = MailMessage.objects.get(to_email="dave@example.test").text
    assert "Your agent, carol@agent.test, renews and pays for this license" in to_dave
    to_carol = MailMessage.objects.get(to_email="carol@agent.test").text
    assert "You sold this license to dave@example.test" in to_carol
    assert License.objects.get(pk=order["license"]).status == "blocked"


@pytest.mark.parametrize(
    "name",
    [
        'Carol" <ceo@bank.example>',
        "support@carol.example",
        "Carol, Bank",
        "Carol\u202eknaB",  # a right-to-left override: shown backwards
        "Carol\u200bHosting",  # a zero-width space
    ],
)
def test_a_white_label_name_is_a_plain_name(carol, name):
    refused = api_for(carol).post("/account/white-label", {"name": name})
    assert (refused.status_code, refused.json_body["code"]) == (422, "validation_error")
    carol.refresh_from_db()
    assert carol.white_label_name == ""
