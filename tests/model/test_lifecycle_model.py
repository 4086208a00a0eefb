"""A model-checked lifecycle (issue 14 item 5): hypothesis drives orders, payments, renewals,
sweeps, jumps of the clock, IP changes, transfers, claims, a ban and refunds through the real
services, and after every step compares the database with a small reference model of DESIGN.md
rules 3-7, 10 and 11:

- rule 3: at most one license that is not deleted per (product, IP);
- rules 4, 5: each license's status is the one its period gives it (active until the period
  ends, blocked for 7 days, canceled until 4 calendar months after the blocking, then deleted),
  a renewal paid before the end extends from the old end and one paid later runs 30 days from
  the payment; every recorded move is a legal one that skips no state;
- rule 6: a ban cancels every service of the account at once and nothing of it renews;
- rule 7: no invoice is refunded more than was paid for it; an activated own license without
  an unresolvable problem is refunded nothing;
- rules 3, 10: a new order and a claim order pay the setup fee, a renewal never does; a
  transfer moves the license with its period unchanged;
- rule 11: at most 3 IP changes per period, the 4th refused;
- rule 14: every ledger transaction balances and no account's credit goes below zero.

The default run takes well under a minute on SQLite; LICENSARY_MODEL_EXAMPLES and
LICENSARY_MODEL_STEPS make a longer one (e.g. 300 and 60).
"""

import calendar
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from licensary.accounts.models import User
from licensary.audit.models import AuditEntry
from licensary.billing.models import Invoice, InvoiceLine, Payment
from licensary.billing.refunds import refund_approve, refund_request
from licensary.billing.services import invoice_pay_with_credit, invoice_refunded_amount
from licensary.catalog.models import Product
from licensary.catalog.services import product_create
from licensary.core.errors import DomainError
from licensary.governance.bans import account_ban
from licensary.governance.claims import claim_approve, claim_open, claim_prove
from licensary.governance.transfers import transfer_accept, transfer_request
from licensary.jobs.runner import run_pending_jobs
from licensary.ledger.models import Posting
from licensary.ledger.services import account_credit
from licensary.licenses.models import License
from licensary.licenses.rules import effective_status
from licensary.licenses.services import (
    license_change_ip,
    license_mark_unresolvable,
    license_renewal_invoice,
)
from licensary.licenses.sweep import sweep
from licensary.orders.models import Order
from licensary.orders.services import order_create
from licensary.verification.services import verification_caches_clear
from tests.helpers import give_credit, make_account

pytestmark = pytest.mark.django_db

START = datetime(2026, 1, 31, 10, 0, tzinfo=UTC)  # a month's end: calendar months clamp
PRICE, SETUP_FEE = 1000, 500
PERIOD = timedelta(days=30)
BLOCKED_DAYS = timedelta(days=7)
DELETE_MONTHS = 4
IP_CHANGES = 3
IPS = ["93.184.216.34", "151.101.1.69", "93.184.216.35"]
JUMPS = [
    timedelta(hours=1),
    timedelta(days=1),
    timedelta(days=3, seconds=1),
    timedelta(days=7),
    timedelta(days=23),
    timedelta(days=30),
    timedelta(days=125),
]
ALLOWED_MOVES = {
    ("active", "blocked"),
    ("blocked", "canceled"),
    ("canceled", "deleted"),
    ("blocked", "active"),
    ("canceled", "active"),
    ("active", "canceled"),  # a ban or an approved claim
}


