"""Every change to accounts, their credit (through the ledger), tokens and terms."""

import hashlib
import secrets
import unicodedata
import zoneinfo
from collections.abc import Iterable
from datetime import datetime
from functools import cache

from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from licensary.accounts import events as account_events
from licensary.accounts.models import ApiToken, TermsAcceptance, TermsVersion, User
from licensary.accounts.policy import require_agent, require_staff
from licensary.accounts.scopes import ALL_SCOPES
from licensary.core.errors import (
    AccountBanned,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    TermsNotAccepted,
    ValidationFailed,
)
from licensary.core.money import Money, default_currency, require_amount
from licensary.ledger.models import LedgerAccount
from licensary.ledger.services import (
    Leg,
    UnbalancedTransaction,
    balance,
    lock_credit_book,
    post_entry,
    system_book,
)

TOKEN_PREFIX = "lic"


def account_create(
    *,
    actor: User | None,
    kind: str,
    email: str,
    password: str | None = None,
    agent: User | None = None,
) -> User:
    """Staff create any account; an agent creates its own customers."""
    if kind not in User.Kind.values:
        raise ValidationFailed(f"kind must be one of {', '.join(User.Kind.values)}.")
    try:
        validate_email(email)
    except DjangoValidationError as exc:
        raise ValidationFailed(f"{email!r} is not a valid email address.") from exc
    if actor is not None:
        account_require_not_banned(actor)
    if actor is not None and not actor.is_staff_account:
        if actor.kind != User.Kind.AGENT or kind != User.Kind.CUSTOMER:
            raise PermissionDenied("Only staff create accounts, and agents their customers.")
        if agent is not None and agent.pk != actor.pk:
            raise PermissionDenied("An agent creates customers only for itself.")
        agent = actor
    if agent is not None and (agent.kind != User.Kind.AGENT or kind != User.Kind.CUSTOMER):
        raise ValidationFailed("Only a customer can belong to an agent, and only to an agent.")
    if password:
        try:
            validate_password(password)
        except DjangoValidationError as exc:
            raise ValidationFailed(" ".join(exc.messages)) from exc
    with transaction.atomic():
        try:
            with transaction.atomic():
                user = User.objects.create_user(
                    email=email,
                    password=password or None,
                    kind=kind,
                    agent=agent,
                    currency=default_currency(),
                    is_staff=kind == User.Kind.STAFF,
                )
        except IntegrityError as exc:
            raise ValidationFailed(
                f"An account with email {email} exists already.", code="email_taken", status=409
            ) from exc
        if not password:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        account_events.account_created(user, actor=actor)
    return user


def account_update(*, account: User, actor: User, email: str) -> User:
    """Staff change an account's email (what it signs in with), audited. Its kind, superuser
    flag, currency and standing are not edited: each has its own use case, or none."""
    require_staff(actor, "edit accounts")
    email = email.strip().lower()
    try:
        validate_email(email)
    except DjangoValidationError as exc:
        raise ValidationFailed(f"{email!r} is not a valid email address.") from exc
    try:
        return _account_field_set(account=account, field="email", value=email, actor=actor)
    except IntegrityError as exc:
        raise ValidationFailed(
            f"An account with email {email} exists already.", code="email_taken", status=409
        ) from exc


def _account_field_set(*, account: User, field: str, value: str, actor: User) -> User:
    """Set one field of the account under its lock, with its `account.updated` entry; a
    value it has already changes nothing. A unique field's clash raises IntegrityError."""
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=account.pk)
        if getattr(locked, field) == value:
            return locked
        before = {field: getattr(locked, field)}
        setattr(locked, field, value)
        with transaction.atomic():
            locked.save(update_fields=[field])
        account_events.account_updated(locked, before=before, after={field: value}, actor=actor)
    setattr(account, field, value)
    return locked


@cache
def time_zones() -> frozenset[str]:
    """The IANA time zones an account may choose (the system's tz database, or tzdata's)."""
    return frozenset(zoneinfo.available_timezones())


