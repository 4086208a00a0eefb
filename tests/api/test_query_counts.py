"""Query pins (issue 9, rule 11): a list's page takes as many queries for 21 rows as for one
(no N+1), and each hot path (order, pay, deliver, renew, a receipt confirmed, a Stripe payment)
takes at most the number measured when it was pinned, so a regression fails here (`-v` lists
the queries). Every call goes over HTTP: a pin counts the bearer token, the visibility filter,
pagination and the response. The token's last use is written at most once a minute, so each
call is measured right after a warm-up request that took that write.

Hot paths are measured in a shop that has traded before (the invoice number sequence and the
ledger's books exist), as in production. Their counts differ by vendor, so each pin names both:
on PostgreSQL the audit entries go in by COPY on the raw cursor, which Django's query capture
does not see (one query less per entry), a gateway payment takes an advisory lock that
SQLite's single writer does without, and each job queued sends the NOTIFY that wakes the
workers (one query more per job: `jobs.wakeup`)."""

import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client

from licensary.accounts.agents import agent_report, agent_warn
from licensary.accounts.models import User
from licensary.accounts.services import terms_accept, terms_publish, token_create
from licensary.audit.services import Change, audit_record
from licensary.billing.models import Invoice, Receipt
from licensary.billing.receipts import receipt_upload
from licensary.billing.refunds import refund_request
from licensary.catalog.models import AgentTier, Product
from licensary.catalog.services import (
    agent_tier_assign,
    agent_tier_create,
    product_create,
    wholesale_price_set,
)
from licensary.core.errors import RateLimited
from licensary.governance.claims import claim_open
from licensary.governance.transfers import transfer_request
from licensary.licenses.models import License
from licensary.notifications.models import WebhookEndpoint
from licensary.notifications.sending import Outcome, attempt_claim, attempt_record
from licensary.notifications.services import endpoint_create, endpoint_test
from licensary.orders.models import Order
from licensary.suppliers.models import SupplierAccount
from licensary.suppliers.simulator import make_server
from licensary.support.services import ticket_message_add, ticket_open
from tests.api.support import delivered_order, held_order, paid_order, unpaid_order
from tests.helpers import Api, api_for, give_credit, make_account, run_jobs
from tests.payments.fake_stripe import WEBHOOK_SECRET, session_completed, sign

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64
MORE = 20  # rows added after the first page is measured


def pin(*, sqlite: int, postgresql: int) -> int:
    """The most queries a hot path may take on this database."""
    return {"sqlite": sqlite, "postgresql": postgresql}[connection.vendor]


def ip(n: int) -> str:
    return f"93.184.{200 + n // 250}.{n % 250 + 1}"


@dataclass
class Cast:
    alice: User
    bob: User
    carol: User
    dave: User
    staff: User
    product: Product

    def __post_init__(self) -> None:
        self.made = 0
        self.invoice: Invoice | None = None
        self.license: License | None = None
        self.webhook: WebhookEndpoint | None = None
        self.tier: AgentTier | None = None

    def next_ip(self) -> str:
        self.made += 1
        return ip(self.made)


@pytest.fixture
def cast(alice: User, bob: User, carol: User, dave: User, staff: User, product: Product) -> Cast:
    return Cast(alice=alice, bob=bob, carol=carol, dave=dave, staff=staff, product=product)


def fresh(api: Api) -> None:
    """The token's last use is recorded here, outside the count, not in the measured call."""
    assert api.get("/account").status_code == 200


def upload(invoice: Invoice, n: int, actor: User) -> Receipt:
    content = PNG + n.to_bytes(4, "big")  # a different file each time (one receipt per file)
    file = SimpleUploadedFile(f"receipt-{n}.png", content, content_type="image/png")
    return receipt_upload(invoice=invoice, file=file, reference=f"TX-{n}", actor=actor)


# The rows of each list -----------------------------------------------------------------------


def add_delivered(cast: Cast, n: int) -> None:
    delivered_order(cast.alice, cast.product, cast.next_ip(), cast.staff)


def add_dave_order(cast: Cast, n: int) -> None:
    unpaid_order(cast.dave, cast.product, cast.next_ip(), actor=cast.carol)


def add_unpaid_anyone(cast: Cast, n: int) -> None:
    unpaid_order(cast.bob if n % 2 else cast.alice, cast.product, cast.next_ip())


def add_product(cast: Cast, n: int) -> None:
    product_create(
        actor=cast.staff,
        slug=f"extra-{n}",
        name=f"Extra {n}",
        kind="own",
        price=100 + n,
        setup_fee=n,
        currency="USD",
    )


