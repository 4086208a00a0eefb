"""An invoice as a document: the printable page's HTML, and the same as a PDF (WeasyPrint,
which shapes Persian with Pango and HarfBuzz in the vendored Vazirmatn font). The PDF reads
nothing but the portal's own static files: no network, no other file of the machine."""

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from django.contrib.staticfiles import finders
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone

from licensary.billing.models import Invoice
from licensary.notifications.mail import platform_name

STYLESHEET = "portal/invoice-print.css"


def _static_root() -> Path:
    found = finders.find(STYLESHEET)
    assert isinstance(found, str), f"{STYLESHEET} is missing from the portal's static files"
    return Path(found).resolve().parent


def is_static_file(url: str) -> bool:
    """Whether the PDF may read `url`: one of the portal's static files, nothing else."""
    parts = urlparse(url)
    path = Path(unquote(parts.path)).resolve()
    return parts.scheme == "file" and path.is_relative_to(_static_root())


def invoice_document_context(invoice: Invoice, *, pdf: bool) -> dict[str, Any]:
    return {
        "invoice": invoice,
        "lines": list(invoice.lines.all()),
        "brand": platform_name(),
        "time_zone": timezone.get_current_timezone_name(),
        "pdf": pdf,
    }


def invoice_pdf(request: HttpRequest, invoice: Invoice) -> bytes:
    """The invoice as the reader reads it (its language, calendar and time zone), as a PDF."""
    # Imported here, on first use: WeasyPrint (with Pango) takes about two seconds of CPU to
    # import, which every web process and command would pay at start-up otherwise.
    from weasyprint import CSS, HTML
    from weasyprint.text.fonts import FontConfiguration
    from weasyprint.urls import FatalURLFetchingError, URLFetcher

    class StaticFilesOnly(URLFetcher):
        def fetch(self, url: str, headers: Any = None) -> Any:
            if not is_static_file(url):
                raise FatalURLFetchingError(f"The invoice PDF reads no {url}")
            return super().fetch(url, headers)

    html = render_to_string(
        "portal/invoices/print.html", invoice_document_context(invoice, pdf=True), request
    )
    root = _static_root()
    fetcher = StaticFilesOnly(allowed_protocols=["file"], fail_on_errors=True)
    fonts = FontConfiguration()  # the stylesheet's @font-face (Vazirmatn) needs one
    stylesheet = CSS(
        filename=str(root / Path(STYLESHEET).name), url_fetcher=fetcher, font_config=fonts
    )
    document = HTML(string=html, base_url=str(root) + "/", url_fetcher=fetcher)
    pdf: bytes = document.write_pdf(stylesheets=[stylesheet], font_config=fonts)
    return pdf
