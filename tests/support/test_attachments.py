"""Files on ticket messages: checked by their content, kept privately, downloaded as
attachments only by the ticket's side and staff (never an internal note's by the customer)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from licensary.support.models import Attachment
from tests.helpers import api_for
from tests.support.conftest import open_body

pytestmark = pytest.mark.django_db
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
PDF = b"%PDF-1.7\n%test\n"


def upload(user, ticket_id, files, body="See the files.", internal=None):
    client = Client()
    data = {"body": body, "file": files}
    if internal is not None:
        data["internal"] = internal
    token = api_for(user).headers["HTTP_AUTHORIZATION"]
    return client.post(
        f"/api/v1/tickets/{ticket_id}/messages/upload", data, HTTP_AUTHORIZATION=token
    )


def named(name, content):
    return SimpleUploadedFile(name, content)


def test_files_on_a_message_are_listed_and_downloaded_as_attachments(alice, tmp_path):
    ticket = api_for(alice).post("/tickets", open_body()).json_body

    sent = upload(alice, ticket["id"], [named("shot.png", PNG), named("log.pdf", PDF)])
    files = sent.json()["attachments"]
    download = api_for(alice).client.get(
        f"/api/v1/tickets/{ticket['id']}/attachments/{files[0]['id']}",
        HTTP_AUTHORIZATION=api_for(alice).headers["HTTP_AUTHORIZATION"],
    )

    assert sent.status_code == 201, sent.content
    assert [(f["name"], f["content_type"]) for f in files] == [
        ("shot.png", "image/png"),
        ("log.pdf", "application/pdf"),
    ]
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment;")
    assert b"".join(download.streaming_content) == PNG


def test_a_file_that_is_not_an_image_or_pdf_is_refused_and_nothing_is_kept(alice, settings):
    ticket = api_for(alice).post("/tickets", open_body()).json_body

    refused = upload(alice, ticket["id"], [named("x.png", b"#!/bin/sh\nrm -rf /\n")])

    assert (refused.status_code, refused.json()["code"]) == (415, "unsupported_file_type")
    assert Attachment.objects.count() == 0
    store = settings.DATA_DIR / "attachments"
    assert not store.exists() or list(store.iterdir()) == []


def test_four_files_on_one_message_are_refused(alice):
    ticket = api_for(alice).post("/tickets", open_body()).json_body

    refused = upload(alice, ticket["id"], [named(f"{i}.png", PNG + bytes([i])) for i in range(4)])

    assert (refused.status_code, refused.json()["code"]) == (422, "validation_error")
    assert Attachment.objects.count() == 0


def test_another_customer_cannot_download_a_file_and_the_customer_not_a_notes_file(
    alice, bob, staff
):
    ticket = api_for(alice).post("/tickets", open_body()).json_body
    own = upload(alice, ticket["id"], [named("a.png", PNG)]).json()["attachments"][0]
    note = upload(staff, ticket["id"], [named("n.png", PNG + b"n")], internal="true").json()
    noted = note["attachments"][0]

    def fetch(user, attachment):
        api = api_for(user)
        return api.client.get(
            f"/api/v1/tickets/{ticket['id']}/attachments/{attachment['id']}",
            HTTP_AUTHORIZATION=api.headers["HTTP_AUTHORIZATION"],
        )

    assert fetch(bob, own).status_code == 404
    assert fetch(alice, noted).status_code == 404
    assert fetch(staff, noted).status_code == 200
