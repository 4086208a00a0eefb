"""A batch of entries is one link of the audit chain (its digest lists each entry's hash in
order), between entries chained one by one; `licensary audit verify` still names an entry of a
batch that was altered, removed, inserted or moved, and still sees a cut-off tail."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor

from licensary.audit.models import AuditDigest, AuditEntry, AuditHead
from licensary.audit.services import (
    Batch,
    ChainReport,
    Change,
    audit_append_batch,
    audit_record,
    audit_verify,
)
from tests.concurrency import errors, require_postgres, run_concurrently

MOVED = Batch(
    action="thing.moved",
    object_type="thing",
    actor_label="system:test",
    reason="it was time",
    before='{"state":"old"}',
)


def single(n: int) -> None:
    with transaction.atomic():
        audit_record(
            Change(action="thing.noted", object_type="thing", object_id=n, actor_label="test")
        )


def batch(first: int, size: int) -> list[int]:
    """A batch of `size` entries about things `first`..; their entry ids."""
    before = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0
    with transaction.atomic():
        audit_append_batch(
            MOVED,
            [(first + k, 7, f'{{"n":{k},"state":"new"}}') for k in range(size)],
        )
    return list(AuditEntry.objects.filter(id__gt=before).values_list("id", flat=True))


def tamper(sql: str, params: list[object] | None = None) -> None:
    """Change the log behind the writer's back: on PostgreSQL as a superuser who switches the
    append-only triggers off for the statement, on SQLite directly."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql, params or [])
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = DEFAULT")


def move_entry(old: int, new: int) -> None:
    tamper("UPDATE audit_auditentry SET id = %s WHERE id = %s", [new, old])


def broken_at(entry_id: int) -> str:
    """What `licensary audit verify` says, which must name `entry_id`."""
    report = audit_verify()
    assert report.first_broken == entry_id, report
    with pytest.raises(CommandError, match=f"at entry {entry_id}:") as refused:
        call_command("audit", "verify")
    return str(refused.value)


@pytest.fixture
def chain(db: object) -> list[int]:
    """Two single entries, a batch of five, one more single entry: the batch's ids."""
    single(1)
    single(2)
    ids = batch(100, 5)
    single(3)
    return ids


def test_a_batch_is_one_link_of_the_chain_between_entries_chained_one_by_one(chain, capsys):
    digest = AuditDigest.objects.get()
    assert (digest.first_id, digest.last_id) == (chain[0], chain[-1])
    assert chain == list(range(chain[0], chain[0] + 5))
    assert len(bytes(digest.digests)) == 5 * 32
    entries = AuditEntry.objects.filter(id__in=chain)
    assert {(e.prev_hash, e.hash) for e in entries} == {("", "")}
    after_batch = AuditEntry.objects.get(id=chain[-1] + 1)
    assert after_batch.prev_hash == digest.hash
    # Every entry of the batch is whole: who, what, before/after, why.
    first = entries.get(id=chain[0])
    assert (first.action, first.object_id, first.account_id, first.reason) == (
        "thing.moved",
        "100",
        7,
        "it was time",
    )
    assert (first.before, first.after) == ({"state": "old"}, {"n": 0, "state": "new"})
    head = AuditHead.objects.get()
    assert (head.count, head.last_hash) == (8, after_batch.hash)

    call_command("audit", "verify")
    assert "audit chain intact: 8 entries" in capsys.readouterr().out


def test_an_altered_entry_of_a_batch_is_named(chain):
    tamper("UPDATE audit_auditentry SET reason = 'rewritten' WHERE id = %s", [chain[2]])

    assert "altered" in broken_at(chain[2])


def test_an_entry_removed_from_a_batch_is_named(chain):
    tamper("DELETE FROM audit_auditentry WHERE id = %s", [chain[2]])

    assert "removed" in broken_at(chain[2])


def test_an_entry_removed_from_a_batch_and_the_gap_closed_is_named(chain):
    tamper("DELETE FROM audit_auditentry WHERE id = %s", [chain[1]])
    for entry_id in chain[2:]:
        move_entry(entry_id, entry_id - 1)

    assert "removed" in broken_at(chain[1])


def test_an_entry_inserted_into_a_batch_is_named(chain):
    # Make room after the second entry (the batch's tail and the entry after it move up one),
    # then copy an entry into the gap about another thing.
    for entry_id in reversed([*chain[2:], chain[-1] + 1]):
        move_entry(entry_id, entry_id + 1)
    tamper(
        "INSERT INTO audit_auditentry (id, created_at, actor_id, actor_label, action, "
        "object_type, object_id, account_id, before, after, reason, ip, request_id, prev_hash, "
        "hash) SELECT %s, created_at, actor_id, actor_label, action, object_type, '999', "
        "account_id, before, after, reason, ip, request_id, prev_hash, hash "
        "FROM audit_auditentry WHERE id = %s",
        [chain[2], chain[0]],
    )

    assert "inserted" in broken_at(chain[2])


