"""Identity checks (rule 12): an account submits a document (an image or a PDF, checked and
kept like a receipt, in `DATA_DIR/identity`); staff verify it or reject it with a reason the
account is told. Agents must be verified before they sell (`AGENTS_MUST_BE_VERIFIED`, on by
default) and a product may require a verified identity of its buyer (`identity_required`)."""

from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from licensary.accounts import events as account_events
from licensary.accounts.models import IdentityDocument, User
from licensary.accounts.policy import require_act_for, require_staff
from licensary.core.errors import InvalidTransition, ValidationFailed
from licensary.core.uploads import store_upload

STORE = "identity"
MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
DS = IdentityDocument.Status
UI = User.Identity


def identity_submit(*, account: User, file: UploadedFile, actor: User) -> IdentityDocument:
    """Keep `file` as `account`'s identity document; the account's identity is `pending`."""
    require_act_for(actor, account, refusal="You submit identity documents for yourself only.")
    if account.is_staff_account:
        raise ValidationFailed("Staff accounts are not verified by document.")
    if account.identity in (UI.PENDING, UI.VERIFIED):
        raise InvalidTransition(f"This account's identity is {account.identity} already.")
    stored = store_upload(file, store=STORE, max_bytes=MAX_DOCUMENT_BYTES, what="A document")
    try:
        with transaction.atomic():
            locked = User.objects.select_for_update().get(pk=account.pk)
            if locked.identity in (UI.PENDING, UI.VERIFIED):
                raise InvalidTransition(f"This account's identity is {locked.identity} already.")
            document = IdentityDocument.objects.create(
                account=locked,
                stored_name=stored.stored_name,
                original_name=stored.original_name,
                content_type=stored.kind.content_type,
                size=stored.size,
                sha256=stored.sha256,
                submitted_at=timezone.now(),
            )
            before = locked.identity
            User.objects.filter(pk=locked.pk).update(identity=UI.PENDING)
            account.identity = UI.PENDING
            account_events.identity_changed(
                account, document=document, before=before, actor=actor, reason=""
            )
    except IntegrityError:
        stored.path.unlink(missing_ok=True)
        raise InvalidTransition("An identity document is waiting for staff already.") from None
    except BaseException:
        stored.path.unlink(missing_ok=True)
        raise
    return document


def _decide(*, account: User, actor: User, status: str, reason: str) -> User:
    require_staff(actor, "decide identity checks")
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=account.pk)
        document = (
            IdentityDocument.objects.select_for_update()
            .filter(account=locked, status=DS.PENDING)
            .first()
        )
        if document is None:
            raise InvalidTransition("This account has no identity document waiting for staff.")
        now = timezone.now()
        IdentityDocument.objects.filter(pk=document.pk, status=DS.PENDING).update(
            status=status, reason=reason, decided_at=now, decided_by=actor
        )
        document.status, document.reason = status, reason
        before = locked.identity
        identity = UI.VERIFIED if status == DS.VERIFIED else UI.REJECTED
        User.objects.filter(pk=locked.pk).update(identity=identity)
        locked.identity = identity
        account_events.identity_changed(
            locked, document=document, before=before, actor=actor, reason=reason
        )
    return locked


def identity_verify(*, account: User, actor: User) -> User:
    return _decide(account=account, actor=actor, status=DS.VERIFIED, reason="")


def identity_reject(*, account: User, actor: User, reason: str) -> User:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("reason: say why (the account is told, and may submit again).")
    return _decide(account=account, actor=actor, status=DS.REJECTED, reason=reason[:300])
