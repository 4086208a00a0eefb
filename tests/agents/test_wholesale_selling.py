"""Rule 9's resellers: an agent sells to its customers at its wholesale price, paid from its own
credit, through a full order, a renewal and a refund; and its statement says so.

Carol is a verified agent with customer dave; erin is another agent with customer frank. The
panel's list price is 1000 a period with a setup fee of 500.
"""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine

from licensary.accounts.models import User
from licensary.audit.models import AuditEntry
from licensary.billing.models import Invoice
from licensary.catalog.models import Product, WholesalePrice
from licensary.catalog.services import agent_tier_assign, agent_tier_create, wholesale_price_set
from licensary.ledger.services import account_credit
from licensary.licenses.models import License
from licensary.licenses.sweep import sweep
from licensary.orders.models import Order
from licensary.orders.services import order_create
from tests.helpers import (
    PUBLIC_IP,
    Api,
    api_for,
    give_credit,
    make_account,
    run_jobs,
    verified_agent,
)

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
OTHER_IP = "93.184.216.35"


@pytest.fixture(autouse=True)
def clock() -> Iterator[Any]:
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def erin(staff: User) -> User:
    return verified_agent("erin@agent.test", staff)


@pytest.fixture
def frank(erin: User) -> User:
    return make_account("frank@example.test", agent=erin)


def order_for(api: Api, customer: User, ip: str = PUBLIC_IP, product: str = "panel") -> dict:
    answer = api.post("/orders", {"product": product, "ip": ip, "account": str(customer.pk)})
    assert answer.status_code == 201, answer.json_body
    return answer.json_body


def pay(api: Api, invoice_id: str) -> dict:
    answer = api.post(f"/invoices/{invoice_id}/pay-with-credit")
    assert answer.status_code == 200, answer.json_body
    run_jobs()
    return answer.json_body


def amounts(invoice: dict) -> list[tuple[str, int, str | None]]:
    return [(line["kind"], line["amount"]["amount"], line["customer"]) for line in invoice["lines"]]


def test_an_agent_orders_for_its_customer_at_its_price_from_its_own_credit(
    carol, dave, staff, product
):
    staff_api, carol_api, dave_api = api_for(staff), api_for(carol), api_for(dave)
    set_price = staff_api.post(
        f"/agents/{carol.pk}/prices", {"product": "panel", "price": 700, "setup_fee": 200}
    )
    assert set_price.status_code == 201, set_price.json_body
    assert (set_price.json_body["price"], set_price.json_body["source"]) == (
        {"amount": 700, "currency": "USD"},
        "agent",
    )
    give_credit(carol, 1000, staff)
    give_credit(dave, 5000, staff)  # dave's own money is not touched by carol's sale

    order = order_for(carol_api, dave)
    invoice = carol_api.get(f"/invoices/{order['invoice']}").json_body
    assert order["account"] == str(dave.pk)
    assert invoice["account"] == str(carol.pk)
    assert invoice["total"] == {"amount": 900, "currency": "USD"}
    assert amounts(invoice) == [("license", 700, str(dave.pk)), ("setup_fee", 200, str(dave.pk))]
    assert "system license" in invoice["lines"][0]["description"]
    assert "for dave@example.test" in invoice["lines"][0]["description"]
    # The invoice is carol's: dave neither sees it nor pays it.
    assert dave_api.get(f"/invoices/{order['invoice']}").json_body["code"] == "not_found"
    assert dave_api.post(f"/invoices/{order['invoice']}/pay-with-credit").status_code == 404

    pay(carol_api, order["invoice"])

    assert account_credit(carol).amount == 100
    assert account_credit(dave).amount == 5000
    delivered = carol_api.get(f"/orders/{order['id']}").json_body
    assert delivered["status"] == "completed"
    lic = dave_api.get(f"/licenses/{delivered['license']}").json_body
    assert (lic["account"], lic["status"], lic["kind"]) == (str(dave.pk), "active", "own")
    assert License.objects.get(pk=delivered["license"]).billed_to_id == carol.pk


def test_an_agent_without_enough_credit_is_refused_and_nothing_moves(carol, dave, staff, product):
    carol_api = api_for(carol)
    give_credit(carol, 1499, staff)
    order = order_for(carol_api, dave)

    refused = carol_api.post(f"/invoices/{order['invoice']}/pay-with-credit")

    assert (refused.status_code, refused.json_body["code"]) == (402, "insufficient_credit")
    assert account_credit(carol).amount == 1499
    assert Invoice.objects.get(pk=order["invoice"]).status == "unpaid"
    assert not License.objects.exists()


