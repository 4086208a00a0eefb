"""Key rotation is staged: the next key is published (and signed by the current one) before it
signs anything, every process switches at its `activates_at`, and the old key stays trusted as
`retiring` until it is retired. `--now` is for a compromised key."""

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from licensary.audit.models import AuditEntry
from licensary.core.errors import InvalidTransition
from licensary.verification.keys import keys_retire, keys_rotate
from licensary.verification.models import SigningKey
from tests.helpers import PUBLIC_IP
from tests.verification.test_verify_endpoint import ask, licensed, verified

pytestmark = pytest.mark.django_db


def listing() -> dict:
    return Client().get("/api/v1/verify/keys").json()


def statuses() -> dict[str, str]:
    return {k["key_id"]: k["status"] for k in listing()["keys"]}


def signers_of(answer: dict) -> set[str]:
    """The key_ids whose signature over `document` verifies with a key listed in it."""
    keys = {
        k["key_id"]: Ed25519PublicKey.from_public_bytes(base64.b64decode(k["public_key"]))
        for k in json.loads(answer["document"])
    }
    good = set()
    for item in answer["signatures"]:
        keys[item["key_id"]].verify(
            base64.b64decode(item["signature"]), answer["document"].encode()
        )
        good.add(item["key_id"])
    return good