def test_entries_of_a_batch_swapped_are_named(chain):
    move_entry(chain[1], -1)
    move_entry(chain[3], chain[1])
    move_entry(-1, chain[3])

    assert f"out of order in its batch (entries {chain[0]} to {chain[-1]}): it was written as " in (
        broken_at(chain[1])
    )


def test_a_digest_that_no_longer_lists_its_last_entry_is_reported(chain):
    tamper("UPDATE audit_auditdigest SET last_id = last_id - 1")

    assert "does not match its own hash" in broken_at(chain[0])


def test_a_batch_cut_off_the_end_of_the_chain_is_detected(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):  # the head file is written
        single(1)
        ids = batch(100, 4)
    tamper("DELETE FROM audit_auditentry WHERE id >= %s", [ids[0]])
    tamper("DELETE FROM audit_auditdigest")

    assert "tail cut" in audit_verify().problem
    # Rewinding the head row too is still caught by the head file outside the database.
    first = AuditEntry.objects.get()
    tamper("UPDATE audit_audithead SET count = 1, last_hash = %s", [first.hash])
    assert "head file" in audit_verify().problem


def test_the_last_entries_of_a_batch_at_the_end_cut_off_are_named(db):
    ids = batch(100, 4)
    tamper("DELETE FROM audit_auditentry WHERE id >= %s", [ids[2]])

    assert "removed" in broken_at(ids[2])


def test_a_batch_of_one_is_chained_like_a_single_entry(db):
    single(1)
    [only] = batch(100, 1)

    entry = AuditEntry.objects.get(id=only)
    assert entry.prev_hash == AuditEntry.objects.get(id=only - 1).hash
    assert AuditDigest.objects.count() == 0
    assert audit_verify().problem == ""


def test_the_database_refuses_to_edit_or_delete_a_digest(chain):
    require_postgres("the append-only trigger exists on PostgreSQL only")
    with pytest.raises(Exception, match="append-only"), transaction.atomic():
        AuditDigest.objects.update(last_id=chain[0])
    with pytest.raises(Exception, match="append-only"), transaction.atomic():
        AuditDigest.objects.all().delete()


@pytest.mark.django_db(transaction=True)
def test_32_concurrent_writers_of_batches_and_single_entries_keep_one_unbroken_chain():
    require_postgres()

    def writer(n: int) -> None:
        for k in range(5):
            if n % 2:
                single(n * 100 + k)
            else:
                with transaction.atomic():
                    audit_append_batch(
                        MOVED, [(n * 1000 + k * 10 + i, None, "{}") for i in range(10)]
                    )

    assert errors(run_concurrently(writer, 32)) == []
    report = audit_verify()
    assert (report.checked, report.problem) == (16 * 5 + 16 * 5 * 10, "")
    assert AuditDigest.objects.count() == 16 * 5


def migrate_to(*targets: tuple[str, str]) -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(list(targets) or executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_entries_written_before_the_digests_existed_verify_after_their_migration():
    migrate_to(("audit", "0002_lean_indexes"))  # the release before: no digest table
    try:
        for n in range(3):
            single(n)

        migrate_to()
        assert audit_verify() == ChainReport(3, None, "")
        batch(100, 4)
        single(3)
        assert audit_verify() == ChainReport(8, None, "")
    finally:
        migrate_to()  # the next tests find every table, whatever happened here


def test_awkward_text_in_a_batch_keeps_its_entries_whole_and_the_chain_intact(db):
    awkward = Batch(
        action="thing.moved",
        object_type="thing",
        actor_label="tab\there 'quoted' %s 100%",
        reason='quote " back\\slash\nnewline %% %s',
        before='{"name":"Zo\\u00eb \\u2603"}',
    )
    with transaction.atomic():
        audit_append_batch(awkward, [("x\ty", None, '{"path":"C:\\\\temp"}'), (5, 3, "{}")])

    first, second = AuditEntry.objects.order_by("id")
    assert (first.actor_label, first.reason) == (awkward.actor_label, awkward.reason)
    assert (first.object_id, first.before, first.after) == (
        "x\ty",
        {"name": "Zoë \u2603"},
        {"path": "C:\\temp"},
    )
    assert (second.object_id, second.account_id) == ("5", 3)
    assert audit_verify() == ChainReport(2, None, "")