def add_customer(cast: Cast, n: int) -> None:
    """One of carol's customers, with credit and the latest terms accepted."""
    if n == 0:
        terms_publish(text="Terms.", actor=cast.staff)
    customer = make_account(f"customer{n}@example.test", agent=cast.carol)
    give_credit(customer, 100 + n, cast.staff)
    terms_accept(user=customer, version=1, ip="203.0.113.1")


def add_held(cast: Cast, n: int) -> None:
    held_order(cast.bob, cast.product, cast.next_ip(), cast.staff)


def add_history(cast: Cast, n: int) -> None:
    """The first call delivers alice's license (with its first entries); each later one adds an
    entry about it through the audit service itself, as the license's own services would (they
    cannot be repeated 20 times: an IP moves at most 3 times a period)."""
    if cast.license is None:
        order = delivered_order(cast.alice, cast.product, cast.next_ip(), cast.staff)
        cast.license = License.objects.get(pk=order.license_id)
        return
    audit_record(
        Change(
            action="license.noted",
            object_type="license",
            object_id=str(cast.license.pk),
            actor=cast.staff,
            account_id=cast.alice.pk,
            after={"n": n},
            reason="a note for the test",
        )
    )


def add_account_entry(cast: Cast, n: int) -> None:
    """An entry about alice made by staff, as a credit adjustment's would be."""
    audit_record(
        Change(
            action="account.noted",
            object_type="account",
            object_id=str(cast.alice.pk),
            actor=cast.staff,
            account_id=cast.alice.pk,
            after={"n": n},
        )
    )


def add_supplier(cast: Cast, n: int) -> None:
    made = api_for(cast.staff).post(
        "/suppliers",
        {"name": f"s{n}", "base_url": "https://s.test", "username": "u", "password": "p"},
    )
    assert made.status_code == 201, made.json_body


def add_refund(cast: Cast, n: int) -> None:
    order = delivered_order(cast.alice, cast.product, cast.next_ip(), cast.staff)
    refund_request(invoice=order.invoice, reason="no longer needed", actor=cast.alice)


def add_invoice_receipt(cast: Cast, n: int) -> None:
    if cast.invoice is None:
        cast.invoice = unpaid_order(cast.alice, cast.product, cast.next_ip()).invoice
    upload(cast.invoice, n, cast.alice)


def add_receipt(cast: Cast, n: int) -> None:
    invoice = unpaid_order(cast.alice, cast.product, cast.next_ip()).invoice
    upload(invoice, n, cast.alice)


def add_ticket(cast: Cast, n: int) -> None:
    """A ticket of alice's (opened by staff for her, so no throttle), answered with a file,
    with an internal note alice does not see."""
    ticket = ticket_open(
        account=cast.alice, department="technical", subject=f"T{n}", body="b", actor=cast.staff
    )
    ticket_message_add(
        ticket=ticket,
        body="see",
        files=[SimpleUploadedFile("s.png", b"\x89PNG\r\n\x1a\n" + bytes([n]))],
        actor=cast.staff,
    )
    ticket_message_add(ticket=ticket, body="note", internal=True, actor=cast.staff)


def add_webhook(cast: Cast, n: int) -> None:
    endpoint_create(actor=cast.carol, url=f"https://93.184.216.34/{n}", events=["invoice.paid"])


def add_delivery(cast: Cast, n: int) -> None:
    """A delivery of carol's endpoint, tried once (its attempts are a prefetch of the page)."""
    if cast.webhook is None:
        cast.webhook = endpoint_create(
            actor=cast.carol, url="https://93.184.216.34/hooks", events=["invoice.paid"]
        )[0]
    message = endpoint_test(endpoint=cast.webhook, actor=cast.carol)
    claim = attempt_claim(message_id=message.pk)
    assert claim is not None
    attempt_record(claim=claim, outcome=Outcome(500, 12, "busy", ""))


def add_priced_product(cast: Cast, n: int) -> None:
    """A product on sale, priced for carol every other time (her tier's price otherwise)."""
    add_product(cast, n)
    product = Product.objects.order_by("-pk").first()
    assert product is not None
    if cast.tier is None:
        cast.tier = agent_tier_create(actor=cast.staff, name="gold")
        agent_tier_assign(actor=cast.staff, agent=cast.carol, tier=cast.tier)
    owner = {"agent": cast.carol} if n % 2 else {"tier": cast.tier}
    wholesale_price_set(actor=cast.staff, product=product, price=500 + n, setup_fee=0, **owner)