def test_an_agent_pays_its_own_price_then_its_tiers_then_the_list_price(
    carol, dave, staff, product
):
    gold = agent_tier_create(actor=staff, name="gold")
    agent_tier_assign(actor=staff, agent=carol, tier=gold)
    tier_price = api_for(staff).post(
        f"/agent-tiers/{gold.pk}/prices", {"product": "panel", "price": 800, "setup_fee": 100}
    )
    assert tier_price.status_code == 201, tier_price.json_body
    carol_api = api_for(carol)

    def quoted() -> tuple[int, int, str]:
        [row] = carol_api.get(f"/agents/{carol.pk}/prices").json_body["items"]
        return row["price"]["amount"], row["setup_fee"]["amount"], row["source"]

    assert quoted() == (800, 100, "tier")
    wholesale_price_set(actor=staff, product=product, agent=carol, price=650, setup_fee=0)
    assert quoted() == (650, 0, "agent")
    assert Invoice.objects.get(pk=order_for(carol_api, dave)["invoice"]).total == 650

    removed = api_for(staff).delete(f"/agents/{carol.pk}/prices/panel")
    assert removed.status_code == 204
    assert quoted() == (800, 100, "tier")
    agent_tier_assign(actor=staff, agent=carol, tier=None)
    assert quoted() == (1000, 500, "list")
    assert carol_api.get(f"/agents/{carol.pk}/prices").json_body["tier"] is None


def test_a_customer_ordering_for_itself_pays_the_list_price(carol, dave, staff, product):
    wholesale_price_set(actor=staff, product=product, agent=carol, price=650, setup_fee=0)
    answer = api_for(dave).post("/orders", {"product": "panel", "ip": PUBLIC_IP})
    invoice = Invoice.objects.get(pk=answer.json_body["invoice"])
    assert (invoice.account_id, invoice.total) == (dave.pk, 1500)
    assert list(invoice.lines.values_list("customer", flat=True)) == [None, None]


def test_the_renewal_of_a_sold_license_goes_to_the_agent_at_its_price_on_the_day(
    clock, carol, dave, staff, product
):
    carol_api, dave_api = api_for(carol), api_for(dave)
    wholesale_price_set(actor=staff, product=product, agent=carol, price=700, setup_fee=200)
    give_credit(carol, 900 + 650, staff)
    order = order_for(carol_api, dave)
    pay(carol_api, order["invoice"])
    license_id = carol_api.get(f"/orders/{order['id']}").json_body["license"]
    wholesale_price_set(actor=staff, product=product, agent=carol, price=650, setup_fee=200)

    clock.move_to(START + 23 * DAY)  # 7 days before the period ends (rule 4)
    sweep()

    [renewal] = Invoice.objects.filter(purpose="renewal")
    assert (renewal.account_id, renewal.total) == (carol.pk, 650)
    [line] = renewal.lines.all()
    assert (line.customer_id, line.license_id) == (dave.pk, int(license_id))
    # Dave reads his license; renewing it is his agent's to do.
    refused = dave_api.post(f"/licenses/{license_id}/renew")
    assert (refused.status_code, refused.json_body["code"]) == (403, "permission_denied")
    assert carol_api.post(f"/licenses/{license_id}/renew").json_body["id"] == str(renewal.pk)

    pay(carol_api, str(renewal.pk))

    lic = dave_api.get(f"/licenses/{license_id}").json_body
    assert lic["status"] == "active"
    assert lic["period_end"].startswith((START + 60 * DAY).strftime("%Y-%m-%d"))
    assert account_credit(carol).amount == 0


def test_a_refund_of_an_agents_sale_goes_back_to_the_agents_credit(
    alice, carol, dave, staff, product
):
    """Rule 7: an order held (another account holds the IP) and rejected is refunded in full,
    to the one who paid it: the agent, at the wholesale price it paid."""
    wholesale_price_set(actor=staff, product=product, agent=carol, price=700, setup_fee=200)
    give_credit(alice, 1500, staff)
    alice_api, carol_api = api_for(alice), api_for(carol)
    pay(
        alice_api,
        alice_api.post("/orders", {"product": "panel", "ip": PUBLIC_IP}).json_body["invoice"],
    )
    give_credit(carol, 900, staff)
    order = order_for(carol_api, dave)
    pay(carol_api, order["invoice"])
    assert carol_api.get(f"/orders/{order['id']}").json_body["status"] == "on_hold"

    rejected = api_for(staff).post(f"/orders/{order['id']}/reject", {"note": "alice's IP"})
    assert rejected.status_code == 200, rejected.json_body
    run_jobs()

    assert account_credit(carol).amount == 900
    assert account_credit(dave).amount == 0
    [refund] = carol_api.get("/refunds").json_body["items"]
    assert (refund["status"], refund["eligible"]["amount"], refund["destination"]) == (
        "paid",
        900,
        "credit",
    )
    assert Invoice.objects.get(pk=order["invoice"]).status == "refunded"


