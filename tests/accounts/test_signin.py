"""Staff sign-in: throttled per account and per address, TOTP once a device is set up."""

import pytest
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from licensary.accounts.models import User
from licensary.audit.models import AuditEntry

PASSWORD = "correct horse battery staple"


@pytest.fixture
def admin_user(db) -> User:
    return User.objects.create_superuser(email="root@staff.test", password=PASSWORD)


def sign_in(email: str, password: str, ip: str = "192.0.2.10", **extra: str):
    return Client(REMOTE_ADDR=ip).post(
        "/admin/login/?next=/admin/", {"username": email, "password": password, **extra}
    )


def test_staff_signs_in_with_email_and_password(admin_user):
    answer = sign_in("root@staff.test", PASSWORD)
    assert (answer.status_code, answer["Location"]) == (302, "/admin/")
    assert (
        AuditEntry.objects.filter(action="account.signed_in", object_id=str(admin_user.pk)).count()
        == 1
    )


def test_five_failures_lock_the_account_even_from_other_addresses(admin_user):
    codes = [sign_in("root@staff.test", "wrong", ip=f"192.0.2.{n}").status_code for n in range(5)]
    assert codes == [200, 200, 200, 200, 429]  # the fifth failure locks
    locked = sign_in("root@staff.test", PASSWORD, ip="192.0.2.99")
    assert locked.status_code == 429
    assert AuditEntry.objects.filter(action="account.sign_in_failed").count() >= 5


def test_five_failures_lock_the_address_for_every_account(admin_user):
    User.objects.create_superuser(email="other@staff.test", password=PASSWORD)
    for n in range(5):
        sign_in(f"nobody{n}@staff.test", "wrong", ip="192.0.2.50")
    assert sign_in("other@staff.test", PASSWORD, ip="192.0.2.50").status_code == 429
    assert sign_in("other@staff.test", PASSWORD, ip="192.0.2.51").status_code == 302


def test_spoofed_forwarded_address_does_not_escape_the_lockout(admin_user):
    for n in range(5):
        Client(REMOTE_ADDR="192.0.2.60").post(
            "/admin/login/",
            {"username": f"x{n}@staff.test", "password": "wrong"},
            HTTP_X_FORWARDED_FOR=f"198.51.100.{n}",
        )
    answer = Client(REMOTE_ADDR="192.0.2.60").post(
        "/admin/login/",
        {"username": "root@staff.test", "password": PASSWORD},
        HTTP_X_FORWARDED_FOR="198.51.100.200",
    )
    assert answer.status_code == 429


def test_staff_with_a_totp_device_must_give_the_current_code(admin_user):
    device = TOTPDevice.objects.create(user=admin_user, name="phone", confirmed=True)

    without = sign_in("root@staff.test", PASSWORD)
    assert without.status_code == 200  # the form again, asking for the token
    code = f"{totp(device.bin_key, device.step, device.t0, device.digits):06d}"
    right = sign_in(
        "root@staff.test",
        PASSWORD,
        otp_token=code,
        otp_device=device.persistent_id,
        ip="192.0.2.77",
    )
    assert (right.status_code, right["Location"]) == (302, "/admin/")


def test_a_wrong_totp_code_is_refused(admin_user):
    device = TOTPDevice.objects.create(user=admin_user, name="phone", confirmed=True)
    wrong = sign_in(
        "root@staff.test", PASSWORD, otp_token="000000", otp_device=device.persistent_id
    )
    assert wrong.status_code == 200
    assert "_auth_user_id" not in wrong.wsgi_request.session


def test_a_password_change_ends_every_token_and_session(admin_user):
    from licensary.accounts.services import token_create
    from tests.helpers import Api

    _, old_token = token_create(user=admin_user)
    browser = Client()
    browser.force_login(admin_user)
    assert Api(old_token).get("/account").status_code == 200
    assert browser.get("/admin/").status_code == 200

    admin_user.set_password("another long passphrase")
    admin_user.save()

    refused = Api(old_token).get("/account")
    assert (refused.status_code, refused.json_body["code"]) == (401, "unauthenticated")
    assert browser.get("/admin/").status_code == 302  # back to the sign-in page
    _, new_token = token_create(user=admin_user)
    assert Api(new_token).get("/account").status_code == 200
