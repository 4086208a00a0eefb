"""Issue 12's accessibility basics, checked on every page each kind of account opens without
an id (and on a license's, an invoice's and a customer's page): every form control is labelled,
every image has a text, every button says what it does, the page has its language, one main
heading and a skip link, and nothing takes the keyboard out of the page's order (no positive
tabindex). It reads the HTML the browser gets, as axe-core's rules for these do."""

from html.parser import HTMLParser
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from licensary.accounts.models import User
from licensary.catalog.models import Product
from licensary.orders.models import Order
from tests.api.support import delivered_order
from tests.helpers import PUBLIC_IP, give_credit
from tests.portal.conftest import Browser

pytestmark = pytest.mark.django_db

AUDITED: list[str] = []  # the pages the last audit read (the tests check there were enough)
SKIP_CONTROLS = {"hidden", "submit", "button", "reset", "image"}


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.controls: list[dict[str, str]] = []
        self.label_for: set[str] = set()
        self.label_depth = 0
        self.wrapped: set[int] = set()  # controls inside a <label>
        self.problems: list[str] = []
        self.lang = ""
        self.h1 = 0
        self.skip_link = False
        self.button: dict[str, Any] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "html":
            self.lang = a.get("lang", "")
        if tag == "h1":
            self.h1 += 1
        if tag == "a" and "skip-link" in a.get("class", ""):
            self.skip_link = True
        if tag == "label":
            self.label_depth += 1
            if a.get("for"):
                self.label_for.add(a["for"])
        if tag in ("input", "select", "textarea") and a.get("type", "") not in SKIP_CONTROLS:
            if self.label_depth:
                self.wrapped.add(len(self.controls))
            self.controls.append({"tag": tag, **a})
        if tag == "img" and "alt" not in a:
            self.problems.append(f"an image without alt: {a.get('src')}")
        if (
            tag == "svg"
            and a.get("role") == "img"
            and not (a.get("aria-label") or a.get("aria-labelledby"))
        ):
            self.problems.append("an svg image without a name")
        if a.get("tabindex", "0").lstrip("-").isdigit() and int(a.get("tabindex", "0")) > 0:
            self.problems.append(f"a positive tabindex on <{tag}>")
        if tag == "button":
            self.button = {"text": "", "label": a.get("aria-label", "") or a.get("title", "")}

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.label_depth = max(0, self.label_depth - 1)
        if tag == "button" and self.button is not None:
            if not (self.button["text"].strip() or self.button["label"]):
                self.problems.append("a button that says nothing")
            self.button = None

    def handle_data(self, data: str) -> None:
        if self.button is not None:
            self.button["text"] += data

    def findings(self) -> list[str]:
        found = list(self.problems)
        for n, control in enumerate(self.controls):
            named = (
                n in self.wrapped
                or control.get("id", "\0") in self.label_for
                or control.get("aria-label")
                or control.get("aria-labelledby")
                or control.get("title")
            )
            if not named:
                found.append(f"an unlabelled <{control['tag']} name={control.get('name')!r}>")
        if not self.lang:
            found.append("no lang on <html>")
        if self.h1 != 1:
            found.append(f"{self.h1} <h1> headings")
        if not self.skip_link:
            found.append("no skip link")
        return found


def plain_paths(module: str, prefix: str) -> list[str]:
    """The pattern's paths that take no id (the list pages, the forms)."""
    resolver = get_resolver()
    found: list[str] = []
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver) and str(entry.pattern) == "portal/":
            for area in entry.url_patterns:
                if isinstance(area, URLResolver) and area.urlconf_name.__name__ == module:
                    base = "/portal/" + str(area.pattern)
                    for p in area.url_patterns:
                        if isinstance(p, URLPattern) and "<" not in str(p.pattern):
                            found.append(base + str(p.pattern))
    return [path for path in found if path.startswith(prefix)]


def audit(browser: Browser, paths: list[str]) -> dict[str, list[str]]:
    """What is wrong on each page (none: {}); every path must be a page the reader opens."""
    report: dict[str, list[str]] = {}
    AUDITED.clear()
    for path in paths:
        answer = browser.get(path, follow=True)
        if "text/html" not in answer.get("Content-Type", "") or answer.status_code == 405:
            continue  # a download (the invoice's PDF), or an action that takes only a POST
        if answer.status_code == 403:
            continue  # another kind of account's page (the staff's code step for alice)
        assert answer.status_code == 200, (path, answer.status_code)
        AUDITED.append(path)
        parser = Page()
        parser.feed(answer.content.decode())
        if parser.findings():
            report[path] = parser.findings()
    return report


def test_every_customer_page_is_labelled_and_keyboard_ordered(
    alice: User, product: Product, staff: User
) -> None:
    order: Order = delivered_order(alice, product, PUBLIC_IP, staff)
    paths = plain_paths("licensary.portal.customer_urls", "/portal/")
    paths += [f"/portal/licenses/{order.license_id}/", f"/portal/invoices/{order.invoice_id}/"]
    assert audit(Browser(alice), paths) == {}
    assert len(AUDITED) >= 15, AUDITED


def test_every_agent_panel_page_is_labelled_and_keyboard_ordered(
    carol: User, dave: User, staff: User
) -> None:
    give_credit(carol, 1000, staff)
    paths = plain_paths("licensary.portal.agent_urls", "/portal/agent/")
    paths.append(f"/portal/agent/customers/{dave.pk}/")
    assert audit(Browser(carol), paths) == {}
    assert len(AUDITED) >= 7, AUDITED


def test_every_staff_console_page_is_labelled_and_keyboard_ordered(staff: User) -> None:
    paths = plain_paths("licensary.portal.staff_urls", "/portal/staff/")
    assert audit(Browser(staff), paths) == {}
    assert len(AUDITED) >= 10, AUDITED


def test_the_check_finds_an_unlabelled_control_and_a_nameless_button() -> None:
    parser = Page()
    parser.feed(
        '<html lang="en"><a class="skip-link" href="#m">Skip</a><h1>T</h1>'
        '<input name="ip"><button type="submit"></button><img src="x.png"></html>'
    )
    assert parser.findings() == [
        "a button that says nothing",
        "an image without alt: x.png",
        "an unlabelled <input name='ip'>",
    ]
