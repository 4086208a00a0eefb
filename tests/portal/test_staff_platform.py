"""The staff console's terms and suppliers desks: staff publish a version of the terms and
see who accepted each; they read each supplier's health as the suppliers app records it and
edit its connection through the supplier service, the password written and never shown."""

from typing import Any

import pytest

from licensary.accounts.models import TermsVersion, User
from licensary.accounts.services import terms_accept, terms_publish
from licensary.audit.models import AuditEntry
from licensary.suppliers.models import SupplierAccount
from licensary.suppliers.operations import operation_finish, operation_start
from licensary.suppliers.registry import supplier_alert
from licensary.suppliers.services import supplier_create
from tests.portal.conftest import Browser

pytestmark = pytest.mark.django_db

SECRET = "s3cret-partner-pass"


@pytest.fixture
def staff_browser(staff: User) -> Browser:
    return Browser(staff)


@pytest.fixture
def north(staff: User) -> SupplierAccount:
    return supplier_create(
        actor=staff,
        values={
            "name": "north",
            "base_url": "http://127.0.0.1:8499",
            "username": "partner",
            "password": SECRET,
        },
    )


def test_staff_publish_a_version_and_it_binds_at_once(staff_browser: Browser, alice: User) -> None:
    before = TermsVersion.objects.count()
    answer = staff_browser.post("/portal/staff/terms/publish/", {"text": "Be kind.\nPay on time."})

    assert (answer.status_code, answer["Location"]) == (302, "/portal/staff/terms/")
    latest = TermsVersion.objects.order_by("-version").first()
    assert latest is not None and TermsVersion.objects.count() == before + 1
    assert latest.text == "Be kind.\nPay on time."
    page = staff_browser.get("/portal/staff/terms/").content.decode()
    assert f"Version {latest.version} is published and binding now" in page
    assert f"Version {latest.version} binds;" in page
    assert AuditEntry.objects.filter(action="terms.published").count() >= 1


def test_publishing_empty_terms_is_refused_and_publishes_nothing(staff_browser: Browser) -> None:
    before = TermsVersion.objects.count()
    answer = staff_browser.post("/portal/staff/terms/publish/", {"text": ""})
    assert answer.status_code == 422
    assert 'id="id_text_error"' in answer.content.decode()
    assert TermsVersion.objects.count() == before


def test_staff_see_who_accepted_each_version(
    staff_browser: Browser, staff: User, alice: User, bob: User
) -> None:
    terms = terms_publish(text="Version for the test.", actor=staff)
    terms_accept(user=alice, version=terms.version, ip="203.0.113.9")

    listing = staff_browser.get("/portal/staff/terms/").content.decode()
    row = listing[listing.index(f'data-testid="terms-{terms.version}"') :].split("</tr>")[0]
    assert ">1 account</a>" in row
    page = staff_browser.get(f"/portal/staff/terms/{terms.version}/").content.decode()
    table = page[page.index('data-testid="acceptances"') :]
    assert "alice" in table and "203.0.113.9" in table and bob.email not in table
    assert staff_browser.get("/portal/staff/terms/999/").status_code == 404


def test_a_supplier_shows_its_switch_alert_and_latest_failure_but_never_its_password(
    staff_browser: Browser, north: SupplierAccount
) -> None:
    supplier_alert("north", "connection refused")
    failed = operation_start(supplier="north", operation="provision", ip="93.184.216.34")
    operation_finish(failed, ok=False, error="HTTP 503 from partner")
    done = operation_start(supplier="north", operation="provision", ip="93.184.216.35")
    operation_finish(done, ok=True, reference="L-1")

    page = staff_browser.get("/portal/staff/suppliers/").content.decode()
    card = page[page.index('data-testid="supplier-north"') :]
    assert "connection refused" in card.split('data-testid="supplier-alert"')[1][:200]
    assert "HTTP 503 from partner" in card.split('data-testid="supplier-error"')[1][:200]
    assert "1 succeeded, 1 failed, 0 pending" in card
    assert 'data-testid="supplier-password">stored (never shown)<' in card
    assert SECRET not in page and north.password_sealed not in page


def test_editing_a_supplier_goes_through_its_service_and_keeps_the_password_unless_given(
    staff_browser: Browser, north: SupplierAccount
) -> None:
    form = {
        "base_url": "https://partner.example.test/api",
        "username": "partner",
        "password": "",
        "timeout_seconds": "10",
        "active": "on",
    }
    kept = staff_browser.post("/portal/staff/suppliers/north/", form)
    north.refresh_from_db()
    assert kept.status_code == 302
    assert (north.base_url, north.timeout_seconds, north.password) == (
        "https://partner.example.test/api",
        10.0,
        SECRET,
    )
    staff_browser.post("/portal/staff/suppliers/north/", {**form, "password": "new-pass"})
    north.refresh_from_db()
    assert north.password == "new-pass"
    updates = AuditEntry.objects.filter(action="supplier.updated").order_by("pk")
    assert updates.count() == 2
    assert "new-pass" not in str([(e.before, e.after) for e in updates])


@pytest.mark.parametrize(
    "change",
    [
        {"base_url": "ftp://partner.example.test"},
        {"timeout_seconds": "500"},
        {"username": "bad\u0007name"},
    ],
)
def test_a_bad_supplier_value_is_refused_and_changes_nothing(
    staff_browser: Browser, north: SupplierAccount, change: dict[str, str]
) -> None:
    form = {"base_url": north.base_url, "username": "partner", "timeout_seconds": "15"}
    answer = staff_browser.post("/portal/staff/suppliers/north/", {**form, **change})
    assert answer.status_code == 422
    after = SupplierAccount.objects.get(pk=north.pk)
    assert (after.base_url, after.username, after.timeout_seconds, after.active) == (
        north.base_url,
        "partner",
        15.0,
        True,
    )


@pytest.mark.parametrize("who", ["alice", "carol", "dave"])
def test_only_staff_reach_the_terms_and_suppliers(
    who: str, request: Any, north: SupplierAccount
) -> None:
    browser = Browser(request.getfixturevalue(who))
    before = TermsVersion.objects.count()
    codes = [
        browser.get("/portal/staff/terms/").status_code,
        browser.get("/portal/staff/suppliers/").status_code,
        browser.post("/portal/staff/terms/publish/", {"text": "mine"}).status_code,
        browser.post("/portal/staff/suppliers/north/", {"base_url": "https://x.test"}).status_code,
    ]
    assert codes == [403] * 4
    assert TermsVersion.objects.count() == before
    assert SupplierAccount.objects.get(pk=north.pk).base_url == "http://127.0.0.1:8499"