def test_the_statement_lists_what_the_agent_sold_and_paid(clock, carol, dave, staff, product):
    carol_api = api_for(carol)
    wholesale_price_set(actor=staff, product=product, agent=carol, price=700, setup_fee=200)
    give_credit(carol, 2000, staff)
    clock.move_to(START + DAY)
    sold = order_for(carol_api, dave)
    pay(carol_api, sold["invoice"])
    own = carol_api.post("/orders", {"product": "panel", "ip": OTHER_IP}).json_body
    clock.move_to(START + 2 * DAY)

    answer = carol_api.get(f"/agents/{carol.pk}/statement?from=2026-03-03&to=2026-03-03")

    assert answer.status_code == 200, answer.json_body
    body = answer.json_body
    assert (body["from"], body["to"]) == ("2026-03-03T00:00:00Z", "2026-03-04T00:00:00Z")
    assert body["opening_credit"] == {"amount": 2000, "currency": "USD"}
    assert body["closing_credit"] == {"amount": 1100, "currency": "USD"}
    assert [
        (i["kind"], i["amount"]["amount"], i["customer_email"], i["invoice_status"])
        for i in body["items"]
    ] == [
        ("license", 700, "dave@example.test", "paid"),
        ("setup_fee", 200, "dave@example.test", "paid"),
        ("license", 700, None, "unpaid"),  # carol's own order: she pays her price too
        ("setup_fee", 200, None, "unpaid"),
    ]
    assert own["account"] == str(carol.pk)
    totals = {key: money["amount"] for key, money in body["totals"].items()}
    assert totals == {"sold": 900, "purchased": 900, "paid": 900, "deposited": 0, "refunded": 0}
    assert [(p["method"], p["amount"]["amount"]) for p in body["payments"]] == [("credit", 900)]
    assert [(m["kind"], m["amount"]["amount"]) for m in body["credit_movements"]] == [
        ("payment", -900)
    ]
    # The day before holds only the top-up; staff read the same statement.
    earlier = api_for(staff).get(f"/agents/{carol.pk}/statement?from=2026-03-02&to=2026-03-02")
    assert earlier.json_body["items"] == []
    assert [m["kind"] for m in earlier.json_body["credit_movements"]] == ["adjustment"]


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ("from=yesterday", "not an ISO 8601"),
        ("from=2026-03-05&to=2026-03-01", "from must be before to"),
        ("from=2020-01-01&to=2026-03-01", "at most 731 days"),
    ],
)
def test_a_statement_of_a_bad_span_is_refused(carol, query, detail):
    answer = api_for(carol).get(f"/agents/{carol.pk}/statement?{query}")
    assert (answer.status_code, answer.json_body["code"]) == (422, "validation_error")
    assert detail in answer.json_body["detail"]


def test_no_one_else_reads_an_agents_prices_or_statement(carol, dave, erin, frank, alice, staff):
    for caller in (dave, erin, frank, alice):
        api = api_for(caller)
        for path in (f"/agents/{carol.pk}/prices", f"/agents/{carol.pk}/statement"):
            answer = api.get(path)
            assert (answer.status_code, answer.json_body["code"]) == (404, "not_found"), path
    # A customer's id is no agent's: staff find no price list or statement there either.
    for path in (f"/agents/{dave.pk}/prices", f"/agents/{dave.pk}/statement"):
        assert api_for(staff).get(path).json_body["code"] == "not_found"


def test_only_staff_set_prices_and_bad_prices_change_nothing(carol, erin, staff, product):
    body = {"product": "panel", "price": 1, "setup_fee": 0}
    own = api_for(carol).post(f"/agents/{carol.pk}/prices", body)
    assert (own.status_code, own.json_body["code"]) == (403, "permission_denied")
    foreign = api_for(erin).post(f"/agents/{carol.pk}/prices", body)
    assert (foreign.status_code, foreign.json_body["code"]) == (404, "not_found")
    assert api_for(carol).post("/agent-tiers", {"name": "mine"}).status_code == 403
    staff_api = api_for(staff)
    for bad, code in [
        ({"product": "panel", "price": -1}, "validation_error"),
        ({"product": "panel", "price": "700"}, "validation_error"),
        ({"product": "panel", "price": 700, "setup_fee": True}, "validation_error"),
        ({"product": "nope", "price": 700}, "not_found"),
        ({"price": 700}, "validation_error"),
    ]:
        answer = staff_api.post(f"/agents/{carol.pk}/prices", bad)
        assert answer.json_body["code"] == code, (bad, answer.json_body)
    missing = staff_api.delete(f"/agents/{carol.pk}/prices/panel")
    assert (missing.status_code, missing.json_body["code"]) == (404, "not_found")
    assert staff_api.post("/agent-tiers", {"name": "gold"}).status_code == 201
    taken = staff_api.post("/agent-tiers", {"name": "gold"})
    assert (taken.status_code, taken.json_body["code"]) == (409, "name_taken")
    unknown = staff_api.post(f"/agents/{carol.pk}/tier", {"tier": "987654"})
    assert unknown.json_body["code"] == "not_found"
    assert not WholesalePrice.objects.exists()


