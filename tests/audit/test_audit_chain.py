"""The audit log is append-only and hash-chained; `licensary audit verify` finds any break."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction

from licensary.accounts.services import account_credit_adjust
from licensary.audit.models import AuditEntry
from licensary.audit.services import Change, audit_record, audit_verify
from tests.concurrency import errors, require_postgres, run_concurrently


def record(n: int) -> None:
    with transaction.atomic():
        audit_record(
            Change(action="test.event", object_type="thing", object_id=n, actor_label="test")
        )


def test_intact_chain_verifies(db, capsys):
    for n in range(5):
        record(n)
    call_command("audit", "verify")
    assert "audit chain intact: 5 entries" in capsys.readouterr().out


def test_an_edited_entry_is_reported_with_its_id(db):
    for n in range(5):
        record(n)
    third = AuditEntry.objects.order_by("id")[2]
    if connection.vendor == "postgresql":
        with pytest.raises(Exception, match="append-only"), transaction.atomic():
            AuditEntry.objects.filter(pk=third.pk).update(reason="rewritten")
        return  # the database itself refuses the edit
    AuditEntry.objects.filter(pk=third.pk).update(reason="rewritten")
    report = audit_verify()
    assert report.first_broken == third.pk
    with pytest.raises(CommandError, match=f"at entry {third.pk}"):
        call_command("audit", "verify")


def test_a_cut_off_tail_is_detected(db):
    for n in range(5):
        record(n)
    if connection.vendor == "postgresql":
        pytest.skip("PostgreSQL refuses the DELETE itself (trigger), tested above")
    AuditEntry.objects.filter(pk=AuditEntry.objects.order_by("-id")[0].pk).delete()
    assert "tail cut" in audit_verify().problem


def test_every_credit_adjustment_writes_exactly_one_entry(alice, staff):
    before = AuditEntry.objects.filter(action="credit.adjusted").count()
    account_credit_adjust(account=alice, amount=700, note="goodwill", actor=staff)
    entries = AuditEntry.objects.filter(action="credit.adjusted")
    assert entries.count() == before + 1
    entry = entries.last()
    assert (entry.actor_id, entry.after, entry.reason) == (staff.pk, {"credit": 700}, "goodwill")


@pytest.mark.django_db(transaction=True)
def test_32_concurrent_writers_keep_one_unbroken_chain():
    require_postgres()

    def writer(n: int) -> None:
        for k in range(5):
            record(n * 100 + k)

    assert errors(run_concurrently(writer, 32)) == []
    report = audit_verify()
    assert (report.checked, report.problem) == (160, "")


def test_awkward_text_keeps_the_chain_intact(db):
    with transaction.atomic():
        audit_record(
            Change(
                action="test.event",
                object_type="thing",
                object_id="x\ty",
                actor_label="tab\there",
                reason='quote " back\\slash\nnewline',
                before={"name": "Zoë \u2603", "n": 1},
                after={"path": "C:\\temp", "list": [1, "two"]},
            )
        )
    entry = AuditEntry.objects.get()
    assert entry.reason == 'quote " back\\slash\nnewline'
    assert entry.after == {"path": "C:\\temp", "list": [1, "two"]}
    assert entry.before == {"name": "Zoë \u2603", "n": 1}
    assert audit_verify().problem == ""
