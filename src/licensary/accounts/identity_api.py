"""Identity checks over HTTP: the account submits a document; staff verify or reject it."""

from typing import Annotated

from django.http import FileResponse
from ninja import Router, Schema, Status

from licensary.accounts.identity import (
    MAX_DOCUMENT_BYTES,
    STORE,
    identity_reject,
    identity_submit,
    identity_verify,
)
from licensary.accounts.models import IdentityDocument, User
from licensary.accounts.policy import account_get_visible, require_staff
from licensary.accounts.schemas import AccountOut, account_out
from licensary.core.errors import NotFound, UnsupportedMediaType, ValidationFailed
from licensary.core.http import AuthedRequest
from licensary.core.text import Id, Printable
from licensary.core.uploads import file_response, limit_upload, stored_path

router = Router(tags=["identity"])

UPLOAD_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["document"],
                    "properties": {
                        "document": {
                            "type": "string",
                            "format": "binary",
                            "description": "PNG, JPEG, WebP or PDF, judged by its content; at "
                            f"most {MAX_DOCUMENT_BYTES} bytes.",
                        }
                    },
                }
            }
        },
    }
}


class IdentityOut(Schema):
    identity: str  # unverified, pending, verified, rejected
    document: str | None  # the latest document's id
    reason: str  # why the latest was rejected


class IdentityRejectIn(Schema):
    reason: Annotated[str, Printable(300, min_length=1, multiline=True)]


def identity_out(account: User) -> dict:
    latest = IdentityDocument.objects.filter(account=account).order_by("-pk").first()
    return {
        "identity": account.identity,
        "document": str(latest.pk) if latest else None,
        "reason": latest.reason if latest else "",
    }


@router.post(
    "/identity",
    response={201: IdentityOut},
    openapi_extra=UPLOAD_DOC,
    summary="Submit an identity document (multipart: document)",
)
def submit_identity(request: AuthedRequest[User]) -> Status:
    if request.content_type != "multipart/form-data":
        raise UnsupportedMediaType(
            "An identity document is uploaded as multipart/form-data (the field document), "
            f"not {request.content_type or 'unnamed'}."
        )
    limit_upload(request, max_bytes=MAX_DOCUMENT_BYTES, what="A document")
    file = request.FILES.get("document")
    if file is None:
        raise ValidationFailed("document: a file is required (multipart field 'document').")
    identity_submit(account=request.auth, file=file, actor=request.auth)
    return Status(201, identity_out(request.auth))


@router.get("/identity", response=IdentityOut, summary="The calling account's identity check")
def get_identity(request: AuthedRequest[User]) -> dict:
    return identity_out(request.auth)


@router.get(
    "/accounts/{account_id}/identity",
    response=IdentityOut,
    summary="An account's identity check (staff; an agent for its customers)",
)
def get_account_identity(request: AuthedRequest[User], account_id: Id) -> dict:
    return identity_out(account_get_visible(user=request.auth, account_id=account_id))


@router.get(
    "/accounts/{account_id}/identity/document",
    summary="Staff: the account's latest identity document, as an attachment",
)
def get_identity_document(request: AuthedRequest[User], account_id: Id) -> FileResponse:
    account = account_get_visible(user=request.auth, account_id=account_id)
    require_staff(request.auth, "read identity documents")
    document = IdentityDocument.objects.filter(account=account).order_by("-pk").first()
    if document is None:
        raise NotFound("This account has submitted no identity document.")
    extension = document.stored_name.rsplit(".", 1)[-1]
    return file_response(
        stored_path(STORE, document.stored_name),
        content_type=document.content_type,
        filename=f"identity-{account.pk}-{document.pk}.{extension}",
    )


@router.post("/accounts/{account_id}/identity/verify", response=AccountOut, summary="Staff")
def verify_identity(request: AuthedRequest[User], account_id: Id) -> dict:
    account = account_get_visible(user=request.auth, account_id=account_id)
    return account_out(identity_verify(account=account, actor=request.auth))


@router.post("/accounts/{account_id}/identity/reject", response=AccountOut, summary="Staff")
def reject_identity(
    request: AuthedRequest[User], account_id: Id, payload: IdentityRejectIn
) -> dict:
    account = account_get_visible(user=request.auth, account_id=account_id)
    return account_out(identity_reject(account=account, actor=request.auth, reason=payload.reason))
