"""Identity checks (rule 12): an account submits a document, staff verify or reject it with a
reason; products may require a verified identity; an agent sells only once verified."""

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from licensary.accounts.models import IdentityDocument
from licensary.audit.models import AuditEntry
from licensary.catalog.services import product_create
from licensary.orders.models import Order
from tests.helpers import PUBLIC_IP, api_for, make_account, run_jobs

pytestmark = pytest.mark.django_db
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


def submit(user, content=PNG, name="passport.png"):
    api = api_for(user)
    return Client().post(
        "/api/v1/identity",
        {"document": SimpleUploadedFile(name, content)},
        HTTP_AUTHORIZATION=api.headers["HTTP_AUTHORIZATION"],
    )


def test_a_submitted_document_makes_the_identity_pending_and_staff_verify_it(alice, staff):
    sent = submit(alice)
    verified = api_for(staff).post(f"/accounts/{alice.pk}/identity/verify")

    assert sent.status_code == 201, sent.content
    assert sent.json()["identity"] == "pending"
    assert verified.json_body["identity"] == "verified"
    assert api_for(alice).get("/account").json_body["identity"] == "verified"
    assert [e.action for e in AuditEntry.objects.filter(action__startswith="identity.")] == [
        "identity.submitted",
        "identity.verified",
    ]


def test_a_rejection_names_its_reason_tells_the_account_and_allows_a_new_document(alice, staff):
    submit(alice)

    rejected = api_for(staff).post(
        f"/accounts/{alice.pk}/identity/reject", {"reason": "The photo is unreadable."}
    )
    run_jobs()
    again = submit(alice, content=PNG + b"sharper")

    assert rejected.json_body["identity"] == "rejected"
    assert api_for(alice).get("/identity").json_body["reason"] in ("", "The photo is unreadable.")
    assert [m.to for m in mail.outbox] == [[alice.email]]
    assert "The photo is unreadable." in mail.outbox[0].body
    assert again.json()["identity"] == "pending"


def test_a_second_document_while_one_waits_or_once_verified_is_refused(alice, staff):
    submit(alice)
    waiting = submit(alice, content=PNG + b"2")
    api_for(staff).post(f"/accounts/{alice.pk}/identity/verify")
    verified = submit(alice, content=PNG + b"3")

    assert (waiting.status_code, waiting.json()["code"]) == (409, "invalid_transition")
    assert (verified.status_code, verified.json()["code"]) == (409, "invalid_transition")
    assert IdentityDocument.objects.count() == 1


def test_a_document_that_is_no_image_or_pdf_is_refused(alice):
    refused = submit(alice, content=b"MZ\x90\x00 an executable")

    assert (refused.status_code, refused.json()["code"]) == (415, "unsupported_file_type")
    assert IdentityDocument.objects.count() == 0
    assert api_for(alice).get("/identity").json_body["identity"] == "unverified"


def test_only_staff_decide_and_read_documents(alice, bob, carol, dave, staff):
    submit(dave)

    assert api_for(dave).post(f"/accounts/{dave.pk}/identity/verify").status_code == 403
    assert api_for(carol).post(f"/accounts/{dave.pk}/identity/verify").status_code == 403
    assert api_for(bob).post(f"/accounts/{dave.pk}/identity/verify").status_code == 404
    assert api_for(carol).get(f"/accounts/{dave.pk}/identity/document").status_code == 403
    document = api_for(staff).client.get(
        f"/api/v1/accounts/{dave.pk}/identity/document",
        HTTP_AUTHORIZATION=api_for(staff).headers["HTTP_AUTHORIZATION"],
    )
    assert document.status_code == 200
    assert document["Content-Disposition"].startswith("attachment;")


def test_a_product_that_requires_identity_is_refused_to_an_unverified_buyer(alice, staff):
    product_create(
        actor=staff,
        slug="vetted",
        name="Vetted",
        kind="own",
        price=100,
        currency="USD",
        requires_identity=True,
    )

    refused = api_for(alice).post("/orders", {"product": "vetted", "ip": PUBLIC_IP})
    submit(alice)
    api_for(staff).post(f"/accounts/{alice.pk}/identity/verify")
    ordered = api_for(alice).post("/orders", {"product": "vetted", "ip": PUBLIC_IP})

    assert (refused.status_code, refused.json_body["code"]) == (403, "identity_required")
    assert ordered.status_code == 201


def test_an_unverified_agent_cannot_sell(staff, product):
    agent = make_account("new@agent.test", kind="agent")
    customer = make_account("c@example.test", agent=agent)

    refused = api_for(agent).post(
        "/orders", {"product": "panel", "ip": PUBLIC_IP, "account": str(customer.pk)}
    )

    assert (refused.status_code, refused.json_body["code"]) == (403, "identity_required")
    assert Order.objects.count() == 0
