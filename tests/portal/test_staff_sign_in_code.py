"""ASVS 6.3.2: a staff member with an authenticator (a confirmed TOTP device) gives its current
code before the staff console opens, as the admin asks; signing in at the portal is no way
round it. Without a device, the console opens after the password, as before."""

from typing import Any

import pytest
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from licensary.accounts.models import User
from licensary.accounts.services import account_create
from tests.helpers import csrf_token_for

pytestmark = pytest.mark.django_db

PASSWORD = "a long enough staff password"


@pytest.fixture
def ops() -> User:
    return account_create(actor=None, kind="staff", email="ops@staff.test", password=PASSWORD)


def signed_in(email: str) -> Client:
    browser = Client(enforce_csrf_checks=True)
    answer = browser.post(
        "/portal/sign-in/",
        {"username": email, "password": PASSWORD, "csrfmiddlewaretoken": csrf_token_for(browser)},
    )
    assert answer.status_code == 302, answer.content[:300]
    return browser


def current_code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, device.step, device.t0, device.digits):06d}"


def send_code(browser: Client, code: str, next_path: str = "/portal/staff/bans/") -> Any:
    return browser.post(
        "/portal/sign-in/code/",
        {"code": code, "next": next_path, "csrfmiddlewaretoken": csrf_token_for(browser)},
    )


def test_staff_without_an_authenticator_open_the_console_after_the_password(ops: User) -> None:
    assert signed_in(ops.email).get("/portal/staff/").status_code == 200


def test_staff_with_an_authenticator_are_asked_for_the_code_before_any_console_page(
    ops: User,
) -> None:
    TOTPDevice.objects.create(user=ops, name="phone", confirmed=True)
    browser = signed_in(ops.email)

    for path in ("/portal/staff/", "/portal/staff/bans/", "/portal/staff/review/"):
        answer = browser.get(path)
        assert answer.status_code == 302, path
        assert answer["Location"].startswith("/portal/sign-in/code/?next="), path
    asked = browser.get("/portal/sign-in/code/?next=/portal/staff/")
    assert asked.status_code == 200
    assert 'autocomplete="one-time-code"' in asked.content.decode()


def test_the_current_code_opens_the_console_and_goes_on_to_the_page_asked_for(
    ops: User,
) -> None:
    device = TOTPDevice.objects.create(user=ops, name="phone", confirmed=True)
    browser = signed_in(ops.email)

    answer = send_code(browser, current_code(device))

    assert (answer.status_code, answer["Location"]) == (302, "/portal/staff/bans/")
    assert browser.get("/portal/staff/").status_code == 200


def test_a_wrong_code_is_refused_next_to_its_field_and_the_console_stays_shut(ops: User) -> None:
    device = TOTPDevice.objects.create(user=ops, name="phone", confirmed=True)
    wrong = f"{(int(current_code(device)) + 1) % 1_000_000:06d}"
    browser = signed_in(ops.email)

    answer = send_code(browser, wrong)

    assert answer.status_code == 200
    assert "That code is not right" in answer.content.decode()
    assert browser.get("/portal/staff/").status_code == 302
    device.refresh_from_db()
    assert device.throttling_failure_count == 1  # django-otp slows the next guesses


def test_the_code_step_sends_nowhere_but_this_site(ops: User) -> None:
    device = TOTPDevice.objects.create(user=ops, name="phone", confirmed=True)
    browser = signed_in(ops.email)

    answer = send_code(browser, current_code(device), next_path="https://evil.example/")

    assert (answer.status_code, answer["Location"]) == (302, "/portal/staff/")


def test_the_code_step_needs_its_csrf_token(ops: User) -> None:
    TOTPDevice.objects.create(user=ops, name="phone", confirmed=True)
    browser = signed_in(ops.email)

    assert browser.post("/portal/sign-in/code/", {"code": "123456"}).status_code == 403
