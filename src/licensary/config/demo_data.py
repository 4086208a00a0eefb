"""A lived-in platform for `licensary demo`: five months of a small distributor's business,
replayed day by day through the real services on a travelling clock, so that every license,
invoice, ledger entry and audit entry is one the platform itself would have written.

What it leaves, as of now: own and manufacturer products; customers alice and bob; agents
carol (her own wholesale prices, customers dave and dina) and erin (the gold tier, customer
frank); licenses active, blocked, canceled and deleted; two held orders (one past the 48-hour
target); a bank receipt to confirm; tickets (one answered); a claim waiting for its proof; a
refund request staff must decide; terms everyone accepted.
"""

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.utils import override_settings
from django.utils import timezone

from licensary.accounts.identity import identity_submit, identity_verify
from licensary.accounts.models import User
from licensary.accounts.services import (
    account_create,
    account_credit_adjust,
    terms_accept,
    terms_publish,
)
from licensary.billing.models import Invoice, Receipt, Refund
from licensary.billing.receipts import receipt_upload
from licensary.billing.refunds import refund_request
from licensary.billing.services import invoice_pay_with_credit
from licensary.catalog.models import Product
from licensary.catalog.services import (
    agent_tier_assign,
    agent_tier_create,
    product_create,
    wholesale_price_set,
)
from licensary.governance.claims import claim_open
from licensary.governance.models import Claim
from licensary.jobs.runner import run_pending_jobs
from licensary.licenses.models import License
from licensary.licenses.sweep import sweep
from licensary.orders.models import Order
from licensary.orders.services import order_create
from licensary.suppliers.services import supplier_create
from licensary.support.models import Ticket
from licensary.support.services import ticket_mark_unresolvable, ticket_message_add, ticket_open

DAYS = 170
WORK_HOURS = timedelta(hours=8)
PASSWORD = "lived-in-demo-2026"
DEMO_IP = "198.51.100.1"  # where the demo's people "are" (TEST-NET-2)
# The smallest files the upload checks take (a PNG's signature), one per upload.
PNG = b"\x89PNG\r\n\x1a\n"
TERMS = (
    "1. Licenses are bound to one server IP and billed every 30 days.\n"
    "2. Unpaid licenses are blocked at the end of their period, canceled 7 days later, and "
    "deleted 4 months after blocking.\n"
    "3. Tampering, sharing, fake identities and support spam end in a ban."
)


@dataclass
class Cast:
    staff: User
    people: dict[str, User] = field(default_factory=dict)
    products: dict[str, Product] = field(default_factory=dict)
    renewing: set[int] = field(default_factory=set)  # licenses whose owners keep paying

    def __getitem__(self, name: str) -> User:
        return self.people[name]


def _file(name: str, tag: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PNG + tag.encode())


def _person(cast: Cast, name: str, kind: str, agent: str | None = None) -> User:
    user = account_create(
        actor=cast.staff,
        kind=kind,
        email=f"{name}@demo.test",
        password=PASSWORD,
        agent=cast.people[agent] if agent else None,
    )
    cast.people[name] = user
    return user


def _verified(cast: Cast, user: User) -> None:
    identity_submit(account=user, file=_file("id.png", user.email), actor=user)
    identity_verify(account=user, actor=cast.staff)
    user.refresh_from_db()


def _buy(
    cast: Cast,
    buyer: str,
    product: str,
    ip: str,
    *,
    account: str | None = None,
    pay: bool = True,
    renew: bool = False,
) -> Order:
    """An order placed by `buyer` (for `account`, an agent's customer), paid with credit."""
    actor = cast[buyer]
    order = order_create(
        actor=actor,
        product=cast.products[product],
        ip=ip,
        account=cast[account] if account else actor,
    )
    if pay:
        invoice_pay_with_credit(invoice=order.invoice, actor=actor)
        run_pending_jobs()
        order.refresh_from_db()
        if renew and order.license_id:
            cast.renewing.add(order.license_id)
    return order


