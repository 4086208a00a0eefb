"""Rule 9: anyone may report an agent; staff record warnings; the third flags the agent for
review; every license and invoice line says its kind in a customer's words."""

import pytest

from licensary.accounts.models import AgentReport
from licensary.audit.models import AuditEntry
from licensary.catalog.models import kind_words
from tests.api.support import delivered_order
from tests.helpers import PUBLIC_IP, api_for

pytestmark = pytest.mark.django_db


def test_a_customer_reports_an_agent_and_staff_read_it(bob, carol, staff):
    made = api_for(bob).post(
        f"/agents/{carol.pk}/reports",
        {"reason": "misrepresented_kind", "details": "Sold me a system license as original."},
    )
    read = api_for(staff).get(f"/agents/{carol.pk}/reports").json_body["items"]

    assert made.status_code == 201, made.json_body
    assert [(r["reason"], r["reporter"]) for r in read] == [("misrepresented_kind", bob.email)]
    assert api_for(carol).get(f"/agents/{carol.pk}/reports").json_body["code"] == (
        "permission_denied"
    )


def test_a_report_about_an_account_that_is_no_agent_is_not_found(alice, bob):
    refused = api_for(bob).post(f"/agents/{alice.pk}/reports", {"reason": "fraud", "details": "x"})

    assert (refused.status_code, refused.json_body["code"]) == (404, "not_found")


def test_a_sixth_report_in_an_hour_is_rate_limited(bob, carol):
    api = api_for(bob)
    answers = [
        api.post(f"/agents/{carol.pk}/reports", {"reason": "abuse", "details": f"#{i}"})
        for i in range(6)
    ]

    assert [a.status_code for a in answers] == [201] * 5 + [429]
    assert answers[-1]["Retry-After"] == "3600"
    assert AgentReport.objects.count() == 5


def test_the_third_warning_flags_the_agent_for_review(carol, staff):
    api = api_for(staff)
    standings = []
    for i in range(3):
        assert api.post(f"/agents/{carol.pk}/warnings", {"reason": f"w{i}"}).status_code == 201
        standings.append(api.get(f"/agents/{carol.pk}/standing").json_body["flagged_for_review"])

    assert standings == [False, False, True]
    last = AuditEntry.objects.filter(action="agent.warned").order_by("-pk").first()
    assert last.after["flagged_for_review"] is True


def test_only_staff_warn(bob, carol):
    refused = api_for(bob).post(f"/agents/{carol.pk}/warnings", {"reason": "bad"})

    assert (refused.status_code, refused.json_body["code"]) == (403, "permission_denied")


def test_licenses_and_invoice_lines_say_their_kind_in_a_customers_words(alice, staff, product):
    own = delivered_order(alice, product, PUBLIC_IP, staff)

    lic = api_for(alice).get(f"/licenses/{own.license_id}").json_body
    lines = api_for(alice).get(f"/invoices/{own.invoice_id}").json_body["lines"]

    assert (lic["kind"], lic["kind_label"]) == ("own", "system license")
    assert "(system license)" in lines[0]["description"]
    assert kind_words("manufacturer") == "original license"


def test_no_agent_facing_route_takes_a_kind(client):
    document = client.get("/api/openapi.json").json()
    schemas = document["components"]["schemas"]
    takers = [
        name
        for name, schema in schemas.items()
        if name.endswith("In") and "kind" in schema.get("properties", {})
    ]
    # Only staff's product and supplier routes and account creation (customer or agent) take a
    # kind; a license's kind is its product's, set by staff alone.
    assert sorted(takers) == ["AccountIn", "ProductIn", "SupplierIn"], takers