def test_setting_a_price_twice_updates_it_and_each_change_is_audited(carol, staff, product):
    staff_api = api_for(staff)
    first = staff_api.post(f"/agents/{carol.pk}/prices", {"product": "panel", "price": 700})
    again = staff_api.post(f"/agents/{carol.pk}/prices", {"product": "panel", "price": 720})
    assert (first.status_code, again.status_code) == (201, 200)
    assert WholesalePrice.objects.get().price == 720
    entries = AuditEntry.objects.filter(action="wholesale_price.set").order_by("pk")
    assert [(e.before.get("price"), e.after["price"]) for e in entries] == [(None, 700), (700, 720)]
    assert {e.account_id for e in entries} == {carol.pk}


def test_a_claim_by_an_agent_pays_the_list_setup_fee_whatever_its_price(
    carol, dave, staff, product
):
    """Rule 10: no code path waives a claim's setup fee, not even a wholesale setup fee of 0."""
    wholesale_price_set(actor=staff, product=product, agent=carol, price=700, setup_fee=0)
    order = order_create(
        actor=staff, account=dave, product=product, ip=PUBLIC_IP, kind=Order.Kind.CLAIM, payer=carol
    )
    assert order.invoice.account_id == carol.pk
    assert [(x.kind, x.amount) for x in order.invoice.lines.all()] == [
        ("license", 700),
        ("setup_fee", 500),
    ]


def test_product_list_is_untouched_by_wholesale_prices(carol, staff, product):
    wholesale_price_set(actor=staff, product=product, agent=carol, price=1, setup_fee=0)
    assert Product.objects.get().price == 1000
    [listed] = api_for(carol).get("/products").json_body["items"]
    assert listed["price"] == {"amount": 1000, "currency": "USD"}


def test_banning_an_agent_leaves_its_customers_licenses_theirs_to_renew(
    clock, carol, dave, staff, product
):
    """Rule 6 without `cascade`: the agent's sale stands, its unpaid ones are withdrawn, and
    what it sold is renewed by the customer from then on (a banned agent pays nothing)."""
    carol_api = api_for(carol)
    give_credit(carol, 3000, staff)
    sold = order_for(carol_api, dave)
    pay(carol_api, sold["invoice"])
    license_id = carol_api.get(f"/orders/{sold['id']}").json_body["license"]
    unpaid = order_for(carol_api, dave, ip=OTHER_IP)

    banned = api_for(staff).post(
        f"/accounts/{carol.pk}/ban", {"reason": "sharing", "note": "resold to a competitor"}
    )

    assert banned.status_code == 200, banned.json_body
    assert Order.objects.get(pk=unpaid["id"]).status == "canceled"
    assert Invoice.objects.get(pk=unpaid["invoice"]).status == "void"
    lic = api_for(dave).get(f"/licenses/{license_id}").json_body
    assert (lic["status"], lic["billed_to"]) == ("active", None)
    [entry] = AuditEntry.objects.filter(action="license.billing_changed")
    assert (entry.before, entry.after) == ({"billed_to": carol.pk}, {"billed_to": None})
    clock.move_to(START + 23 * DAY)
    sweep()
    [renewal] = Invoice.objects.filter(purpose="renewal")
    assert (renewal.account_id, renewal.total) == (dave.pk, 1000)


def test_an_agents_sale_tells_the_agent_what_to_pay_and_both_of_the_delivery(
    carol, dave, staff, product, mailoutbox
):
    """The invoice (and its reminders) are the payer's mail; the delivery is the owner's and
    the agent's. Under the agent's white label, its customer's mail bears its name."""
    carol_api = api_for(carol)
    named = carol_api.post("/account/white-label", {"name": "Carol Hosting"})
    assert named.status_code == 200, named.json_body
    give_credit(carol, 1500, staff)
    order = order_for(carol_api, dave)
    run_jobs()
    issued = [(m.subject, m.to) for m in mailoutbox]
    mailoutbox.clear()

    pay(carol_api, order["invoice"])

    assert [to for _, to in issued] == [["carol@agent.test"]]
    delivered = {m.to[0]: m for m in mailoutbox}
    assert sorted(delivered) == ["carol@agent.test", "dave@example.test"]
    to_dave = delivered["dave@example.test"]
    assert "Carol Hosting" in to_dave.from_email
    assert "Licensary" not in to_dave.body
    run_jobs()
    assert len(mailoutbox) == 2  # the jobs run again send nothing twice