def add_tier(cast: Cast, n: int) -> None:
    tier = agent_tier_create(actor=cast.staff, name=f"tier {n}")
    agent = make_account(f"agent{n}@agent.test", kind="agent")
    agent_tier_assign(actor=cast.staff, agent=agent, tier=tier)


def add_tier_price(cast: Cast, n: int) -> None:
    if cast.tier is None:
        cast.tier = agent_tier_create(actor=cast.staff, name="gold")
    add_product(cast, n)
    product = Product.objects.order_by("-pk").first()
    assert product is not None
    wholesale_price_set(actor=cast.staff, product=product, tier=cast.tier, price=500, setup_fee=0)


def add_token(cast: Cast, n: int) -> None:
    token_create(user=cast.alice, name=f"token {n}")


def add_transfer(cast: Cast, n: int) -> None:
    """One of alice's licenses offered to bob."""
    order = delivered_order(cast.alice, cast.product, cast.next_ip(), cast.staff)
    license = License.objects.get(pk=order.license_id)
    transfer_request(license=license, to_account=cast.bob, actor=cast.alice)


def add_claim(cast: Cast, n: int) -> None:
    """alice claims a server whose license bob holds."""
    ip_address = cast.next_ip()
    delivered_order(cast.bob, cast.product, ip_address, cast.staff)
    claim_open(product=cast.product, ip=ip_address, actor=cast.alice)


def add_report(cast: Cast, n: int) -> None:
    """A report about carol, each by another account (an account reports 5 times an hour)."""
    reporter = make_account(f"reporter{n}@example.test")
    agent_report(agent=cast.carol, reporter=reporter, reason="other", details=f"report {n}")


def add_warning(cast: Cast, n: int) -> None:
    agent_warn(agent=cast.carol, actor=cast.staff, reason=f"warning {n}")


def add_throttle_hit(cast: Cast, n: int) -> None:
    """alice, at her open tickets' limit, tries to open one more: each refusal is evidence."""
    if n == 0:
        for t in range(3):
            ticket_open(
                account=cast.alice,
                department="billing",
                subject=f"T{t}",
                body="b",
                actor=cast.alice,
            )
    with pytest.raises(RateLimited):
        ticket_open(
            account=cast.alice, department="billing", subject="One more", body="b", actor=cast.alice
        )


@dataclass(frozen=True)
class ListCase:
    caller: str
    path: str
    add: Callable[[Cast, int], None]  # one more row, with its related objects
    queries: int  # the same on SQLite and PostgreSQL: a list page writes nothing
    more: int = MORE