def wire(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def listed(out: str) -> list[tuple[str, str]]:
    """(key_id, status) of the key lines the command prints."""
    rows = [line.split() for line in out.splitlines()]
    return [
        (row[0], row[1])
        for row in rows
        if len(row) > 1 and row[1] in {"active", "next", "retiring"}
    ]


def first_key_id() -> str:
    (only,) = listing()["keys"]
    return only["key_id"]


def test_key_rotation_publishes_the_next_key_at_once_and_it_signs_only_from_activates_at(
    alice, product, staff, django_assert_num_queries
):
    licensed(alice, product, staff)
    old_id = ask().json()["key_id"]
    rotated_at = timezone.now()

    new = keys_rotate()

    notice = new.activates_at - rotated_at
    assert timedelta(hours=72) - timedelta(seconds=1) < notice <= timedelta(hours=72)
    assert statuses() == {old_id: "active", new.key_id: "next"}
    with time_machine.travel(new.activates_at - timedelta(seconds=1), tick=False):
        assert ask().json()["key_id"] == old_id  # every per-process cache is warm from here on
    # No cache clear and no restart: the signer is chosen by comparing activates_at with now,
    # so the warm cache switches at the instant, and the request is still one query.
    with time_machine.travel(new.activates_at, tick=False), django_assert_num_queries(1):
        after = ask().json()
    assert after["key_id"] == new.key_id
    verified(after)


def test_key_rotation_notice_is_the_key_notice_hours_setting(db, settings):
    settings.LICENSARY = {**settings.LICENSARY, "KEY_NOTICE_HOURS": 5}
    first_key_id()
    with time_machine.travel(datetime(2031, 1, 10, 10, 0, 0, 250_000, tzinfo=UTC), tick=False):
        new = keys_rotate()
    assert new.activates_at == datetime(2031, 1, 10, 15, 0, 0, tzinfo=UTC)
    assert listing()["keys"][1]["activates_at"] == "2031-01-10T15:00:00Z"


@pytest.mark.parametrize("hours", [0, -1])
def test_key_rotation_refuses_a_notice_that_would_sign_before_the_key_is_published(
    db, settings, hours
):
    settings.LICENSARY = {**settings.LICENSARY, "KEY_NOTICE_HOURS": hours}
    first_key_id()

    with pytest.raises(ImproperlyConfigured):
        keys_rotate()

    assert SigningKey.objects.count() == 1


def test_key_listing_is_the_canonical_keys_document_signed_by_every_published_key(db):
    old_id = first_key_id()
    new = keys_rotate()

    answer = listing()

    assert answer["document"] == json.dumps(
        answer["keys"], sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    assert [(k["key_id"], k["status"]) for k in answer["keys"]] == [
        (old_id, "active"),
        (new.key_id, "next"),
    ]
    assert set(answer["keys"][0]) == {
        "key_id",
        "algorithm",
        "public_key",
        "status",
        "activates_at",
        "created_at",
    }
    assert answer["keys"][1]["activates_at"] == wire(new.activates_at)
    # The current key vouches for the next one: a client trusting only it can learn it.
    assert signers_of(answer) == {old_id, new.key_id}


def test_key_rotation_old_key_is_retiring_and_trusted_until_retired(alice, product, staff):
    licensed(alice, product, staff)
    old = ask().json()
    new = keys_rotate()

    with time_machine.travel(new.activates_at + timedelta(minutes=1), tick=False):
        fresh = ask().json()
        assert statuses() == {old["key_id"]: "retiring", new.key_id: "active"}
        assert signers_of(listing()) == {old["key_id"], new.key_id}
        verified(old)

        keys_retire(key_id=old["key_id"])

        assert statuses() == {new.key_id: "active"}
        assert signers_of(listing()) == {new.key_id}
        verified(fresh)
        assert ask().json()["key_id"] == new.key_id


def test_key_rotation_now_signs_at_once_and_retires_the_compromised_key(alice, product, staff):
    licensed(alice, product, staff)
    compromised = ask().json()["key_id"]

    new = keys_rotate(now=True)

    assert ask().json()["key_id"] == new.key_id
    answer = listing()
    assert [(k["key_id"], k["status"]) for k in answer["keys"]] == [(new.key_id, "active")]
    assert signers_of(answer) == {new.key_id}
    # A retired key can never sign again: its private half is gone.
    assert SigningKey.objects.get(key_id=compromised).private_key_encrypted == ""


def test_key_rotation_now_also_retires_a_next_key_that_was_pending(db):
    first = first_key_id()
    pending = keys_rotate()

    new = keys_rotate(now=True)

    assert statuses() == {new.key_id: "active"}
    assert {first, pending.key_id}.isdisjoint(statuses())


def test_key_rotation_while_a_next_key_is_pending_is_refused(db):
    first_key_id()
    pending = keys_rotate()

    with pytest.raises(InvalidTransition, match=pending.key_id):
        keys_rotate()
    assert len(listing()["keys"]) == 2


def test_key_rotation_the_signing_key_and_a_next_key_cannot_be_retired(db):
    current = first_key_id()
    pending = keys_rotate()

    for key_id in (current, pending.key_id):
        with pytest.raises(InvalidTransition):
            keys_retire(key_id=key_id)
    assert statuses() == {current: "active", pending.key_id: "next"}


def test_key_rotation_writes_one_audit_entry_per_action(db):
    first = first_key_id()
    before = AuditEntry.objects.count()

    staged = keys_rotate()
    with time_machine.travel(staged.activates_at, tick=False):
        keys_retire(key_id=first)
        urgent = keys_rotate(now=True)

    entries = list(
        AuditEntry.objects.order_by("id")[before:].values_list(
            "action", "object_id", "before", "after"
        )
    )
    assert entries == [
        (
            "key.rotated",
            staged.key_id,
            {"signing": first},
            {"next": staged.key_id, "activates_at": wire(staged.activates_at)},
        ),
        ("key.retired", first, {"status": "retiring"}, {"status": "retired"}),
        (
            "key.rotated",
            urgent.key_id,
            {"signing": staged.key_id},
            {"signing": urgent.key_id, "retired": [staged.key_id]},
        ),
    ]


def test_key_rotation_by_the_command_is_staged_and_now_is_immediate(db, capsys):
    call_command("keys", "list")
    first = capsys.readouterr().out.split()[0]

    call_command("keys", "rotate")
    out = capsys.readouterr().out
    (old_row, (new_id, new_status)) = listed(out)
    assert (old_row, new_status) == ((first, "active"), "next")
    assert "signs from" in out

    with pytest.raises(CommandError, match="signs"):
        call_command("keys", "retire", first)

    with time_machine.travel(timezone.now() + timedelta(hours=73), tick=False):
        call_command("keys", "list")
        assert listed(capsys.readouterr().out) == [(first, "retiring"), (new_id, "active")]
        call_command("keys", "retire", first)
        out = capsys.readouterr().out
        assert f"retired {first}" in out.splitlines()
        assert listed(out) == [(new_id, "active")]

        call_command("keys", "rotate", "--now")
        out = capsys.readouterr().out
    assert new_id in out and "retired" in out
    ((_, status),) = listed(out)
    assert status == "active"


def test_verify_keys_needs_no_token_and_names_no_private_material(db):
    answer = Client().get("/api/v1/verify/keys", REMOTE_ADDR=PUBLIC_IP)
    assert answer.status_code == 200
    assert "private" not in answer.content.decode()
