"""The e-mails of identity checks, transfers and claims (rules 10 and 12): who is told what.
Plain text for now; templates per language come with the notifications work."""

from django.conf import settings
from django.core.mail import send_mail

from licensary.accounts.models import IdentityDocument
from licensary.governance.models import Claim, Transfer
from licensary.jobs.tasks import durable_task

TRANSFER_MAIL = {
    "requested": (
        "to",
        "License {license} is offered to you",
        "{owner} offers you license "
        "{license} ({product} on {ip}). Accept or decline it within 7 days: "
        "POST /api/v1/transfers/{id}/accept or /decline.",
    ),
    "accepted": (
        "both",
        "License {license} transferred",
        "License {license} ({product} on "
        "{ip}) now belongs to {recipient}, with its period unchanged.",
    ),
    "declined": (
        "from",
        "Your transfer of license {license} was declined",
        "{recipient} declined license {license} ({product} on {ip}); it stays yours.",
    ),
    "canceled": (
        "both",
        "Transfer of license {license} canceled",
        "The transfer of license {license} ({product} on {ip}) is canceled: {reason}.",
    ),
}


def _send(subject: str, body: str, to: list[str]) -> int:
    return send_mail(subject, body + "\n", settings.DEFAULT_FROM_EMAIL, to, fail_silently=False)


@durable_task
def notify_transfer(*, transfer_id: int, event: str) -> int:
    transfer = (
        Transfer.objects.select_related("license__product", "from_account", "to_account")
        .filter(pk=transfer_id)
        .first()
    )
    if transfer is None or event not in TRANSFER_MAIL:
        return 0
    who, subject, body = TRANSFER_MAIL[event]
    lic = transfer.license
    values = {
        "id": transfer.pk,
        "license": lic.pk,
        "product": lic.product.name,
        "ip": lic.ip,
        "owner": transfer.from_account.email,
        "recipient": transfer.to_account.email,
        "reason": transfer.cancel_reason or "canceled",
    }
    to = {
        "to": [transfer.to_account.email],
        "from": [transfer.from_account.email],
        "both": [transfer.from_account.email, transfer.to_account.email],
    }[who]
    return _send(subject.format(**values), body.format(**values), to)


@durable_task
def notify_claim(*, claim_id: int, event: str) -> int:
    """The owner learns of a claim on its active license (and its 3 days), and of an
    approval; the claimant learns of the decision. The challenge is never in a mail."""
    claim = (
        Claim.objects.select_related("product", "claimant", "owner", "order")
        .filter(pk=claim_id)
        .first()
    )
    if claim is None:
        return 0
    what = f"{claim.product.name} on {claim.ip}"
    if event == "opened" and claim.owner_deadline:
        return _send(
            f"Your license for {what} is claimed",
            f"Another account says it runs the server at {claim.ip} and claims {what}. If "
            f"you agree, transfer the license to it before "
            f"{claim.owner_deadline:%Y-%m-%d %H:%M} UTC; otherwise staff review the claim "
            "after that.",
            [claim.owner.email],
        )
    if event == "approved":
        sent = _send(
            f"Your claim of {what} is approved",
            f"Pay the claim order {claim.order_id} (it includes the setup fee); the license "
            "is yours once it is paid.",
            [claim.claimant.email],
        )
        return sent + _send(
            f"Your license for {what} is canceled",
            "Staff approved another account's proven claim of this server; the license is "
            "canceled and cannot be renewed.",
            [claim.owner.email],
        )
    if event == "rejected":
        return _send(
            f"Your claim of {what} is rejected", f"Reason: {claim.reason}", [claim.claimant.email]
        )
    return 0


@durable_task
def notify_identity_rejected(*, document_id: int) -> int:
    document = (
        IdentityDocument.objects.select_related("account")
        .filter(pk=document_id, status=IdentityDocument.Status.REJECTED)
        .first()
    )
    if document is None:
        return 0
    return _send(
        "Your identity document was not accepted",
        f"Reason: {document.reason}\nYou can submit another document.",
        [document.account.email],
    )
