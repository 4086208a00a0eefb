"""Deposits become credit and are never refunded; refunds follow rule 7 and are exact."""

from datetime import timedelta

import time_machine

from licensary.billing.models import Invoice
from licensary.billing.services import invoice_pay_external, invoice_pay_with_credit
from licensary.ledger.services import account_credit
from licensary.licenses.models import License
from licensary.orders.services import order_create
from licensary.support.models import Ticket
from licensary.support.services import ticket_open
from tests.helpers import PUBLIC_IP, api_for, give_credit, run_jobs


def test_paid_deposit_becomes_credit_and_is_never_refundable(alice, staff):
    api = api_for(alice)
    created = api.post("/deposits", {"amount": 5000}, **{"Idempotency-Key": "dep-1"})
    assert created.status_code == 201
    invoice = created.json_body
    assert [line["kind"] for line in invoice["lines"]] == ["deposit"]
    assert (
        api.post("/deposits", {"amount": 5000}, **{"Idempotency-Key": "dep-1"}).json_body["id"]
        == invoice["id"]
    )

    invoice_pay_external(
        invoice=Invoice.objects.get(pk=invoice["id"]),
        method="bank",
        gateway="bank",
        reference="transfer 77",
        amount=5000,
        actor=staff,
    )

    assert account_credit(alice).amount == 5000
    refund = api.post("/refunds", {"invoice": invoice["id"], "reason": "please"}).json_body
    assert (refund["eligible"]["amount"], refund["rule"]) == (0, "deposit_not_refundable")
    refused = api_for(staff).post(f"/refunds/{refund['id']}/approve")
    assert (refused.status_code, refused.json_body["code"]) == (409, "invalid_transition")
    assert account_credit(alice).amount == 5000


def test_bad_deposits_are_refused(alice):
    api = api_for(alice)
    for amount in (0, -5, 10**12):
        answer = api.post("/deposits", {"amount": amount})
        assert (answer.status_code, answer.json_body["code"]) == (422, "validation_error")
    assert not Invoice.objects.exists()


def test_a_deposit_cannot_be_paid_with_credit(alice, staff):
    give_credit(alice, 9000, staff)
    invoice = api_for(alice).post("/deposits", {"amount": 5000}).json_body
    answer = api_for(alice).post(f"/invoices/{invoice['id']}/pay-with-credit")
    assert (answer.status_code, answer.json_body["code"]) == (422, "validation_error")
    assert account_credit(alice).amount == 9000


def test_overpayment_puts_the_rest_on_credit(alice, product, staff):
    order = order_create(actor=alice, product=product, ip=PUBLIC_IP)
    result = invoice_pay_external(
        invoice=order.invoice,
        method="bank",
        gateway="bank",
        reference="t1",
        amount=2000,
        actor=staff,
    )
    assert (result.outcome, result.credited) == ("paid", 500)
    assert account_credit(alice).amount == 500


def license_ticket(lic: License) -> Ticket:
    """The technical ticket the owner opened about `lic`."""
    return ticket_open(
        account=lic.account,
        department="technical",
        subject="It does not work",
        body="The license does not start on my server.",
        license=lic,
        actor=lic.account,
    )


def activated(alice, product, staff) -> License:
    give_credit(alice, 1500, staff)
    order = order_create(actor=alice, product=product, ip=PUBLIC_IP)
    invoice_pay_with_credit(invoice=order.invoice, actor=alice)
    run_jobs()
    return License.objects.get()


def test_activated_own_license_is_not_refunded(alice, product, staff):
    lic = activated(alice, product, staff)
    invoice = lic.orders.get().invoice
    refund = (
        api_for(alice)
        .post("/refunds", {"invoice": str(invoice.pk), "reason": "no longer needed"})
        .json_body
    )
    assert (refund["eligible"]["amount"], refund["rule"]) == (0, "own_activated_no_refund")


def test_unresolvable_problem_refunds_all_but_the_setup_fee_in_the_first_period(
    alice, product, staff
):
    lic = activated(alice, product, staff)
    staff_api = api_for(staff)
    marked = staff_api.post(
        f"/licenses/{lic.pk}/unresolvable",
        {"note": "crashes on their kernel", "ticket": str(license_ticket(lic).pk)},
    )
    assert marked.status_code == 200
    invoice = lic.orders.get().invoice
    refund = (
        api_for(alice)
        .post("/refunds", {"invoice": str(invoice.pk), "reason": "it never worked"})
        .json_body
    )
    assert (refund["eligible"]["amount"], refund["rule"]) == (
        1000,
        "own_unresolvable_less_setup_fee",
    )

    paid = staff_api.post(f"/refunds/{refund['id']}/approve", {"note": "agreed"})

    assert paid.json_body["status"] == "paid"
    assert account_credit(alice).amount == 1000
    assert Invoice.objects.get(pk=invoice.pk).status == "partially_refunded"
    again = api_for(alice).post("/refunds", {"invoice": str(invoice.pk), "reason": "more"})
    assert again.json_body["eligible"]["amount"] == 0  # never more than was paid


def test_unresolvable_after_a_full_period_refunds_the_current_period(alice, product, staff):
    lic = activated(alice, product, staff)
    marked = api_for(staff).post(
        f"/licenses/{lic.pk}/unresolvable",
        {"note": "broken", "ticket": str(license_ticket(lic).pk)},
    )
    assert marked.status_code == 200, marked.json_body
    invoice = lic.orders.get().invoice
    with time_machine.travel(lic.created_at + timedelta(days=31)):
        refund = (
            api_for(alice)
            .post("/refunds", {"invoice": str(invoice.pk), "reason": "still broken"})
            .json_body
        )
    assert (refund["eligible"]["amount"], refund["rule"]) == (
        1000,
        "own_unresolvable_current_period",
    )


def test_only_staff_mark_problems_and_decide_refunds(alice, bob, product, staff):
    lic = activated(alice, product, staff)
    denied = api_for(alice).post(
        f"/licenses/{lic.pk}/unresolvable", {"note": "x", "ticket": str(license_ticket(lic).pk)}
    )
    assert (denied.status_code, denied.json_body["code"]) == (403, "permission_denied")
    invoice = lic.orders.get().invoice
    refund = api_for(alice).post("/refunds", {"invoice": str(invoice.pk), "reason": "r"})
    assert refund.status_code == 201
    rid = refund.json_body["id"]
    assert api_for(alice).post(f"/refunds/{rid}/approve").status_code == 403
    assert api_for(bob).get(f"/refunds/{rid}").status_code == 404
    twice = api_for(alice).post("/refunds", {"invoice": str(invoice.pk), "reason": "again"})
    assert (twice.status_code, twice.json_body["code"]) == (409, "invalid_transition")
    rejected = api_for(staff).post(f"/refunds/{rid}/reject", {"note": "policy"})
    assert rejected.json_body["status"] == "rejected"