def account_preferences_set(
    *,
    account: User,
    actor: User,
    language: str | None = None,
    time_zone: str | None = None,
) -> User:
    """The language the account reads (its pages and its mail) and the time zone its dates
    are shown in; None leaves one as it is. Only the account itself (or staff) chooses. A
    banned account may too: it still signs in to read, and these say how it reads."""
    if actor.pk != account.pk:
        require_staff(actor, "choose other accounts' language and time zone")
    if language is not None and language not in User.Language.values:
        raise ValidationFailed(f"language must be one of {', '.join(User.Language.values)}.")
    if time_zone is not None and time_zone not in time_zones():
        raise ValidationFailed("time_zone must be an IANA time zone, such as Asia/Tehran.")
    chosen = {"language": language, "time_zone": time_zone}
    with transaction.atomic():
        for field, value in chosen.items():
            if value is not None:
                _account_field_set(account=account, field=field, value=value, actor=actor)
    return account


def account_password_set(
    *, account: User, password: str, actor: User, keep_session: str | None = None
) -> User:
    """Give the account a new password (its own change, or the reset mail's link): every API
    token and every signed-in session of the account ends (ASVS 7.4.2), but `keep_session`,
    the browser that changed it. The password is checked by AUTH_PASSWORD_VALIDATORS."""
    if actor.pk != account.pk:
        require_staff(actor, "set other accounts' passwords")
    try:
        validate_password(password, user=account)
    except DjangoValidationError as exc:
        raise ValidationFailed(" ".join(exc.messages)) from exc
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=account.pk)
        locked.set_password(password)
        locked.save(update_fields=["password", "password_changed_at"])
        tokens = accounts_live_tokens([locked.pk]).update(revoked_at=locked.password_changed_at)
        ended = [key for key in accounts_live_sessions([locked.pk]) if key != keep_session]
        Session.objects.filter(pk__in=ended).delete()
        account_events.account_password_changed(
            locked, tokens=tokens, sessions=len(ended), actor=actor
        )
    account.password, account.password_changed_at = locked.password, locked.password_changed_at
    return locked


def account_password_reset_request(*, account: User) -> None:
    """Someone asked for the account's password-reset mail: the entry is written and the mail
    job queued (`notifications`), which makes the link when it runs and sends it at most once
    per window, however often it is asked for."""
    with transaction.atomic():
        account_events.account_password_reset_requested(account)


WHITE_LABEL_REFUSED = frozenset('@<>",;')


def account_white_label_set(*, account: User, name: str, actor: User) -> User:
    """The agent's name on the mail its customers get (white label); blank gives the
    platform's name back. Only the agent itself chooses it."""
    agent = require_agent(actor, "choose a white-label name")
    if agent.pk != account.pk:
        raise NotFound("No such object.")
    name = " ".join(name.split())
    if len(name) > 100:
        raise ValidationFailed("name is at most 100 characters.")
    # A display name, not an address: nothing a mail client could show as another sender
    # ("Bank" <ceo@bank.example>) or turn around (bidi overrides and other format characters).
    if any(ch in WHITE_LABEL_REFUSED or unicodedata.category(ch) == "Cf" for ch in name):
        raise ValidationFailed(
            'name is a plain name: no @ < > " , ; or invisible formatting characters.'
        )
    return _account_field_set(account=account, field="white_label_name", value=name, actor=actor)