LISTS: dict[str, ListCase] = {
    # The token (with its user), then the page: the row's product, invoice and license ids are
    # columns or joined in the same query.
    "alice's orders": ListCase("alice", "/orders", add_delivered, 2),
    "alice's completed orders": ListCase("alice", "/orders?status=completed", add_delivered, 2),
    "carol's customers' orders": ListCase("carol", "/orders", add_dave_order, 2),
    "every order": ListCase("staff", "/orders", add_unpaid_anyone, 2),
    # The token, the page, its lines in one prefetch.
    "alice's invoices": ListCase("alice", "/invoices", add_delivered, 3),
    "every invoice": ListCase("staff", "/invoices", add_unpaid_anyone, 3),
    "alice's licenses": ListCase("alice", "/licenses", add_delivered, 2),
    # A status filter first looks for the caller's licenses the sweep has not caught up with.
    "alice's active licenses": ListCase("alice", "/licenses?status=active", add_delivered, 3),
    "every license": ListCase("staff", "/licenses", add_delivered, 2),
    # The token, the license (visible to the caller?), its entries.
    "a license's history": ListCase("alice", "/licenses/{license}/history", add_history, 3),
    "products on sale": ListCase("alice", "/products", add_product, 2),
    "every product": ListCase("staff", "/products", add_product, 2),
    # Credit and accepted terms are subqueries of the page (`with_credit_and_terms`).
    "carol's customers": ListCase("carol", "/accounts", add_customer, 2),
    "every account": ListCase("staff", "/accounts", add_customer, 2),
    "the review queue": ListCase("staff", "/review-queue", add_held, 2),
    "suppliers": ListCase("staff", "/suppliers", add_supplier, 2),
    "alice's refunds": ListCase("alice", "/refunds", add_refund, 2),
    "every refund": ListCase("staff", "/refunds", add_refund, 2),
    # The token, the invoice (visible to the caller?), its receipts; an invoice takes at most
    # 10 receipts (MAX_RECEIPTS_PER_INVOICE).
    "an invoice's receipts": ListCase(
        "alice", "/invoices/{invoice}/receipts", add_invoice_receipt, 3, more=9
    ),
    # The receipt's invoice is joined in the page's query.
    "alice's receipts": ListCase("alice", "/receipts", add_receipt, 2),
    "alice's history": ListCase("alice", "/account/history", add_account_entry, 3),
    # The token, the account (visible to the caller?), its entries.
    "alice's history read by staff": ListCase(
        "staff", "/accounts/{alice}/history", add_account_entry, 3
    ),
    # The token (with its user), the page: a token's scopes are a column.
    "alice's tokens": ListCase("alice", "/tokens", add_token, 2),
    "alice's transfers": ListCase("alice", "/transfers", add_transfer, 2),
    # The claimant is joined in the page's query (whether the caller sees the challenge).
    "alice's claims": ListCase("alice", "/claims", add_claim, 2),
    # The token, the agent, the page with each report's reporter joined.
    "reports about carol": ListCase("staff", "/agents/{agent}/reports", add_report, 3),
    "carol's warnings": ListCase("staff", "/agents/{agent}/warnings", add_warning, 3),
    # The token, the account, its three counts, the page.
    "alice's support evidence": ListCase(
        "staff", "/accounts/{alice}/support-evidence", add_throttle_hit, 6
    ),
    "alice's tickets": ListCase("alice", "/tickets", add_ticket, 5),
    "every ticket": ListCase("staff", "/tickets", add_ticket, 5),
    "every receipt": ListCase("staff", "/receipts", add_receipt, 2),
    # An agent has at most WEBHOOK_MAX_ENDPOINTS (10) endpoints.
    "carol's webhooks": ListCase("carol", "/webhooks", add_webhook, 2, more=9),
    "every webhook": ListCase("staff", "/webhooks", add_webhook, 2, more=9),
    # The token, the endpoint (visible to the caller?), the page, its attempts in one prefetch.
    "a webhook's deliveries": ListCase("carol", "/webhooks/{webhook}/deliveries", add_delivery, 4),
    # The token, the agent (visible?), its tier, the page of products, then their prices in
    # two queries (the agent's tier, the price rows).
    "carol's prices": ListCase("carol", "/agents/{agent}/prices", add_priced_product, 6),
    # The token, the page with each tier's agent count.
    "agent tiers": ListCase("staff", "/agent-tiers", add_tier, 2),
    # The token, the tier, the page of prices with their products joined.
    "a tier's prices": ListCase("staff", "/agent-tiers/{tier}/prices", add_tier_price, 3),
}


@pytest.mark.parametrize("name", list(LISTS))
def test_a_list_page_takes_as_many_queries_for_many_rows_as_for_one(
    name: str, cast: Cast, django_assert_max_num_queries: Any
) -> None:
    case = LISTS[name]
    api = api_for(getattr(cast, case.caller))
    case.add(cast, 0)
    path = case.path.format(
        invoice=cast.invoice.pk if cast.invoice else None,
        license=cast.license.pk if cast.license else None,
        webhook=cast.webhook.pk if cast.webhook else None,
        agent=cast.carol.pk,
        alice=cast.alice.pk,
        tier=cast.tier.pk if cast.tier else None,
    )

    def page() -> tuple[int, int]:
        fresh(api)
        with django_assert_max_num_queries(case.queries) as captured:
            response = api.get(path)
        assert response.status_code == 200, response.json_body
        assert response.json_body["next_cursor"] is None
        return len(captured.captured_queries), len(response.json_body["items"])

    one_queries, one_rows = page()
    for n in range(1, case.more + 1):
        case.add(cast, n)
    many_queries, many_rows = page()

    assert many_rows == one_rows + case.more
    assert many_queries == one_queries, (
        f"{name}: {one_queries} queries for {one_rows} rows, {many_queries} for {many_rows}"
    )