def _setup(cast: Cast) -> None:
    staff = cast.staff
    terms_publish(text=TERMS, actor=staff)
    cast.products["panel"] = product_create(
        actor=staff,
        slug="licensary-panel",
        name="Licensary Panel",
        kind=Product.Kind.OWN,
        price=1500,
        setup_fee=1000,
    )
    cast.products["firewall"] = product_create(
        actor=staff,
        slug="licensary-firewall",
        name="Licensary Firewall",
        kind=Product.Kind.OWN,
        price=900,
        setup_fee=0,
    )
    # An original license bought upstream; its supplier is not running in the demo (start
    # `licensary simulate-supplier` and point the supplier at it to deliver these).
    supplier_create(
        actor=staff,
        values={
            "name": "north",
            "kind": "manage2",
            "base_url": "https://north.supplier.invalid",
            "username": "demo",
            "password": "demo",
        },
    )
    cast.products["cpanel"] = product_create(
        actor=staff,
        slug="cpanel-premier",
        name="cPanel Premier",
        kind=Product.Kind.MANUFACTURER,
        manufacturer="cPanel",
        price=4500,
        setup_fee=500,
        suppliers=["north"],
        upstream_package="cpanel-premier-100",
        refund_rule="within_days",
        refund_days=7,
    )
    for name in ("alice", "bob"):
        _person(cast, name, "customer")
    for agent in ("carol", "erin"):
        _verified(cast, _person(cast, agent, "agent"))
    _person(cast, "dave", "customer", agent="carol")
    _person(cast, "dina", "customer", agent="carol")
    _person(cast, "frank", "customer", agent="erin")
    for user in cast.people.values():
        terms_accept(user=user, version=1, ip=DEMO_IP)
    wholesale_price_set(
        actor=staff, product=cast.products["panel"], agent=cast["carol"], price=1100, setup_fee=500
    )
    wholesale_price_set(
        actor=staff, product=cast.products["firewall"], agent=cast["carol"], price=650, setup_fee=0
    )
    gold = agent_tier_create(actor=staff, name="gold")
    agent_tier_assign(actor=staff, agent=cast["erin"], tier=gold)
    for product, price in (("panel", 1200), ("cpanel", 3900)):
        wholesale_price_set(
            actor=staff, product=cast.products[product], tier=gold, price=price, setup_fee=0
        )
    for name, amount in (("alice", 30_000), ("bob", 4_000), ("carol", 40_000), ("erin", 25_000)):
        account_credit_adjust(
            account=cast[name], amount=amount, note="bank transfer received", actor=staff
        )


def _renew_due(cast: Cast) -> None:
    """The owners (or agents) who keep paying pay each renewal invoice the sweep issued."""
    due = Invoice.objects.filter(
        purpose=Invoice.Purpose.RENEWAL,
        status=Invoice.Status.UNPAID,
        lines__license__in=cast.renewing,
    ).select_related("account")
    for invoice in due:
        invoice_pay_with_credit(invoice=invoice, actor=invoice.account)
    run_pending_jobs()


def _events(cast: Cast) -> dict[int, Callable[[], None]]:
    """What happens on which day (days before now, counted down)."""
    staff = cast.staff

    def bob_stops_paying() -> None:  # deleted by now: blocked 140 days ago
        _buy(cast, "bob", "panel", "93.184.216.10")

    def alice_starts() -> None:
        _buy(cast, "alice", "panel", "93.184.216.20", renew=True)

    def alice_tries_the_firewall() -> None:  # canceled: blocked 20 days ago, never renewed
        _buy(cast, "alice", "firewall", "93.184.216.21")

    def carol_sells() -> None:
        _buy(cast, "carol", "panel", "93.184.216.30", account="dave")  # canceled by now
        _buy(cast, "carol", "panel", "93.184.216.31", account="dina", renew=True)

    def erin_sells() -> None:
        _buy(cast, "erin", "panel", "93.184.216.40", account="frank", renew=True)

    def carol_sells_a_firewall() -> None:  # blocked 3 days ago
        _buy(cast, "carol", "firewall", "93.184.216.32", account="dina")

    def alice_asks_for_help() -> None:
        lic = License.objects.get(ip="93.184.216.20")
        ticket = ticket_open(
            account=cast["alice"],
            department="technical",
            subject="The panel stops answering after an update",
            body="Since last week the panel service exits a minute after it starts.",
            license=lic,
            actor=cast["alice"],
        )
        ticket_message_add(
            ticket=ticket,
            body="Please send us the output of `licensary-panel --diagnose`.",
            actor=staff,
        )
        ticket_message_add(
            ticket=ticket,
            body="Here it is.",
            files=[_file("diagnose.png", "diagnose")],
            actor=cast["alice"],
        )
        ticket_mark_unresolvable(
            ticket=ticket, note="The kernel on this server is too old for the panel.", actor=staff
        )

    def held_overdue() -> None:  # paid 3 days ago; its supplier never answers
        _buy(cast, "alice", "cpanel", "93.184.216.22")

    def refund_asked() -> None:
        # The invoice of the period that runs now: rule 7 refunds it when staff marked the
        # license's problem unresolvable.
        invoice = (
            Invoice.objects.filter(lines__license__ip="93.184.216.20", status=Invoice.Status.PAID)
            .order_by("-paid_at")
            .first()
        ) or Order.objects.get(ip="93.184.216.20").invoice
        refund_request(
            invoice=invoice, reason="The panel cannot run on my server.", actor=invoice.account
        )

    def bob_pays_by_bank() -> None:
        order = _buy(cast, "bob", "firewall", "93.184.216.11", pay=False)
        receipt_upload(
            invoice=order.invoice,
            file=_file("transfer.png", "bob's transfer"),
            reference="BANK-2026-11-30-0042",
            actor=cast["bob"],
        )
        ticket_open(
            account=cast["bob"],
            department="billing",
            subject="I paid by bank transfer",
            body="The receipt is on the invoice; please confirm it.",
            actor=cast["bob"],
        )

    def bob_claims() -> None:  # dave's canceled license: no 3 days for its owner
        claim_open(product=cast.products["panel"], ip="93.184.216.30", actor=cast["bob"])

    def held_recent() -> None:
        _buy(cast, "erin", "cpanel", "93.184.216.41", account="frank")

    return {
        170: bob_stops_paying,
        95: alice_starts,
        60: carol_sells,
        50: alice_tries_the_firewall,
        45: erin_sells,
        33: carol_sells_a_firewall,
        12: alice_asks_for_help,
        4: held_overdue,
        3: refund_asked,
        2: bob_pays_by_bank,
        1: bob_claims,
        0: held_recent,
    }


