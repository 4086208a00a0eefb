"""The mail of identity checks, transfers and claims (rules 10 and 12): who is told what.
The challenge of a claim is never in a mail."""

from licensary.accounts.models import IdentityDocument, User
from licensary.catalog.models import kind_words
from licensary.governance.models import Claim, Transfer
from licensary.jobs.tasks import durable_task
from licensary.notifications.mail import Mail, mails_queue_and_send

# Who hears of each transfer event: the recipient ("to"), the owner ("from"), or both.
TRANSFER_TOLD = {"requested": "to", "accepted": "both", "declined": "from", "canceled": "both"}


@durable_task
def notify_transfer(*, transfer_id: int, event: str) -> int:
    transfer = (
        Transfer.objects.select_related(
            "license__product", "from_account__agent", "to_account__agent"
        )
        .filter(pk=transfer_id)
        .first()
    )
    if transfer is None or event not in TRANSFER_TOLD:
        return 0
    lic = transfer.license
    context = {
        "transfer_id": transfer.pk,
        "license_id": lic.pk,
        "product": lic.product.name,
        "kind": kind_words(lic.kind),
        "ip": lic.ip,
        "owner": transfer.from_account.email,
        "recipient": transfer.to_account.email,
        "reason": transfer.cancel_reason or "canceled",
    }
    told: list[User] = {
        "to": [transfer.to_account],
        "from": [transfer.from_account],
        "both": [transfer.from_account, transfer.to_account],
    }[TRANSFER_TOLD[event]]
    return mails_queue_and_send(
        Mail(
            key=f"transfer.{event}:{transfer.pk}",
            to=person,
            template=f"transfer_{event}",
            context=context,
        )
        for person in told
    )


@durable_task
def notify_claim(*, claim_id: int, event: str) -> int:
    """The owner learns of a claim on its active license (and its 3 days), and of an
    approval; the claimant learns of the decision."""
    claim = (
        Claim.objects.select_related("product", "claimant__agent", "owner__agent", "order")
        .filter(pk=claim_id)
        .first()
    )
    if claim is None:
        return 0
    context = {
        "claim_id": claim.pk,
        "product": claim.product.name,
        "kind": kind_words(claim.product.kind),
        "ip": claim.ip,
        "owner_deadline": claim.owner_deadline,
        "order_id": claim.order_id,
        "reason": claim.reason,
    }
    mails: list[Mail] = []
    key = f"claim.{event}:{claim.pk}"
    if event == "opened" and claim.owner_deadline and claim.owner is not None:
        mails.append(Mail(key=key, to=claim.owner, template="claim_opened", context=context))
    elif event == "approved":
        mails.append(Mail(key=key, to=claim.claimant, template="claim_approved", context=context))
        if claim.owner is not None:
            mails.append(
                Mail(key=key, to=claim.owner, template="claim_owner_canceled", context=context)
            )
    elif event == "rejected":
        mails.append(Mail(key=key, to=claim.claimant, template="claim_rejected", context=context))
    return mails_queue_and_send(mails)


@durable_task
def notify_identity_rejected(*, document_id: int) -> int:
    document = (
        IdentityDocument.objects.select_related("account__agent")
        .filter(pk=document_id, status=IdentityDocument.Status.REJECTED)
        .first()
    )
    if document is None:
        return 0
    return mails_queue_and_send(
        [
            Mail(
                key=f"identity.rejected:{document.pk}",
                to=document.account,
                template="identity_rejected",
                context={"reason": document.reason},
            )
        ]
    )