def test_every_list_of_the_openapi_document_is_pinned_here() -> None:
    """A list is every GET answering `{items, next_cursor}`: a new one needs its case above."""
    document = Client().get("/api/openapi.json").json()
    schemas = document["components"]["schemas"]

    def resolved(schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = schemas[schema["$ref"].rsplit("/", 1)[-1]]
        return schema

    lists = set()
    for path, operations in document["paths"].items():
        answer = operations.get("get", {}).get("responses", {}).get("200", {})
        schema = answer.get("content", {}).get("application/json", {}).get("schema")
        if schema and {"items", "next_cursor"} <= set(resolved(schema).get("properties", {})):
            lists.add(re.sub(r"\{[a-z_]+\}", "{}", path.removeprefix("/api/v1")))
    pinned = {re.sub(r"\{[a-z_]+\}", "{}", case.path.split("?")[0]) for case in LISTS.values()}

    assert len(lists) > 20
    assert lists - pinned == set()


# The hot paths -------------------------------------------------------------------------------


@pytest.fixture
def shopper(cast: Cast) -> Api:
    """alice, in a shop that has traded before (bob's license: the invoice sequence and the
    sales book exist), with the latest terms accepted (the gate is read on every money path)
    and credit for two orders; her token's first use is behind her."""
    terms_publish(text="Terms.", actor=cast.staff)
    for user in (cast.alice, cast.bob):
        terms_accept(user=user, version=1, ip="203.0.113.1")
    delivered_order(cast.bob, cast.product, ip(0), cast.staff)
    give_credit(cast.alice, 3000, cast.staff)
    api = api_for(cast.alice)
    fresh(api)
    return api


# Every event agents' webhooks carry (invoice.issued, invoice.paid, order.completed,
# license.renewed, ...) asks once whether any webhook endpoint is enabled at all: one indexed
# query per such event below, and nothing more while no agent has one.

# The token, the product, the terms gate for the actor and for the account (the latest version
# and the acceptance, twice), the live license on the IP, the invoice number (read twice, then
# moved on), the invoice and its lines, the order, and two audit entries (head, entry, head);
# then the mail's: is the invoice an order's (read), and its mail job queued.
ORDER = pin(sqlite=24, postgresql=23)

# The token, the invoice and its lines, the account, the terms gate twice, the books and the
# invoice locked, the ledger transaction with its postings and their checks, the payment, the
# invoice paid, the order moved to processing, two audit entries, the delivery job queued, the
# answer (the invoice and its lines again).
PAY = pin(sqlite=35, postgresql=34)

# The job claimed, the order and its IP's live license read and locked, the license issued,
# the order completed, two audit entries, the delivery mail's job queued, the job's outcome,
# and the poll that finds no more. The poll also runs the two mail jobs queued meanwhile: the
# invoice's (6: claimed, the invoice found paid, no mail, its outcome) and the delivery's (15:
# claimed, the order and its license read, the outbox row looked for, written and read back,
# claimed, sent and marked sent, its outcome).
DELIVER = pin(sqlite=50, postgresql=49)

# As DELIVER, plus the upstream operation (found, recorded, tried, succeeded: so a lost answer
# is never ordered twice) and the supplier's account; the HTTP call itself is no query.
DELIVER_MANUFACTURER = pin(sqlite=59, postgresql=58)

# Asking to renew first catches the license up with the rules (the sweep's six steps for this
# one license, each in its savepoint: 18 queries), then issues the invoice or finds it (and
# asks whether it is an order's, which alone has a mail of its own).
RENEW_ISSUED = pin(sqlite=43, postgresql=42)
RENEW_AGAIN = pin(sqlite=31, postgresql=31)

# As PAY, with the renewal line's handler run twice: before money moves (is it renewable?) and
# when the renewal is applied; each catches the license up (2 x 18) and locks it. Then the
# license is extended and its line's period recorded.
PAY_RENEWAL = pin(sqlite=78, postgresql=76)

# Staff's token, the receipt, the bank's book and the payment as in PAY, the receipt decided,
# three audit entries, the confirmation's mail job queued, the answer (the receipt and its
# invoice).
CONFIRM_RECEIPT = pin(sqlite=40, postgresql=39)

# The event stored once (a unique row), the invoice, the payment as in PAY, the event's outcome
# and the dispute it may belong to.
STRIPE_WEBHOOK = pin(sqlite=41, postgresql=41)


def test_placing_an_order(shopper: Api, django_assert_max_num_queries: Any) -> None:
    with django_assert_max_num_queries(ORDER):
        answer = shopper.post("/orders", {"product": "panel", "ip": ip(1)})

    assert answer.status_code == 201, answer.json_body


def test_paying_an_invoice_with_credit(
    cast: Cast, shopper: Api, django_assert_max_num_queries: Any
) -> None:
    invoice = unpaid_order(cast.alice, cast.product, ip(1)).invoice

    with django_assert_max_num_queries(PAY):
        answer = shopper.post(f"/invoices/{invoice.pk}/pay-with-credit")

    assert (answer.status_code, answer.json_body["status"]) == (200, "paid"), answer.json_body


def test_delivering_a_paid_order(
    cast: Cast, shopper: Api, django_assert_max_num_queries: Any
) -> None:
    order = paid_order(cast.alice, cast.product, ip(1), cast.staff)

    with django_assert_max_num_queries(DELIVER):
        run_jobs()

    order.refresh_from_db()
    assert order.status == Order.Status.COMPLETED


@pytest.fixture
def simulated_supplier(staff: User) -> Iterator[Product]:
    """A manufacturer product delivered by one simulated Manage2 supplier over real HTTP."""
    server = make_server("127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    account = SupplierAccount(name="north", base_url=server.url, username="sim")
    account.set_password("sim")
    account.save()
    yield product_create(
        actor=staff,
        slug="cpanel-solo",
        name="cPanel Solo",
        kind="manufacturer",
        manufacturer="cPanel",
        price=1000,
        setup_fee=0,
        suppliers=["north"],
        upstream_package="P1",
    )
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_delivering_a_paid_manufacturer_order(
    cast: Cast, shopper: Api, simulated_supplier: Product, django_assert_max_num_queries: Any
) -> None:
    give_credit(cast.bob, 1000, cast.staff)
    delivered_order(cast.bob, simulated_supplier, ip(1), cast.staff)  # the supplier's first
    order = paid_order(cast.alice, simulated_supplier, ip(2), cast.staff)

    with django_assert_max_num_queries(DELIVER_MANUFACTURER):
        run_jobs()

    order.refresh_from_db()
    assert order.status == Order.Status.COMPLETED
    assert order.license.upstream_status == "active"


def test_asking_to_renew_and_paying_the_renewal(
    cast: Cast, shopper: Api, django_assert_max_num_queries: Any
) -> None:
    license_id = delivered_order(cast.alice, cast.product, ip(1), cast.staff).license_id

    with django_assert_max_num_queries(RENEW_ISSUED):
        issued = shopper.post(f"/licenses/{license_id}/renew")
    with django_assert_max_num_queries(RENEW_AGAIN):
        again = shopper.post(f"/licenses/{license_id}/renew")
    with django_assert_max_num_queries(PAY_RENEWAL):
        paid = shopper.post(f"/invoices/{issued.json_body['id']}/pay-with-credit")

    assert (issued.status_code, issued.json_body["purpose"]) == (200, "renewal"), issued.json_body
    assert again.json_body["id"] == issued.json_body["id"]
    assert (paid.status_code, paid.json_body["status"]) == (200, "paid"), paid.json_body


def test_confirming_a_bank_transfer_receipt(
    cast: Cast, shopper: Api, django_assert_max_num_queries: Any
) -> None:
    staff = api_for(cast.staff)
    first = upload(unpaid_order(cast.bob, cast.product, ip(1)).invoice, 1, cast.bob)
    assert staff.post(f"/receipts/{first.pk}/confirm").status_code == 200  # the bank book's first
    receipt = upload(unpaid_order(cast.alice, cast.product, ip(2)).invoice, 2, cast.alice)

    with django_assert_max_num_queries(CONFIRM_RECEIPT):
        answer = staff.post(f"/receipts/{receipt.pk}/confirm")

    assert (answer.status_code, answer.json_body["invoice_status"]) == (200, "paid")


def stripe_pays(invoice: Invoice, event_id: str, intent: str) -> Any:
    payload = session_completed(event_id, invoice, intent=intent)
    return Client().post(
        "/api/v1/gateways/stripe/webhook",
        data=payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=sign(payload),
    )


def test_a_stripe_payment_arriving_by_webhook(
    cast: Cast, shopper: Api, settings: Any, django_assert_max_num_queries: Any
) -> None:
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    first = unpaid_order(cast.bob, cast.product, ip(1)).invoice
    assert stripe_pays(first, "evt_1", "pi_1").status_code == 200  # the Stripe book's first
    invoice = unpaid_order(cast.alice, cast.product, ip(2)).invoice

    with django_assert_max_num_queries(STRIPE_WEBHOOK):
        answer = stripe_pays(invoice, "evt_2", "pi_2")

    assert (answer.status_code, answer.json()["outcome"]) == (200, "applied"), answer.content
    assert Invoice.objects.get(pk=invoice.pk).status == Invoice.Status.PAID
