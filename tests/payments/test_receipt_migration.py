"""Migrations 0005-0006 (and 0009-0010, across invoices) put the same-evidence constraints on
a database that already holds duplicate receipts: nothing is deleted, each duplicate points at
the receipt it repeats (the confirmed one, when one is), and it can no longer be confirmed
into money."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from licensary.billing.models import Receipt
from licensary.billing.receipts import receipt_confirm
from licensary.core.errors import DomainError
from licensary.orders.services import order_create
from tests.helpers import PUBLIC_IP

BEFORE = [("billing", "0004_refund_gateway_call_at")]
PER_INVOICE = [("billing", "0006_receipt_evidence_constraints")]
ACROSS_BEFORE = [("billing", "0008_refund_needs_staff")]


def _migrate(targets: list[tuple[str, str]]) -> object:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_legacy_duplicates_are_kept_and_marked_when_the_constraints_arrive(alice, staff, product):
    first = order_create(actor=alice, product=product, ip=PUBLIC_IP).invoice
    second = order_create(actor=alice, product=product, ip="93.184.216.35").invoice
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes("billing")
    old = _migrate(BEFORE)
    OldReceipt = old.get_model("billing", "Receipt")
    rows = [  # (invoice, sha256, reference, status)
        (first, "a", "TX-1", "pending"),
        (first, "a", "another", "confirmed"),  # the same file again
        (first, "b", " tx 1 ", "pending"),  # the same reference again
        (first, "c", "TX-1", "rejected"),  # a rejected one's reference is not evidence
        (second, "a", "TX-1", "pending"),  # another invoice
    ]
    ids = [
        OldReceipt.objects.create(
            invoice_id=invoice.pk,
            uploaded_by_id=alice.pk,
            stored_name=f"{n:032x}.png",
            content_type="image/png",
            size=1,
            sha256=sha * 64,
            reference=reference,
            status=status,
            created_at=timezone.now(),
        ).pk
        for n, (invoice, sha, reference, status) in enumerate(rows)
    ]

    _migrate(PER_INVOICE)
    marked = dict(Receipt.objects.values_list("pk", "duplicate_of_id"))
    # The confirmed receipt is the original (it is the one that became money), and a receipt
    # sharing a reference with one of its duplicates repeats it too.
    assert [marked[i] for i in ids] == [ids[1], None, ids[1], None, None]

    _migrate(latest)

    marked = dict(Receipt.objects.values_list("pk", "duplicate_of_id"))
    # Across invoices too: the second invoice's receipt repeats the same file.
    assert [marked[i] for i in ids] == [ids[1], None, ids[1], None, ids[1]]
    assert Receipt.objects.get(pk=ids[2]).reference_key == "tx1"
    with pytest.raises(DomainError) as refused:
        receipt_confirm(receipt=Receipt.objects.get(pk=ids[2]), actor=staff)
    assert refused.value.code == "duplicate_receipt"
    assert Receipt.objects.get(pk=ids[2]).status == "pending"


@pytest.mark.django_db(transaction=True)
def test_rule8_legacy_duplicates_across_invoices_are_marked_keeping_the_confirmed_one(
    alice, bob, staff, product
):
    invoices = [
        order_create(actor=account, product=product, ip=ip).invoice
        for account, ip in ((alice, PUBLIC_IP), (bob, "93.184.216.35"), (alice, "93.184.216.36"))
    ]
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes("billing")
    old = _migrate(ACROSS_BEFORE)
    OldReceipt = old.get_model("billing", "Receipt")
    rows = [  # (invoice, sha256, reference_key, status)
        (invoices[0], "a", "tx1", "pending"),
        (invoices[1], "a", "", "confirmed"),  # the same file paid bob's invoice
        (invoices[2], "b", "tx1", "pending"),  # the same reference as the first
        (invoices[2], "c", "tx9", "rejected"),  # rejected: no longer evidence elsewhere
        (invoices[0], "d", "tx9", "pending"),
    ]
    ids = [
        OldReceipt.objects.create(
            invoice_id=invoice.pk,
            uploaded_by_id=invoice.account_id,
            stored_name=f"{n:032x}.png",
            content_type="image/png",
            size=1,
            sha256=sha * 64,
            reference_key=key,
            status=status,
            created_at=timezone.now(),
        ).pk
        for n, (invoice, sha, key, status) in enumerate(rows)
    ]

    _migrate(latest)

    marked = dict(Receipt.objects.values_list("pk", "duplicate_of_id"))
    assert [marked[i] for i in ids] == [ids[1], None, ids[1], None, None]
    with pytest.raises(DomainError) as refused:
        receipt_confirm(receipt=Receipt.objects.get(pk=ids[2]), actor=staff)
    assert refused.value.code == "duplicate_receipt"