def plus_months(moment: datetime, months: int) -> datetime:
    """The reference model's own calendar months: the same day, clamped to the month's end."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    return moment.replace(
        year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1])
    )


@dataclass
class LicenseModel:
    """What the rules say of one license, kept by the model alone."""

    account: str
    ip: str
    period_end: datetime
    for_good: str = ""  # "banned" or "claimed": canceled, never renewed
    blocked_at: datetime | None = None  # of a license canceled for good
    replaced: bool = False  # a claimed license, deleted when the claimant's order delivers
    ip_changes: dict[datetime, int] = field(default_factory=dict)

    def status(self, now: datetime) -> str:
        if self.for_good:
            assert self.blocked_at is not None
            gone = self.replaced or now >= plus_months(self.blocked_at, DELETE_MONTHS)
            return "deleted" if gone else "canceled"
        if now < self.period_end:
            return "active"
        if now < self.period_end + BLOCKED_DAYS:
            return "blocked"
        if now < plus_months(self.period_end, DELETE_MONTHS):
            return "canceled"
        return "deleted"

    def cancel_for_good(self, why: str, now: datetime) -> None:
        """A ban or a claim: canceled now; blocked from now unless the period ended already."""
        self.blocked_at = self.period_end if self.status(now) != "active" else now
        self.for_good = why

    def period_start(self, now: datetime) -> datetime:
        """The start of the 30-day period `now` is in, counted back from the period's end."""
        left = self.period_end - now
        whole = max(1, -(-left // PERIOD))
        return self.period_end - whole * PERIOD


class LifecycleModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.savepoint = transaction.savepoint()
        self.clock = time_machine.travel(START, tick=False)
        self.traveller = self.clock.start()
        cache.clear()
        verification_caches_clear()
        self.staff = make_account("sam@staff.test", kind="staff")
        self.people = {
            "alice": make_account("alice@example.test"),
            "bob": make_account("bob@example.test"),
        }
        self.product: Product = product_create(
            actor=self.staff,
            slug="panel",
            name="Panel Pro",
            kind="own",
            price=PRICE,
            setup_fee=SETUP_FEE,
            currency="USD",
        )
        self.licenses: dict[int, LicenseModel] = {}
        self.banned: set[str] = set()
        self.unresolvable: set[int] = set()
        self.audit_seen = 0
        self.steps: list[str] = []

    def teardown(self) -> None:
        self.clock.stop()
        transaction.savepoint_rollback(self.savepoint)
        mail.outbox.clear()

    # --- helpers ---

    @property
    def now(self) -> datetime:
        return timezone.now()

    def person(self, name: str) -> User:
        """The account as the database has it now (a ban changes it), as each request reads it."""
        return User.objects.get(pk=self.people[name].pk)

    def name_of(self, user_id: int) -> str:
        return next(name for name, user in self.people.items() if user.pk == user_id)

    def live_model_on(self, ip: str) -> list[int]:
        return [
            pk
            for pk, lic in self.licenses.items()
            if lic.ip == ip and self.model_status(pk) != "deleted"
        ]

    def model_status(self, pk: int) -> str:
        return self.licenses[pk].status(self.now)

    def pay(self, invoice: Invoice) -> None:
        payer = invoice.account
        give_credit(payer, invoice.total, self.staff)
        invoice_pay_with_credit(invoice=invoice, actor=payer)

    def deliver(self) -> None:
        run_pending_jobs()

    # --- rules ---

    @rule(who=st.sampled_from(["alice", "bob"]), ip=st.sampled_from(IPS))
    def order(self, who: str, ip: str) -> None:
        holds = any(self.licenses[pk].account == who for pk in self.live_model_on(ip))
        try:
            order = order_create(actor=self.person(who), product=self.product, ip=ip)
        except DomainError as refused:
            if who in self.banned:
                assert refused.code == "account_banned", refused.code
                return
            assert holds, f"{who}'s order on {ip} refused ({refused.code}) with no license there"
            assert refused.code == "ip_taken", refused.code
            return
        assert who not in self.banned, "a banned account ordered"
        assert not holds, f"{who} ordered {ip} again while holding a license there"
        lines = sorted(order.invoice.lines.values_list("kind", "amount"))
        assert lines == [("license", PRICE), ("setup_fee", SETUP_FEE)], lines

    @precondition(lambda self: Invoice.objects.filter(status="unpaid").exists())
    @rule(pick=st.integers(min_value=0, max_value=50))
    def pay_an_invoice(self, pick: int) -> None:
        unpaid = list(Invoice.objects.filter(status="unpaid").order_by("pk"))
        invoice = unpaid[pick % len(unpaid)]
        renewal = invoice.lines.filter(kind="renewal").first()
        who = self.name_of(invoice.account_id)
        before: dict[int, datetime] = {}
        if renewal is not None:
            lic_model = self.licenses[renewal.license_id]
            status_then = self.model_status(renewal.license_id)
            before[renewal.license_id] = lic_model.period_end
        order = Order.objects.filter(invoice=invoice).first()
        free = order is not None and not self.live_model_on(order.ip)
        try:
            self.pay(invoice)
        except DomainError as refused:
            if renewal is not None and status_then not in ("deleted",) and not lic_model.for_good:
                assert who in self.banned or invoice.due_at <= self.now, (
                    f"renewal of a {status_then} license refused: {refused.code}"
                )
            return
        assert who not in self.banned, "a banned account paid"
        paid_at = self.now
        self.deliver()
        if renewal is not None:
            assert status_then != "deleted" and not lic_model.for_good, (
                f"a renewal of a {status_then or lic_model.for_good} license was paid"
            )
            old_end = before[renewal.license_id]
            expected = old_end + PERIOD if status_then == "active" else paid_at + PERIOD
            lic_model.period_end = expected
            db = License.objects.get(pk=renewal.license_id)
            assert db.period_end == expected, (
                f"renewed {status_then}: period ends {db.period_end}, expected {expected}"
            )
            return
        assert order is not None
        order.refresh_from_db()
        if order.kind == "new" and free:
            assert order.status == "completed", (order.status, order.hold_reason)
        if order.kind == "claim" and order.status == "completed":
            for lic_model in self.licenses.values():
                if lic_model.for_good == "claimed" and lic_model.ip == order.ip:
                    lic_model.replaced = True
        if order.status == "completed" and order.license_id not in self.licenses:
            lic = License.objects.get(pk=order.license_id)
            assert lic.period_end == paid_at + PERIOD, (lic.period_end, paid_at)
            self.licenses[lic.pk] = LicenseModel(
                account=self.name_of(lic.account_id), ip=lic.ip, period_end=lic.period_end
            )

    @precondition(lambda self: bool(self.licenses))
    @rule(pick=st.integers(min_value=0, max_value=50))
    def renew(self, pick: int) -> None:
        pk = sorted(self.licenses)[pick % len(self.licenses)]
        lic_model = self.licenses[pk]
        status = self.model_status(pk)
        try:
            invoice = license_renewal_invoice(
                license=License.objects.get(pk=pk), actor=self.person(lic_model.account)
            )
        except DomainError as refused:
            assert status == "deleted" or lic_model.for_good or lic_model.account in self.banned, (
                f"renewing a {status} license refused: {refused.code}"
            )
            return
        assert status != "deleted" and not lic_model.for_good, f"a {status} license renews"
        lines = list(invoice.lines.values_list("kind", "amount"))
        assert lines == [("renewal", PRICE)], lines

    @rule()
    def run_the_sweep(self) -> None:
        sweep()
        self.deliver()
        for pk in self.licenses:
            db = License.objects.get(pk=pk)
            assert db.status == self.model_status(pk), (
                f"license {pk} is {db.status} after the sweep; the rules say "
                f"{self.model_status(pk)} (period end {self.licenses[pk].period_end}, "
                f"now {self.now})"
            )

    @rule(jump=st.sampled_from(JUMPS))
    def time_passes(self, jump: timedelta) -> None:
        self.traveller.move_to(self.now + jump)
        cache.clear()

    @precondition(lambda self: bool(self.licenses))
    @rule(pick=st.integers(min_value=0, max_value=50), ip=st.sampled_from(IPS))
    def change_ip(self, pick: int, ip: str) -> None:
        pk = sorted(self.licenses)[pick % len(self.licenses)]
        lic_model = self.licenses[pk]
        if ip == lic_model.ip:
            return
        status = self.model_status(pk)
        period = lic_model.period_start(self.now)
        used = lic_model.ip_changes.get(period, 0)
        taken = [other for other in self.live_model_on(ip) if other != pk]
        try:
            license_change_ip(
                license=License.objects.get(pk=pk), ip=ip, actor=self.person(lic_model.account)
            )
        except DomainError as refused:
            if status == "active" and not taken and lic_model.account not in self.banned:
                assert used >= IP_CHANGES, f"IP change {used + 1} refused: {refused.code}"
                assert refused.code == "ip_change_limit", refused.code
            return
        assert status == "active", f"a {status} license changed IP"
        assert not taken, f"license {pk} moved onto {ip}, which license {taken} holds"
        assert used < IP_CHANGES, f"IP change {used + 1} in one period was made"
        lic_model.ip_changes[period] = used + 1
        lic_model.ip = ip

    @precondition(lambda self: bool(self.licenses))
    @rule(pick=st.integers(min_value=0, max_value=50))
    def transfer(self, pick: int) -> None:
        pk = sorted(self.licenses)[pick % len(self.licenses)]
        lic_model = self.licenses[pk]
        owner = lic_model.account
        recipient = "bob" if owner == "alice" else "alice"
        end_before = License.objects.get(pk=pk).period_end
        try:
            transfer = transfer_request(
                license=License.objects.get(pk=pk),
                to_account=self.person(recipient),
                actor=self.person(owner),
            )
            transfer_accept(transfer=transfer, actor=self.person(recipient))
        except DomainError:
            return
        assert self.model_status(pk) != "deleted", "a deleted license was transferred"
        assert not ({owner, recipient} & self.banned), "a banned account took part in a transfer"
        db = License.objects.get(pk=pk)
        assert (self.name_of(db.account_id), db.period_end) == (recipient, end_before)
        lic_model.account = recipient

    @precondition(lambda self: bool(self.licenses))
    @rule(pick=st.integers(min_value=0, max_value=50))
    def claim(self, pick: int) -> None:
        pk = sorted(self.licenses)[pick % len(self.licenses)]
        lic_model = self.licenses[pk]
        claimant = "bob" if lic_model.account == "alice" else "alice"
        status = self.model_status(pk)
        try:
            made = claim_open(product=self.product, ip=lic_model.ip, actor=self.person(claimant))
            claim_prove(claim=made, challenge=made.challenge, caller_ip=lic_model.ip)
            if status == "active":
                self.traveller.move_to(self.now + timedelta(days=3, seconds=1))
            approved = claim_approve(claim=made, actor=self.staff)
        except DomainError:
            return
        assert status != "deleted", "a deleted license was claimed"
        db = License.objects.get(pk=pk)
        assert db.status == "canceled", db.status
        lic_model.cancel_for_good("claimed", self.now)
        order = Order.objects.get(pk=approved.order_id)
        lines = sorted(order.invoice.lines.values_list("kind", "amount"))
        assert ("setup_fee", SETUP_FEE) in lines, f"a claim order without the setup fee: {lines}"

    @precondition(lambda self: "bob" not in self.banned)
    @rule()
    def ban_bob(self) -> None:
        account_ban(account=self.person("bob"), actor=self.staff, reason="other", note="model")
        self.banned.add("bob")
        for pk, lic_model in self.licenses.items():
            if lic_model.account == "bob" and self.model_status(pk) != "deleted":
                if lic_model.for_good:  # claimed already: its cancellation stands
                    continue
                lic_model.cancel_for_good("banned", self.now)
                assert License.objects.get(pk=pk).status == "canceled"
        assert not Invoice.objects.filter(account=self.person("bob"), status="unpaid").exists()

    @precondition(lambda self: bool(self.licenses))
    @rule(pick=st.integers(min_value=0, max_value=50))
    def mark_unresolvable(self, pick: int) -> None:
        pk = sorted(self.licenses)[pick % len(self.licenses)]
        license_mark_unresolvable(
            license=License.objects.get(pk=pk), actor=self.staff, note="cannot be fixed"
        )
        self.unresolvable.add(pk)

    @precondition(lambda self: Invoice.objects.filter(payments__isnull=False).exists())
    @rule(pick=st.integers(min_value=0, max_value=50), approve=st.booleans())
    def refund(self, pick: int, approve: bool) -> None:
        paid = list(Invoice.objects.filter(payments__isnull=False).distinct().order_by("pk"))
        invoice = paid[pick % len(paid)]
        try:
            asked = refund_request(invoice=invoice, reason="model", actor=invoice.account)
        except DomainError:
            return
        lines = list(invoice.lines.all())
        delivered_own = [
            line.license_id
            for line in lines
            if line.license_id is not None and line.kind in ("license", "renewal")
        ]
        if delivered_own and not set(delivered_own) & self.unresolvable:
            assert asked.eligible == 0, f"an activated own license refunded {asked.eligible}"
        if approve:
            try:
                refund_approve(refund=asked, actor=self.staff)
            except DomainError:
                return

    # --- after every step ---

    @invariant()
    def one_license_per_product_and_ip(self) -> None:
        doubled = (
            License.objects.exclude(status="deleted")
            .values("product", "ip")
            .annotate(n=Count("id"))
            .filter(n__gt=1)
        )
        assert not doubled.exists(), list(doubled)

    @invariant()
    def every_status_is_the_rules_and_every_move_legal(self) -> None:
        for pk in self.licenses:
            db = License.objects.get(pk=pk)
            expected = self.model_status(pk)
            assert effective_status(db, self.now) == expected, (
                f"license {pk} reads {effective_status(db, self.now)}; the rules say {expected} "
                f"(period end {self.licenses[pk].period_end}, now {self.now})"
            )
            assert db.ip == self.licenses[pk].ip
            assert db.ip_changes_in_period <= IP_CHANGES
        new_entries = AuditEntry.objects.filter(object_type="license", pk__gt=self.audit_seen)
        for entry in new_entries.order_by("pk"):
            self.audit_seen = entry.pk
            old, new = entry.before.get("status"), entry.after.get("status")
            if old and new and old != new:
                assert (old, new) in ALLOWED_MOVES, f"{entry.action}: {old} -> {new}"

    @invariant()
    def setup_fee_exactly_where_due(self) -> None:
        for invoice in Invoice.objects.prefetch_related("lines"):
            kinds = [line.kind for line in invoice.lines.all()]
            if invoice.purpose == "order":
                assert kinds.count("setup_fee") == 1, (invoice.pk, kinds)
            if invoice.purpose == "renewal":
                assert "setup_fee" not in kinds, (invoice.pk, kinds)
        fees = InvoiceLine.objects.filter(kind="setup_fee").exclude(amount=SETUP_FEE)
        assert not fees.exists(), list(fees.values_list("invoice_id", "amount"))

    @invariant()
    def refunds_never_above_what_was_paid(self) -> None:
        for invoice in Invoice.objects.filter(payments__isnull=False).distinct():
            paid = invoice.payments.aggregate(s=Sum("amount"))["s"] or 0
            refunded = invoice_refunded_amount(invoice)
            assert refunded <= paid, f"invoice {invoice.pk}: {refunded} refunded of {paid} paid"

    @invariant()
    def the_ledger_balances_and_no_credit_is_negative(self) -> None:
        unbalanced = (
            Posting.objects.values("transaction", "currency")
            .annotate(total=Sum("amount"))
            .exclude(total=0)
        )
        assert not unbalanced.exists(), list(unbalanced)
        for name, user in self.people.items():
            assert account_credit(user).amount >= 0, name
        assert not Payment.objects.filter(amount__lt=0).exists()


LifecycleModel.TestCase.settings = settings(
    max_examples=int(os.environ.get("LICENSARY_MODEL_EXAMPLES", "12")),
    stateful_step_count=int(os.environ.get("LICENSARY_MODEL_STEPS", "30")),
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=not os.environ.get("LICENSARY_MODEL_EXAMPLES"),
    report_multiple_bugs=False,
)


def test_the_lifecycle_follows_the_reference_model(db: Any) -> None:
    run_state_machine_as_test(LifecycleModel, settings=LifecycleModel.TestCase.settings)
