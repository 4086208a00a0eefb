"""Migrations 0005-0006 put the same-evidence constraints on a database that already holds
duplicate receipts: nothing is deleted, each duplicate points at the receipt it repeats, and
it can no longer be confirmed into money."""

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


def _migrate(targets: list[tuple[str, str]]) -> object:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_legacy_duplicates_are_kept_and_marked_when_the_constraints_arrive(alice, staff,
                                                                           product):
    first = order_create(actor=alice, product=product, ip=PUBLIC_IP).invoice
    second = order_create(actor=alice, product=product, ip="93.184.216.35").invoice
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes("billing")
    old = _migrate(BEFORE)
    OldReceipt = old.get_model("billing", "Receipt")  # noqa: N806
    rows = [  # (invoice, sha256, reference, status)
        (first, "a", "TX-1", "pending"),
        (first, "a", "another", "confirmed"),  # the same file again
        (first, "b", " tx 1 ", "pending"),  # the same reference again
        (first, "c", "TX-1", "rejected"),  # a rejected one's reference is not evidence
        (second, "a", "TX-1", "pending"),  # another invoice
    ]
    ids = [OldReceipt.objects.create(
        invoice_id=invoice.pk, uploaded_by_id=alice.pk, stored_name=f"{n:032x}.png",
        content_type="image/png", size=1, sha256=sha * 64, reference=reference, status=status,
        created_at=timezone.now()).pk for n, (invoice, sha, reference, status) in enumerate(rows)]

    _migrate(latest)

    marked = dict(Receipt.objects.values_list("pk", "duplicate_of_id"))
    assert [marked[i] for i in ids] == [None, ids[0], ids[0], None, None]
    assert Receipt.objects.get(pk=ids[2]).reference_key == "tx1"
    with pytest.raises(DomainError) as refused:
        receipt_confirm(receipt=Receipt.objects.get(pk=ids[2]), actor=staff)
    assert refused.value.code == "duplicate_receipt"
    assert Receipt.objects.get(pk=ids[2]).status == "pending"