def account_credit_adjust(*, account: User, amount: int, note: str, actor: User) -> Money:
    """Staff put credit on (or take it off) an account; the other side is `adjustments`."""
    require_staff(actor, "adjust credit")
    require_amount(amount, allow_negative=True)
    if not note.strip():
        raise ValidationFailed("A credit adjustment needs a note saying why.")
    try:
        with transaction.atomic():
            book = lock_credit_book(account)
            post_entry(
                kind="adjustment",
                memo=note,
                actor=actor,
                legs=[
                    Leg(book, amount),
                    Leg(system_book(LedgerAccount.Code.ADJUSTMENTS, book.currency), -amount),
                ],
            )
            after = balance(book)
            account_events.credit_adjusted(
                account, credit=after, amount=amount, note=note, actor=actor
            )
    except IntegrityError as exc:  # pragma: no cover - the database refused an unbalanced txn
        raise UnbalancedTransaction(str(exc)) from exc
    return Money(after, book.currency)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def token_create(
    *,
    user: User,
    name: str = "",
    scopes: Iterable[str] | None = None,
    expires_at: datetime | None = None,
    actor: User | None = None,
    granted_by: ApiToken | None = None,
) -> tuple[ApiToken, str]:
    """Make a token and return it with its text, which is shown this once and never stored.

    `scopes` None gives every scope (`licensary token create`, a signed-in browser). A token
    made with another token (`granted_by`) gets no scope that one lacks. A banned account
    makes none (rule 6: a ban revoked every token; it signs in to read, nothing more)."""
    if actor is not None:
        account_require_not_banned(actor)
    if scopes is None:
        chosen = list(ALL_SCOPES)
    else:
        wanted = set(scopes)
        unknown = sorted(wanted - set(ALL_SCOPES))
        if unknown:
            raise ValidationFailed(
                f"scopes: unknown {', '.join(unknown)}; known: {', '.join(ALL_SCOPES)}."
            )
        if not wanted:
            raise ValidationFailed("scopes: name at least one scope.")
        chosen = [scope for scope in ALL_SCOPES if scope in wanted]
    if granted_by is not None:
        beyond = [scope for scope in chosen if scope not in granted_by.scopes]
        if beyond:
            raise PermissionDenied(
                f"This token cannot grant scopes it does not have: {', '.join(beyond)}."
            )
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationFailed("expires_at: a token must expire in the future.")
    prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)  # 256 bits
    text = f"{TOKEN_PREFIX}_{prefix}_{secret}"
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            name=name,
            prefix=prefix,
            digest=_digest(text),
            scopes=chosen,
            expires_at=expires_at,
        )
        account_events.token_created(token, actor=actor or user)
    return token, text


def token_revoke(*, token: ApiToken, actor: User) -> ApiToken:
    """End a token for good (its owner or staff); it is never moved to another account."""
    if actor.pk != token.user_id:
        require_staff(actor, "revoke other accounts' tokens")
    with transaction.atomic():
        now = timezone.now()
        if (
            ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now)
            != 1
        ):
            raise InvalidTransition(f"Token {token.prefix} is revoked already.")
        token.revoked_at = now
        account_events.token_revoked(token, at=now, actor=actor)
    return token


def account_ban_mark(*, account: User, reason: str, note: str, actor: User) -> User:
    """Mark `account` banned (rule 6), in the caller's transaction (the ban's own, which also
    cancels its licenses and voids its invoices): its API tokens are revoked and its signed-in
    sessions ended; it can still sign in to read its history."""
    require_staff(actor, "ban accounts")
    if reason not in User.BanReason.values:
        raise ValidationFailed(f"reason must be one of {', '.join(User.BanReason.values)}.")
    if account.is_staff_account:
        raise ValidationFailed("Staff accounts are not banned; take away their staff rights.")
    now = timezone.now()
    locked = User.objects.select_for_update().get(pk=account.pk)
    if locked.status == User.Status.BANNED:
        raise InvalidTransition(f"Account {locked.pk} is banned already.")
    User.objects.filter(pk=locked.pk).update(
        status=User.Status.BANNED, ban_reason=reason, banned_at=now
    )
    tokens = accounts_live_tokens([locked.pk]).update(revoked_at=now)
    _end_sessions(locked)
    locked.refresh_from_db()
    account_events.account_banned(locked, reason=reason, note=note, tokens=tokens, actor=actor)
    return locked


def accounts_live_sessions(account_ids: Iterable[int]) -> list[str]:
    """The keys of the accounts' signed-in sessions (database sessions: each one's user is
    read from it)."""
    wanted = {str(pk) for pk in account_ids}
    return [
        session.pk
        for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator()
        if str(session.get_decoded().get("_auth_user_id")) in wanted
    ]


