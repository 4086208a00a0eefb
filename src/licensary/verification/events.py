"""What happens to the signing keys, as events: each writes its audit entry and is announced
to the apps that react (`audit.bus`), in the caller's transaction. `actor` None is the
command line (`licensary keys ...`)."""

from licensary.accounts.models import User
from licensary.audit.bus import record
from licensary.audit.services import Change
from licensary.core.db import utc_text
from licensary.verification.models import SigningKey


def key_created(key: SigningKey) -> None:
    """`key.created`: the first key, made on first use."""
    record(
        Change(
            action="key.created",
            object_type="signing_key",
            object_id=key.key_id,
            actor_label="system",
        )
    )


def key_rotated(
    key: SigningKey,
    *,
    signing_before: SigningKey | None,
    retired: list[SigningKey] | None,
    actor: User | None,
) -> None:
    """`key.rotated`: `key` is published as next, signing from its `activates_at`; or, for a
    compromised key, `key` signs at once and every key that was live (`retired`) is retired."""
    after: dict[str, object] = (
        {"next": key.key_id, "activates_at": utc_text(key.activates_at)}
        if retired is None
        else {"signing": key.key_id, "retired": [k.key_id for k in retired]}
    )
    record(
        Change(
            action="key.rotated",
            object_type="signing_key",
            object_id=key.key_id,
            actor=actor,
            actor_label=_label(actor),
            before={"signing": signing_before.key_id if signing_before else None},
            after=after,
            reason="" if retired is None else "compromised",
        )
    )


def key_retired(key: SigningKey, *, was: str, actor: User | None) -> None:
    """`key.retired`: no longer published or trusted, its private half wiped; it `was`
    retiring."""
    record(
        Change(
            action="key.retired",
            object_type="signing_key",
            object_id=key.key_id,
            actor=actor,
            actor_label=_label(actor),
            before={"status": was},
            after={"status": "retired"},
        )
    )


def _label(actor: User | None) -> str:
    return "" if actor else "cli"