def _work(clock: time_machine.Traveller, *, since: datetime, until: datetime) -> None:
    """The worker's next hours after an event: its jobs run every quarter of an hour (a
    delivery's retries, a hold when the suppliers stay down), for 8 hours or until `until`."""
    moment = since
    while moment < min(since + WORK_HOURS, until):
        moment += timedelta(minutes=15)
        clock.move_to(min(moment, until))
        run_pending_jobs()


@contextmanager
def _quiet() -> Iterator[None]:
    """The demo's five months of mail go to an in-memory box, not to the console, and its
    thousand jobs are not each logged."""
    logs = [logging.getLogger(name) for name in ("django_tasks", "licensary.jobs")]
    levels = [log.level for log in logs]
    for log in logs:  # the held orders' deliveries fail on purpose: their supplier is down
        log.setLevel(logging.CRITICAL)
    try:
        with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
            yield
    finally:
        for log, level in zip(logs, levels, strict=True):
            log.setLevel(level)


def demo_load(
    *, staff: User, progress: Callable[[int, int], None] = lambda done, total: None
) -> Cast:
    """Replay the demo's days, oldest first, ending now; `progress(day, DAYS)` after each."""
    now = timezone.now()
    start = now - timedelta(days=DAYS)
    cast = Cast(staff=staff)
    with _quiet(), time_machine.travel(start, tick=False) as clock:
        events = _events(cast)
        for day in range(DAYS, -1, -1):
            moment: datetime = now - timedelta(days=day)
            clock.move_to(moment if day else now - timedelta(hours=12))
            if day == DAYS:
                _setup(cast)
            sweep()
            run_pending_jobs()
            _renew_due(cast)
            if day in events:
                events[day]()
                _work(clock, since=timezone.now(), until=now)
            progress(DAYS - day + 1, DAYS + 1)
    return cast


def demo_summary() -> dict[str, int]:
    """What the demo left, counted from the tables."""
    counts = {f"licenses {s}": License.objects.filter(status=s).count() for s in License.Status}
    held = Order.objects.filter(status=Order.Status.ON_HOLD)
    counts["orders held"] = held.count()
    counts["  past 48 hours"] = held.filter(
        held_at__lt=timezone.now() - timedelta(hours=48)
    ).count()
    counts["invoices unpaid"] = Invoice.objects.filter(status=Invoice.Status.UNPAID).count()
    counts["receipts to confirm"] = Receipt.objects.filter(status=Receipt.Status.PENDING).count()
    counts["tickets open"] = Ticket.objects.exclude(status=Ticket.Status.CLOSED).count()
    counts["claims open"] = Claim.objects.filter(status__startswith="awaiting").count()
    counts["refunds to decide"] = Refund.objects.filter(status=Refund.Status.REQUESTED).count()
    return counts
