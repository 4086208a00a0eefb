"""`/api/docs` works without internet: the page loads Swagger UI from the static files that
django-ninja ships, served by WhiteNoise, and names no other host."""

import re
from typing import Any
from urllib.parse import urlsplit

from django.test import Client

REFERENCE = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)


def docs_page() -> str:
    response = Client().get("/api/docs")
    assert response.status_code == 200
    return response.content.decode()


def test_the_docs_page_references_no_other_host(db: Any) -> None:
    page = docs_page()
    references = REFERENCE.findall(page)

    assert references, "the page loads its script and styles"
    assert [ref for ref in references if urlsplit(ref).netloc or urlsplit(ref).scheme] == []
    assert "cdn." not in page and "//" not in page.replace("://", "")


def test_every_file_the_docs_page_loads_is_served(db: Any) -> None:
    references = REFERENCE.findall(docs_page())
    client = Client()

    for ref in references:
        response = client.get(ref)
        assert response.status_code == 200, ref
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert body, ref
    scripts = [ref for ref in references if ref.endswith(".js")]
    assert any("swagger-ui-bundle" in ref for ref in scripts), scripts


def test_the_docs_page_reads_the_openapi_document_of_this_server(db: Any) -> None:
    page = docs_page()

    assert '"url": "/api/openapi.json"' in page
    assert Client().get("/api/openapi.json").status_code == 200
