"""Staff mark a licensing problem unresolvable on the ticket about the license (rule 7); the
mark names the ticket and is what the refund policy reads."""

import pytest

from licensary.audit.models import AuditEntry
from licensary.licenses.models import UnresolvableProblem
from tests.helpers import api_for
from tests.support.conftest import open_body

pytestmark = pytest.mark.django_db


def test_the_mark_on_a_ticket_about_a_license_makes_its_payment_refundable(
    alice, staff, alices_license
):
    ticket = api_for(alice).post("/tickets", open_body(license=str(alices_license.pk))).json_body
    invoice = alices_license.orders.get().invoice

    marked = api_for(staff).post(
        f"/tickets/{ticket['id']}/unresolvable", {"note": "their kernel cannot run it"}
    )
    after = api_for(alice).post("/refunds", {"invoice": str(invoice.pk), "reason": "broken"})

    assert marked.status_code == 200, marked.json_body
    mark = UnresolvableProblem.objects.get()
    assert (mark.license, mark.ticket) == (alices_license, ticket["id"])
    assert (after.json_body["rule"], after.json_body["eligible"]["amount"]) == (
        "own_unresolvable_less_setup_fee",
        1000,
    )
    assert AuditEntry.objects.filter(
        action="ticket.marked_unresolvable", account_id=alice.pk
    ).exists()


def test_a_ticket_about_no_license_cannot_carry_the_mark(alice, staff):
    ticket = api_for(alice).post("/tickets", open_body()).json_body

    refused = api_for(staff).post(f"/tickets/{ticket['id']}/unresolvable", {"note": "no"})

    assert (refused.status_code, refused.json_body["code"]) == (422, "validation_error")
    assert UnresolvableProblem.objects.count() == 0


def test_the_license_route_names_a_ticket_about_that_same_license(
    alice, bob, staff, alices_license
):
    other = api_for(bob).post("/tickets", open_body()).json_body
    own = api_for(alice).post("/tickets", open_body(license=str(alices_license.pk))).json_body
    route = f"/licenses/{alices_license.pk}/unresolvable"

    wrong = api_for(staff).post(route, {"note": "broken", "ticket": other["id"]})
    right = api_for(staff).post(route, {"note": "broken", "ticket": own["id"]})

    assert (wrong.status_code, wrong.json_body["code"]) == (404, "not_found")
    assert right.status_code == 200
    assert UnresolvableProblem.objects.get().ticket == own["id"]


def test_only_staff_mark_problems(alice, alices_license):
    ticket = api_for(alice).post("/tickets", open_body(license=str(alices_license.pk))).json_body

    refused = api_for(alice).post(f"/tickets/{ticket['id']}/unresolvable", {"note": "please"})

    assert (refused.status_code, refused.json_body["code"]) == (403, "permission_denied")
    assert UnresolvableProblem.objects.count() == 0
