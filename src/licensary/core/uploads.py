"""Uploaded files (RELIABILITY "Uploads"): judged by their first bytes, never by name or
declared type; stored under a random server-made name in a private folder of `DATA_DIR`
(mode 0700), outside any URL; served only as an attachment that runs nothing.

Receipts (billing), ticket attachments (support) and identity documents (accounts) all go
through here, each in its own folder with its own size limit.
"""

import hashlib
import os
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.http import FileResponse, HttpRequest

from licensary.core.errors import DomainError, NotFound, ValidationFailed

STORED_NAME = re.compile(r"\A[0-9a-f]{32}\.(png|jpg|webp|pdf)\Z")
SNIFF_BYTES = 12
# Room for the multipart framing and the form's other fields around the file itself.
FORM_ROOM = 64 * 1024


class FileTooLarge(DomainError):
    status = 413
    code = "file_too_large"
    title = "File too large"


class UnsupportedFileType(DomainError):
    status = 415
    code = "unsupported_file_type"
    title = "Unsupported file type"


@dataclass(frozen=True)
class FileKind:
    content_type: str
    extension: str


PNG = FileKind("image/png", "png")
JPEG = FileKind("image/jpeg", "jpg")
WEBP = FileKind("image/webp", "webp")
PDF = FileKind("application/pdf", "pdf")
ACCEPTED = (PNG, JPEG, WEBP, PDF)


def file_kind(head: bytes) -> FileKind | None:
    """What the file is, from its first bytes (its magic number); None if none we take."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head.startswith(b"%PDF-"):
        return PDF
    return None


def too_large(max_bytes: int, what: str = "A file") -> FileTooLarge:
    return FileTooLarge(
        f"{what} is at most {max_bytes // (1024 * 1024)} MB.", extra={"max_bytes": max_bytes}
    )


def unsupported(what: str = "A file") -> UnsupportedFileType:
    return UnsupportedFileType(
        f"{what} is a PNG, JPEG, WebP or PDF file.",
        extra={"accepted": [k.content_type for k in ACCEPTED]},
    )


def private_store(name: str) -> Path:
    """The folder `name` of the data folder, made private; read from settings at call time."""
    store = Path(settings.DATA_DIR) / name
    store.mkdir(mode=0o700, parents=True, exist_ok=True)
    store.chmod(0o700)  # mkdir's mode is masked by the umask and skipped if the folder exists
    return store


def stored_path(store: str, stored_name: str) -> Path:
    # The name is ours, but a row edited by hand must still never point outside the store.
    if not STORED_NAME.match(stored_name):
        raise NotFound("This file is missing.")
    return private_store(store) / stored_name


def clean_name(name: str | None) -> str:
    """The user's file name, kept as text only: its last part, printable, at most 200."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(ch for ch in base if ch.isprintable())[:200]


def write_new_file(path: Path, chunks: Iterable[bytes], *, max_bytes: int) -> tuple[int, str]:
    """Write `chunks` to `path`, which must not exist yet; returns (size, sha256)."""
    digest = hashlib.sha256()
    size = 0
    # O_EXCL: never overwrite; O_NOFOLLOW: never write through a planted link.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise too_large(max_bytes)
                digest.update(chunk)
                out.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return size, digest.hexdigest()


@dataclass(frozen=True)
class StoredFile:
    """A checked upload, written to its store: what the owning row keeps."""

    path: Path
    stored_name: str
    original_name: str
    kind: FileKind
    size: int
    sha256: str


def store_upload(file: UploadedFile, *, store: str, max_bytes: int, what: str) -> StoredFile:
    """Check `file` (not empty, within `max_bytes`, one of the kinds we take by its first
    bytes) and write it under a new random name in `store`. The caller deletes `path` if the
    row that should hold it is not written."""
    if not file.size:
        raise ValidationFailed("The file is empty.", code="empty_file")
    if file.size > max_bytes:
        raise too_large(max_bytes, what)
    file.seek(0)
    kind = file_kind(file.read(SNIFF_BYTES))
    if kind is None:
        raise unsupported(what)
    file.seek(0)
    stored_name = f"{secrets.token_hex(16)}.{kind.extension}"
    path = private_store(store) / stored_name
    size, sha256 = write_new_file(path, file.chunks(), max_bytes=max_bytes)
    if size == 0:
        path.unlink(missing_ok=True)
        raise ValidationFailed("The file is empty.", code="empty_file")
    return StoredFile(path, stored_name, clean_name(file.name), kind, size, sha256)


def file_response(path: Path, *, content_type: str, filename: str) -> FileResponse:
    """A stored file as an attachment that, opened in a browser anyway, runs and loads
    nothing and is kept by no cache."""
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise NotFound("This file is missing.") from None
    response = FileResponse(
        handle, as_attachment=True, content_type=content_type, filename=filename
    )
    response["Cache-Control"] = "private, no-store"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


class _SizeLimit(FileUploadHandler):
    """Counts each file's bytes as they stream in and stops past the limit, before the rest is
    read or spooled to disk (for bodies whose Content-Length did not say so up front)."""

    max_bytes = 0
    what = "A file"

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > self.max_bytes:
            raise too_large(self.max_bytes, self.what)
        return raw_data  # on to Django's own handlers

    def file_complete(self, file_size: int) -> None:
        return None


def limit_upload(
    request: HttpRequest, *, max_bytes: int, files: int = 1, what: str = "A file"
) -> None:
    """Refuse an oversized body before reading it, and cap what is read when no size is said
    (`files` files of at most `max_bytes` each)."""
    max_request = max_bytes * files + FORM_ROOM
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > max_request:
        raise too_large(max_bytes, what)
    handler = _SizeLimit(request)
    handler.max_bytes, handler.what = max_bytes, what
    request.upload_handlers.insert(0, handler)
    if "Idempotency-Key" in request.headers:
        # `@idempotent` hashes the raw body, and `request.body` is capped at
        # DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB, meant for form fields, not files): read it here
        # within the limit instead, the way `HttpRequest.body` itself keeps it.
        raw = request.read(max_request + 1)
        if len(raw) > max_request:
            raise too_large(max_bytes, what)
        request._body = raw
        request._stream = BytesIO(raw)
