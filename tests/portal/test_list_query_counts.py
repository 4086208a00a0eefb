"""Query pins for the portal's list pages (issue 13 item 5, rule 11): a page takes as many
queries for many rows as for one (no N+1), and at most the number measured when it was pinned.
Each page is read by a signed-in browser, so a pin counts the session, the account, the terms
gate and the rendering as well as the page's own selector."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from licensary.accounts.identity import identity_submit
from licensary.accounts.models import User
from licensary.audit.services import Change, audit_record
from licensary.billing.receipts import receipt_upload
from licensary.billing.refunds import refund_request
from licensary.catalog.models import Product
from licensary.governance.bans import account_ban
from licensary.governance.claims import claim_open
from licensary.licenses.models import License
from tests.api.support import delivered_order, held_order, unpaid_order
from tests.helpers import make_account
from tests.portal.conftest import Browser

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
MORE = 24  # rows added after the first page is measured


@dataclass
class Shop:
    alice: User
    bob: User
    staff: User
    product: Product

    def __post_init__(self) -> None:
        self.made = 0
        self.license: License | None = None

    def next_ip(self) -> str:
        self.made += 1
        return f"93.184.{210 + self.made // 250}.{self.made % 250 + 1}"


def add_delivered(shop: Shop, n: int) -> None:
    delivered_order(shop.alice, shop.product, shop.next_ip(), shop.staff)


def add_unpaid(shop: Shop, n: int) -> None:
    unpaid_order(shop.alice, shop.product, shop.next_ip())


def add_history(shop: Shop, n: int) -> None:
    """The first call delivers alice's license; each later one adds an entry about it."""
    if shop.license is None:
        order = delivered_order(shop.alice, shop.product, shop.next_ip(), shop.staff)
        shop.license = License.objects.get(pk=order.license_id)
        return
    audit_record(
        Change(
            action="license.noted",
            object_type="license",
            object_id=str(shop.license.pk),
            actor=shop.staff,
            account_id=shop.alice.pk,
            after={"n": n},
            reason="a note for the test",
        )
    )


def add_held(shop: Shop, n: int) -> None:
    held_order(shop.bob, shop.product, shop.next_ip(), shop.staff)


def add_receipt(shop: Shop, n: int) -> None:
    invoice = unpaid_order(shop.alice, shop.product, shop.next_ip()).invoice
    file = SimpleUploadedFile(f"r{n}.png", PNG + n.to_bytes(4, "big"), content_type="image/png")
    receipt_upload(invoice=invoice, file=file, reference=f"TX-{n}", actor=shop.alice)


def add_identity(shop: Shop, n: int) -> None:
    account = make_account(f"applicant{n}@example.test")
    document = SimpleUploadedFile("id.png", PNG + n.to_bytes(4, "big"))
    identity_submit(account=account, file=document, actor=account)


def add_claim(shop: Shop, n: int) -> None:
    """alice claims a server whose license bob holds."""
    ip = shop.next_ip()
    delivered_order(shop.bob, shop.product, ip, shop.staff)
    claim_open(product=shop.product, ip=ip, actor=shop.alice)


def add_refund(shop: Shop, n: int) -> None:
    order = delivered_order(shop.alice, shop.product, shop.next_ip(), shop.staff)
    refund_request(invoice=order.invoice, reason="no longer needed", actor=shop.alice)


def add_ban(shop: Shop, n: int) -> None:
    account = make_account(f"banned{n}@example.test")
    account_ban(account=account, actor=shop.staff, reason="other", note=f"ban {n}")


@dataclass(frozen=True)
class PageCase:
    reader: str
    path: str
    add: Callable[[Shop, int], None]
    queries: int
    rows_of: str  # the text each row shows once (counted in the page to see the rows are there)


# Signed in: the session and its account, then the page (a staff page also asks whether the staff
# member has an authenticator, django-otp's one query). A customer's page also reads the
# terms gate; each list is one query for its page (related rows joined) plus its counts.
PAGES: dict[str, PageCase] = {
    "alice's dashboard": PageCase("alice", "/portal/", add_delivered, 9, ""),
    "alice's licenses": PageCase(
        "alice", "/portal/licenses/", add_delivered, 5, '<bdi class="ip">'
    ),
    "alice's orders": PageCase("alice", "/portal/orders/", add_delivered, 4, "/portal/licenses/"),
    "alice's invoices": PageCase(
        "alice", "/portal/invoices/", add_unpaid, 5, 'href="/portal/invoices/'
    ),
    # The license's page also reads its pending transfer (the transfer form or its state).
    "a license's history": PageCase(
        "alice", "/portal/licenses/{license}/", add_history, 6, "license.noted"
    ),
    "the review queue": PageCase("staff", "/portal/staff/review/", add_held, 4, "/retry/"),
    "pending receipts": PageCase("staff", "/portal/staff/receipts/", add_receipt, 4, "/confirm/"),
    "identity checks": PageCase("staff", "/portal/staff/identity/", add_identity, 5, "/verify/"),
    "claims": PageCase("staff", "/portal/staff/claims/", add_claim, 4, 'data-testid="claim-'),
    "refund requests": PageCase("staff", "/portal/staff/refunds/", add_refund, 4, "/approve/"),
    "bans": PageCase("staff", "/portal/staff/bans/", add_ban, 4, "banned"),
    # What waits (6 counts) and the four charts' aggregates: tests/portal/test_staff_dashboard.py.
    "the staff dashboard": PageCase("staff", "/portal/staff/", add_held, 14, ""),
}


@pytest.mark.parametrize("name", list(PAGES))
def test_a_portal_list_page_takes_as_many_queries_for_many_rows_as_for_one(
    name: str,
    alice: User,
    bob: User,
    staff: User,
    product: Product,
    django_assert_max_num_queries: Any,
) -> None:
    case = PAGES[name]
    shop = Shop(alice=alice, bob=bob, staff=staff, product=product)
    case.add(shop, 0)
    browser = Browser(getattr(shop, case.reader))
    path = case.path.format(license=shop.license.pk if shop.license else None)

    def page() -> tuple[int, int]:
        assert browser.get(path).status_code == 200  # the session's first use, uncounted
        with django_assert_max_num_queries(case.queries) as captured:
            response = browser.get(path)
        assert response.status_code == 200
        return len(captured.captured_queries), response.content.decode().count(case.rows_of)

    one_queries, one_rows = page()
    for n in range(1, MORE + 1):
        case.add(shop, n)
    many_queries, many_rows = page()

    if case.rows_of:
        assert many_rows >= one_rows + MORE, f"{name}: the rows are not on the page"
    assert many_queries == one_queries, (
        f"{name}: {one_queries} queries for one row, {many_queries} for {1 + MORE}"
    )