def accounts_live_tokens(account_ids: Iterable[int]) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user_id__in=list(account_ids), revoked_at__isnull=True)


def _end_sessions(user: User) -> None:
    """Delete the account's signed-in sessions."""
    Session.objects.filter(pk__in=accounts_live_sessions([user.pk])).delete()


def token_authenticate(text: str) -> ApiToken | None:
    """The live token `text` is, with its user; None for anything else (unknown, revoked,
    expired, its account inactive, or made before the account's password last changed)."""
    if not text.startswith(f"{TOKEN_PREFIX}_"):
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(digest=_digest(text), revoked_at__isnull=True)
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.expires_at is not None and token.expires_at <= now:
        return None
    changed = token.user.password_changed_at
    if changed is not None and token.created_at < changed:
        return None  # the password changed after this token was made
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def terms_latest() -> TermsVersion | None:
    return TermsVersion.objects.order_by("-version").first()


def terms_publish(*, text: str, actor: User) -> TermsVersion:
    require_staff(actor, "publish terms")
    if not text.strip():
        raise ValidationFailed("The terms need a text.")
    with transaction.atomic():
        _lock_terms_versions()
        latest = TermsVersion.objects.order_by("-version").first()
        terms = TermsVersion.objects.create(
            version=(latest.version + 1) if latest else 1,
            text=text,
            published_by=actor,
            published_at=timezone.now(),
        )
        account_events.terms_published(terms, actor=actor)
    return terms


def _lock_terms_versions() -> None:
    """Publishers take turns, so each reads the latest version only after the one before it
    committed. A row lock cannot do it: there is no row before the first version, and the
    row a waiter locked is no longer the latest once it gets it.

    PostgreSQL: SHARE ROW EXCLUSIVE conflicts with itself and with inserts, not with reads or
    with the key-share lock an acceptance takes. SQLite: the transaction is IMMEDIATE, so it
    holds the database's only write lock already.
    """
    connection = transaction.get_connection()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {TermsVersion._meta.db_table} IN SHARE ROW EXCLUSIVE MODE")


def terms_accept(*, user: User, version: int, ip: str) -> TermsAcceptance:
    latest = terms_latest()
    if latest is None:
        raise NotFound("No terms have been published.")
    if version != latest.version:
        raise ValidationFailed(
            f"Only the latest terms (version {latest.version}) can be accepted.",
            code="terms_outdated",
            status=409,
        )
    with transaction.atomic():
        acceptance = TermsAcceptance.objects.create(
            user=user, terms=latest, ip=ip, accepted_at=timezone.now()
        )
        account_events.terms_accepted(user, version=latest.version, ip=ip)
    return acceptance


def terms_accepted_version(user: User) -> int | None:
    acceptance = (
        TermsAcceptance.objects.filter(user=user)
        .order_by("-terms__version")
        .values_list("terms__version", flat=True)
        .first()
    )
    return acceptance


def account_require_not_banned(user: User) -> None:
    """The gate before anything a banned account may not do (rule 6): all but reading."""
    if user.status == User.Status.BANNED:
        raise AccountBanned("This account is banned; it can only read its history.")


def account_in_good_standing(user: User) -> bool:
    """Whether `user` may order, pay, renew and transfer now (not banned, the terms taken)."""
    try:
        account_require_in_good_standing(user)
    except (AccountBanned, TermsNotAccepted):
        return False
    return True


def account_require_in_good_standing(user: User) -> None:
    """The gate before ordering, paying, renewing and transferring (rules 1 and 6)."""
    account_require_not_banned(user)
    if user.is_staff_account:
        return
    latest = terms_latest()
    if latest is None:
        return
    if terms_accepted_version(user) != latest.version:
        raise TermsNotAccepted(
            f"Accept the terms version {latest.version} first (POST /api/v1/terms/accept).",
            extra={"version": latest.version},
        )
