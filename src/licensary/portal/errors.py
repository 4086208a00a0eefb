"""What the portal says for each refusal: a clear sentence per stable error code (the codes
the services raise, API.md "Conventions"), and the page that shows it."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from licensary.core.errors import DomainError

# code -> (heading, what it means and what to do next)
EXPLAINED: dict[str, tuple[Promise, Promise]] = {
    "validation_error": (
        _("Something in the request is not right"),
        _("Check the values you entered and try again."),
    ),
    "unauthenticated": (
        _("Please sign in"),
        _("This page is only for signed-in accounts."),
    ),
    "permission_denied": (
        _("Not allowed"),
        _("Your account may not do this."),
    ),
    "not_found": (
        _("Not found"),
        _("There is nothing here, or it belongs to another account."),
    ),
    "terms_not_accepted": (
        _("Accept the latest terms first"),
        _("A new version of the terms was published. Read and accept it to continue."),
    ),
    "terms_outdated": (
        _("These terms are no longer the latest"),
        _("A newer version was published meanwhile. Read it and accept that one."),
    ),
    "account_banned": (
        _("This account is banned"),
        _("A banned account can still read its history, and do nothing else."),
    ),
    "identity_required": (
        _("A verified identity is needed"),
        _("Submit an identity document; staff verify it, then try again."),
    ),
    "ip_taken": (
        _("This IP is already licensed"),
        _("This product already has a license on that IP address."),
    ),
    "invalid_ip": (
        _("Not a usable IP address"),
        _("Enter the public IPv4 or IPv6 address of the server."),
    ),
    "license_deleted": (
        _("This license is deleted"),
        _("It can no longer be renewed. Order it again; the setup fee applies."),
    ),
    "invalid_transition": (
        _("Not possible in the current state"),
        _("It may have been done already. Reload the page to see the current state."),
    ),
    "insufficient_credit": (
        _("Not enough credit"),
        _("Your credit does not cover this invoice. Add credit or pay another way."),
    ),
    "idempotency_conflict": (
        _("This request was already made differently"),
        _("The same request key was used with other values."),
    ),
    "rate_limited": (
        _("Too many requests"),
        _("Wait a little and try again."),
    ),
    "ip_change_limit": (
        _("No more IP changes in this period"),
        _("A license can move to another IP at most 3 times per period."),
    ),
    "ip_change_abandoned": (
        _("The IP change did not go through"),
        _("The supplier did not confirm the move. The license stays on its IP."),
    ),
    "duplicate_receipt": (
        _("This receipt was sent already"),
        _("The same receipt cannot pay twice."),
    ),
    "product_inactive": (
        _("Not on sale"),
        _("This product is not sold at the moment."),
    ),
    "invoice_already_paid": (
        _("This invoice is paid already"),
        _("Nothing more is owed on it."),
    ),
    "invoice_not_payable": (
        _("This invoice cannot be paid"),
        _("It is not open for payment."),
    ),
    "invoice_disputed": (
        _("This invoice is disputed"),
        _("A payment dispute is open on it; staff will contact you."),
    ),
    "refund_in_flight": (
        _("A refund is already on its way"),
        _("Wait until it is finished."),
    ),
    "gateway_unavailable": (
        _("The payment gateway is not reachable"),
        _("Nothing was charged. Try again later or pay another way."),
    ),
    "supplier_unavailable": (
        _("The supplier is not reachable"),
        _("Nothing was changed. Try again later."),
    ),
    "conflict_retry": (
        _("Busy, try again"),
        _("Another change to the same things won; nothing was changed."),
    ),
    "email_taken": (
        _("This email is taken"),
        _("An account with this email exists already."),
    ),
    "slug_taken": (
        _("This name is taken"),
        _("Choose another one."),
    ),
    "amount_mismatch": (
        _("The payment does not match the invoice"),
        _("Nothing was recorded, and the gateway gives the money back. Pay the invoice again."),
    ),
    "amount_not_supported": (
        _("This amount cannot be paid at this gateway"),
        _("Pay with credit or by bank transfer instead."),
    ),
    "currency_not_supported": (
        _("This gateway does not take this currency"),
        _("Choose another way to pay."),
    ),
    "payment_not_completed": (
        _("The payment was not completed"),
        _("Nothing was paid. Try again, or choose another way to pay."),
    ),
    "name_taken": (
        _("This name is taken"),
        _("Choose another one."),
    ),
    "empty_file": (
        _("The file is empty"),
        _("Choose the file again and send it."),
    ),
    "file_too_large": (
        _("The file is too large"),
        _("Send a smaller file."),
    ),
    "unsupported_file_type": (
        _("This kind of file is not accepted"),
        _("Send a PDF, PNG, JPEG or WebP file."),
    ),
    "unsupported_media_type": (
        _("This kind of request is not accepted"),
        _("Use the forms of the page."),
    ),
    "url_not_allowed": (
        _("This address is not allowed"),
        _("Use a public https address."),
    ),
    "webhook_limit": (
        _("Too many webhook endpoints"),
        _("Remove one before adding another."),
    ),
    "amount_short": (
        _("The amount is short"),
        _("The money received does not cover the invoice."),
    ),
    "gateway_unreachable": (
        _("The payment gateway is not reachable"),
        _("Nothing was charged. Try again later or pay another way."),
    ),
    "invalid_signature": (
        _("The signature is not valid"),
        _("The message was not signed as expected; nothing was done."),
    ),
    "invalid_nonce": (
        _("The nonce is not valid"),
        _("Send a fresh random nonce."),
    ),
    "transfer_pending": (
        _("A transfer is already pending"),
        _("Wait for the recipient's answer, or cancel that transfer first."),
    ),
    "nothing_to_claim": (
        _("There is nothing to claim"),
        _("No live license holds this product on that IP; order it instead."),
    ),
    "claim_pending": (
        _("A claim is already open"),
        _("Follow the claim that is already open for this license."),
    ),
    "proof_wrong_ip": (
        _("The proof came from another address"),
        _("Answer the challenge from the server at the claimed IP itself."),
    ),
    "challenge_used": (
        _("This challenge was used already"),
        _("Each challenge proves once."),
    ),
    "challenge_expired": (
        _("This challenge has expired"),
        _("Ask for a new one."),
    ),
    "method_not_allowed": (
        _("Not allowed this way"),
        _("Use the buttons and forms of the page."),
    ),
    "invalid_link": (
        _("This link does not work any more"),
        _(
            "It was used already, it has expired, or the password was changed since. "
            "Ask for a new one."
        ),
    ),
    "csrf_failed": (
        _("The form expired"),
        _("Reload the page and send the form again."),
    ),
    "job_task_missing": (
        _("This job's task no longer exists"),
        _("The code it ran was removed or renamed; it cannot be retried."),
    ),
}
GENERIC = (_("The request was refused"), _("Nothing was changed."))


def explained(code: str) -> tuple[Promise, Promise]:
    return EXPLAINED.get(code, GENERIC)


def error_page(request: HttpRequest, *, code: str, status: int, detail: str = "") -> HttpResponse:
    heading, explanation = explained(code)
    template = "portal/_error.html" if getattr(request, "htmx", False) else "portal/error.html"
    return render(
        request,
        template,
        {
            "code": code,
            "heading": heading,
            "explanation": explanation,
            "detail": detail,
            "status": status,
        },
        status=status,
    )


def domain_error_page(request: HttpRequest, exc: DomainError) -> HttpResponse:
    return error_page(request, code=exc.code, status=exc.status, detail=exc.detail)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """Django's CSRF refusal, as the portal's page (CSRF_FAILURE_VIEW)."""
    return error_page(request, code="csrf_failed", status=403)
