"""The identity page (rule 12): alice reads her identity state, sends her document (an image
or a PDF), waits while staff check it, reads staff's reason when it is rejected and may send
another; a file that is no image or PDF is refused next to the field and changes nothing."""

from django.core.files.uploadedfile import SimpleUploadedFile

from licensary.accounts.identity import identity_reject, identity_verify
from licensary.accounts.models import IdentityDocument, User
from tests.portal.conftest import Browser

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def document(content: bytes = PDF, name: str = "passport.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/pdf")


def test_an_unverified_account_sees_its_state_and_the_form(alice_browser: Browser) -> None:
    page = alice_browser.get("/portal/account/identity/").content.decode()
    assert 'data-testid="identity">not verified<' in page
    assert 'name="document"' in page
    account = alice_browser.get("/portal/account/").content.decode()
    assert 'href="/portal/account/identity/"' in account


def test_a_document_sent_waits_for_staff_who_verify_it(
    alice: User, alice_browser: Browser, staff: User
) -> None:
    answer = alice_browser.post("/portal/account/identity/", {"document": document()})
    assert (answer.status_code, answer["Location"]) == (302, "/portal/account/identity/")
    alice.refresh_from_db()
    assert alice.identity == "pending"
    assert IdentityDocument.objects.filter(account=alice, status="pending").count() == 1
    page = alice_browser.get("/portal/account/identity/").content.decode()
    assert "Your document is waiting for staff." in page and 'name="document"' not in page
    identity_verify(account=alice, actor=staff)
    page = alice_browser.get("/portal/account/identity/").content.decode()
    assert "Staff verified your identity" in page and 'name="document"' not in page


def test_a_rejected_document_shows_staff_s_reason_and_another_may_be_sent(
    alice: User, alice_browser: Browser, staff: User
) -> None:
    alice_browser.post("/portal/account/identity/", {"document": document()})
    identity_reject(account=alice, actor=staff, reason="The photo is blurred.")
    page = alice_browser.get("/portal/account/identity/").content.decode()
    assert 'data-testid="identity-reason"' in page and "The photo is blurred." in page
    assert 'name="document"' in page
    png = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64
    again = alice_browser.post(
        "/portal/account/identity/", {"document": document(png, "passport.png")}
    )
    assert again.status_code == 302
    alice.refresh_from_db()
    assert alice.identity == "pending"
    assert IdentityDocument.objects.filter(account=alice).count() == 2


def test_a_file_that_is_no_image_or_pdf_is_refused_next_to_it_and_nothing_is_kept(
    alice: User, alice_browser: Browser
) -> None:
    answer = alice_browser.post(
        "/portal/account/identity/", {"document": document(b"#!/bin/sh\necho hi\n", "id.sh")}
    )
    assert answer.status_code == 415
    assert 'id="id_document_error"><li>Send a PDF, PNG, JPEG or WebP file.</li>' in (
        answer.content.decode()
    )
    alice.refresh_from_db()
    assert alice.identity == "unverified"
    assert IdentityDocument.objects.count() == 0


def test_no_file_is_refused_next_to_the_field(alice: User, alice_browser: Browser) -> None:
    answer = alice_browser.post("/portal/account/identity/", {})
    assert answer.status_code == 422
    assert 'id="id_document_error"' in answer.content.decode()
    assert IdentityDocument.objects.count() == 0


def test_a_pending_account_cannot_send_a_second_document(
    alice: User, alice_browser: Browser
) -> None:
    alice_browser.post("/portal/account/identity/", {"document": document()})
    again = alice_browser.post("/portal/account/identity/", {"document": document()})
    assert again.status_code == 409
    assert 'data-code="invalid_transition"' in again.content.decode()
    assert IdentityDocument.objects.count() == 1
