"""Lists: `{items, next_cursor}`, every one of them (the review queue, histories and suppliers
included); walking every page yields every visible object exactly once, in the list's own
order; the number of queries a page takes does not grow with the number of rows (no N+1)."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from licensary.accounts.models import User
from licensary.accounts.services import terms_accept, terms_publish
from licensary.audit.models import AuditEntry
from licensary.billing.models import Invoice
from licensary.catalog.models import Product
from licensary.catalog.services import product_create
from licensary.licenses.models import License
from licensary.licenses.services import license_change_ip, license_mark_unresolvable
from licensary.orders.models import Order
from licensary.orders.services import hold_order
from tests.api.support import delivered_order, held_order, paid_order, unpaid_order
from tests.helpers import Api, api_for, give_credit, make_account

MAX_QUERIES_PER_PAGE = 6  # auth, the page, at most a prefetch, and the token's last use


def ip(n: int) -> str:
    return f"93.184.{200 + n // 250}.{n % 250 + 1}"


class Shop:
    """Orders, invoices, licenses, products and accounts of several owners, added in rounds."""

    def __init__(
        self, *, alice: User, bob: User, carol: User, dave: User, staff: User, product: Product
    ) -> None:
        self.alice, self.bob, self.carol, self.dave, self.staff = alice, bob, carol, dave, staff
        self.product = product
        self.made = 0
        terms = terms_publish(text="Terms.", actor=staff)
        for user in (alice, bob, carol, dave):
            terms_accept(user=user, version=terms.version, ip="203.0.113.1")

    def add(self, rounds: int) -> None:
        for _ in range(rounds):
            n = self.made
            self.made += 1
            delivered_order(self.alice, self.product, ip(3 * n), self.staff)
            unpaid_order(self.alice, self.product, ip(3 * n + 1))
            unpaid_order(self.bob, self.product, ip(3 * n + 2))
            order = unpaid_order(self.dave, self.product, ip(1000 + n), actor=self.carol)
            assert order.created_by_id == self.carol.pk
            customer = make_account(f"customer{n}@example.test", agent=self.carol)
            give_credit(customer, 100 + n, self.staff)
            product_create(
                actor=self.staff,
                slug=f"extra-{n}",
                name=f"Extra {n}",
                kind="own",
                price=100 + n,
                currency="USD",
                active=n % 2 == 0,
            )


@pytest.fixture
def shop(alice: User, bob: User, carol: User, dave: User, staff: User, product: Product) -> Shop:
    return Shop(alice=alice, bob=bob, carol=carol, dave=dave, staff=staff, product=product)


def ids(qs: Any) -> set[str]:
    return {str(pk) for pk in qs.values_list("pk", flat=True)}


LISTS: dict[str, tuple[str, str, Callable[[Shop], set[str]]]] = {
    "alice's orders": ("alice", "/orders", lambda s: ids(Order.objects.filter(account=s.alice))),
    "alice's unpaid orders": (
        "alice",
        "/orders?status=awaiting_payment",
        lambda s: ids(Order.objects.filter(account=s.alice, status="awaiting_payment")),
    ),
    "alice's invoices": (
        "alice",
        "/invoices",
        lambda s: ids(Invoice.objects.filter(account=s.alice)),
    ),
    "alice's licenses": (
        "alice",
        "/licenses",
        lambda s: ids(License.objects.filter(account=s.alice)),
    ),
    "alice's active licenses": (
        "alice",
        "/licenses?status=active",
        lambda s: ids(License.objects.filter(account=s.alice)),
    ),
    "products on sale": ("alice", "/products", lambda s: ids(Product.objects.filter(active=True))),
    "every product": ("staff", "/products", lambda s: ids(Product.objects.all())),
    "carol's and her customers' orders": (
        "carol",
        "/orders",
        lambda s: ids(Order.objects.filter(account__in=[s.carol, s.dave])),
    ),
    "carol's and her customers' invoices": (
        "carol",
        "/invoices",
        lambda s: ids(Invoice.objects.filter(account__in=[s.carol, s.dave])),
    ),
    "carol's customers": ("carol", "/accounts", lambda s: ids(User.objects.filter(agent=s.carol))),
    "every account": ("staff", "/accounts", lambda s: ids(User.objects.all())),
    "every order": ("staff", "/orders", lambda s: ids(Order.objects.all())),
    "every invoice": ("staff", "/invoices", lambda s: ids(Invoice.objects.all())),
    "every license": ("staff", "/licenses", lambda s: ids(License.objects.all())),
}


def walk(api: Api, path: str, limit: int) -> list[str]:
    seen: list[str] = []
    cursor = None
    for _ in range(1000):
        sep = "&" if "?" in path else "?"
        url = f"{path}{sep}limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        page = api.get(url)
        assert page.status_code == 200, page.json_body
        assert set(page.json_body) == {"items", "next_cursor"}
        items = [item["id"] for item in page.json_body["items"]]
        assert len(items) <= limit
        seen += items
        cursor = page.json_body["next_cursor"]
        if cursor is None:
            return seen
        assert len(items) == limit, "only a full page has a next page"
    raise AssertionError("the walk never ended")


@pytest.mark.parametrize("name", sorted(LISTS))
@pytest.mark.parametrize("limit", [1, 3, 200])
def test_walking_every_page_yields_every_visible_object_once(
    name: str, limit: int, shop: Shop
) -> None:
    actor, path, expected = LISTS[name]
    shop.add(4)
    api = api_for(getattr(shop, actor))

    seen = walk(api, path, limit)

    assert len(seen) == len(set(seen)), f"an object was listed twice: {seen}"
    assert set(seen) == expected(shop)
    assert seen == sorted(seen, key=int, reverse=True), "newest first"


def test_a_page_walk_is_not_disturbed_by_rows_added_meanwhile(shop: Shop) -> None:
    shop.add(3)
    api = api_for(shop.alice)
    first = api.get("/orders?limit=2").json_body
    shop.add(1)

    rest = walk_from(api, "/orders", first["next_cursor"])

    listed = [o["id"] for o in first["items"]] + rest
    assert len(listed) == len(set(listed))
    assert set(listed) == ids(Order.objects.filter(account=shop.alice, pk__lte=int(listed[0])))


def walk_from(api: Api, path: str, cursor: str) -> list[str]:
    seen: list[str] = []
    while cursor:
        page = api.get(f"{path}?limit=2&cursor={cursor}").json_body
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
    return seen


def test_the_account_list_shows_each_account_s_own_credit_and_terms(shop: Shop) -> None:
    shop.add(3)
    staff_api = api_for(shop.staff)

    listed = {
        a["id"]: (a["credit"], a["terms_accepted"])
        for a in staff_api.get("/accounts?limit=200").json_body["items"]
    }

    for account_id, shown in listed.items():
        one = staff_api.get(f"/accounts/{account_id}").json_body
        assert shown == (one["credit"], one["terms_accepted"]), account_id
    assert listed[str(shop.alice.pk)] == ({"amount": 0, "currency": "USD"}, 1)
    newcomer = User.objects.get(email="customer2@example.test")
    assert listed[str(newcomer.pk)] == ({"amount": 102, "currency": "USD"}, None)


QUERY_LISTS = ["/orders", "/invoices", "/licenses", "/products", "/accounts", "/review-queue"]


@pytest.mark.parametrize("path", QUERY_LISTS)
def test_the_queries_of_a_list_do_not_grow_with_its_rows(
    path: str, shop: Shop, django_assert_max_num_queries: Any
) -> None:
    api = api_for(shop.staff)
    api.get("/account")  # the token's first use is recorded once; not part of the count

    def page_queries(rounds: int) -> tuple[int, int]:
        shop.add(rounds)
        for _ in range(rounds):
            # On the IP of alice's first license: when its delivery job runs, it stays held.
            held_order(shop.bob, shop.product, ip(0), shop.staff)
        with django_assert_max_num_queries(MAX_QUERIES_PER_PAGE) as captured:
            response = api.get(path)
        assert response.status_code == 200, response.json_body
        body = response.json_body
        rows = len(body["items"]) if isinstance(body, dict) else len(body)
        return len(captured.captured_queries), rows

    few_queries, few_rows = page_queries(1)
    many_queries, many_rows = page_queries(6)

    assert many_rows > few_rows
    assert many_queries == few_queries, (
        f"{path}: {few_queries} queries for {few_rows} rows, {many_queries} for {many_rows}"
    )


def test_the_queries_of_the_supplier_list_do_not_grow_with_its_rows(
    staff: User, django_assert_max_num_queries: Any
) -> None:
    api = api_for(staff)
    api.get("/account")
    for n in range(3):
        api.post(
            "/suppliers",
            {"name": f"s{n}", "base_url": "https://s.test", "username": "u", "password": "p"},
        )
    with CaptureQueriesContext(connection) as few:
        assert len(api.get("/suppliers").json_body["items"]) == 3
    for n in range(3, 9):
        api.post(
            "/suppliers",
            {"name": f"s{n}", "base_url": "https://s.test", "username": "u", "password": "p"},
        )
    with django_assert_max_num_queries(MAX_QUERIES_PER_PAGE) as many:
        assert len(api.get("/suppliers").json_body["items"]) == 9
    assert len(many.captured_queries) == len(few.captured_queries)


@pytest.mark.parametrize("path", ["/invoices", "/orders", "/refunds", "/licenses", "/receipts"])
def test_an_unknown_status_filter_is_refused_on_every_list(alice, path):
    from tests.helpers import api_for

    answer = api_for(alice).get(f"{path}?status=bogus")
    assert (answer.status_code, answer.json_body["code"]) == (422, "validation_error")


def hold_at(order: Order, when: Any) -> None:
    with time_machine.travel(when, tick=False), transaction.atomic():
        hold_order(
            order_id=order.pk,
            reason=Order.HoldReason.SUPPLIER_UNAVAILABLE,
            detail="held for the test",
            actor=None,
        )


@pytest.mark.parametrize("limit", [1, 2, 50])
def test_the_review_queue_pages_oldest_held_first(
    alice: User, bob: User, product: Product, staff: User, limit: int
) -> None:
    # Placed first, held last: the queue's order is the hold's age, not the order's id; two
    # holds of the same instant are told apart by id, so a page boundary between them holds.
    orders = [paid_order(alice if n % 2 else bob, product, ip(n), staff) for n in range(5)]
    start = timezone.now()
    for n, order in enumerate(reversed(orders)):
        hold_at(order, start + timedelta(hours=n // 2))
    expected = [str(o.pk) for o in Order.objects.order_by("held_at", "pk")]
    assert expected != sorted(expected, key=int)

    seen = walk(api_for(staff), "/review-queue", limit)

    assert seen == expected


def test_a_license_history_pages_oldest_first(alice: User, product: Product, staff: User) -> None:
    lic = License.objects.get(pk=delivered_order(alice, product, ip(0), staff).license_id)
    for n in range(1, 4):
        lic = license_change_ip(license=lic, ip=ip(n), actor=alice)
    license_mark_unresolvable(license=lic, actor=staff, note="cannot be fixed")
    entries = AuditEntry.objects.filter(object_type="license", object_id=str(lic.pk))
    expected = [str(pk) for pk in entries.order_by("pk").values_list("pk", flat=True)]
    assert len(expected) >= 5

    for limit in (1, 2, 200):
        assert walk(api_for(alice), f"/licenses/{lic.pk}/history", limit) == expected


def test_the_supplier_list_pages_by_name(staff: User) -> None:
    api = api_for(staff)
    names = ["delta", "alpha", "echo", "charlie", "bravo"]
    for name in names:
        made = api.post(
            "/suppliers",
            {"name": name, "base_url": "https://s.test", "username": "u", "password": "p"},
        )
        assert made.status_code == 201, made.json_body

    for limit in (1, 2, 200):
        seen: list[str] = []
        cursor = None
        while True:
            query = f"?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
            page = api.get("/suppliers" + query).json_body
            assert set(page) == {"items", "next_cursor"}
            seen += [item["name"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == sorted(names)


@pytest.mark.parametrize("path", ["/review-queue", "/licenses/{license}/history", "/suppliers"])
@pytest.mark.parametrize("cursor", ["MA", "LTU", "WzEsMV0", "WzFd", "not-a-cursor"])
def test_a_cursor_this_api_never_gave_out_is_refused_on_the_new_lists(
    alice: User, product: Product, staff: User, path: str, cursor: str
) -> None:
    lic = delivered_order(alice, product, ip(0), staff).license_id
    answer = api_for(staff).get(path.replace("{license}", str(lic)) + f"?cursor={cursor}")

    assert (answer.status_code, answer.json_body["code"]) == (422, "validation_error")
