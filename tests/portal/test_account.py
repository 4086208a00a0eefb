"""The account in the portal: a password reset by mail (through the outbox), a password
change that ends every other session and every API token, sessions ended by a ban, and the
account's own language and time zone, which its pages (and its mail) follow."""

import re
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.utils import translation

from licensary.accounts.models import ApiToken, User
from licensary.accounts.services import account_password_set, account_preferences_set
from licensary.audit.models import AuditEntry
from licensary.catalog.models import Product
from licensary.core.errors import PermissionDenied, ValidationFailed
from licensary.governance.bans import account_ban
from licensary.notifications.models import MailMessage
from licensary.portal import formatting
from tests.api.support import unpaid_order
from tests.helpers import OTHER_IP, api_for, run_jobs
from tests.portal.conftest import Browser

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "a brand new long passphrase"
LINK = re.compile(r"http://127\.0\.0\.1:8000(/portal/password/reset/[^/\s]+/[^/\s]+/)")


@pytest.fixture
def alice_with_password(alice: User) -> User:
    return account_password_set(account=alice, password=PASSWORD, actor=alice)


def ask_for_reset(email: str, client: Client | None = None, ip: str = "192.0.2.10") -> Any:
    browser = client or Client(REMOTE_ADDR=ip)
    return browser.post("/portal/password/reset/", {"email": email}, REMOTE_ADDR=ip)


def reset_link() -> str:
    [message] = mail.outbox
    found = LINK.search(message.body)
    assert found is not None, message.body
    return found.group(1)


def signs_in(email: str, password: str) -> bool:
    answer = Client(REMOTE_ADDR="192.0.2.77").post(
        "/portal/sign-in/", {"username": email, "password": password}
    )
    return answer.status_code == 302


def choose_new_password(link: str, password: str = NEW_PASSWORD) -> Any:
    browser = Client()
    form = browser.get(link)  # the token moves to the session: .../set-password/
    assert form.status_code == 302, form.status_code
    return browser.post(form["Location"], {"new_password1": password, "new_password2": password})


def test_a_reset_link_is_mailed_through_the_outbox_and_sets_the_new_password(
    alice_with_password: User,
) -> None:
    answer = ask_for_reset("Alice@Example.test")
    assert (answer.status_code, answer["Location"]) == (302, "/portal/password/reset/sent/")
    assert mail.outbox == []  # the mail is the worker's job, after the request's commit

    run_jobs()
    [row] = MailMessage.objects.filter(event="password_reset")
    assert (row.to_email, row.status, row.subject) == (
        "alice@example.test",
        MailMessage.Status.SENT,
        "Reset your password",
    )
    done = choose_new_password(reset_link())

    assert (done.status_code, done["Location"]) == (302, "/portal/password/reset/done/")
    assert signs_in("alice@example.test", NEW_PASSWORD) is True
    assert signs_in("alice@example.test", PASSWORD) is False
    actions = list(
        AuditEntry.objects.filter(object_type="account", object_id=str(alice_with_password.pk))
        .filter(action__startswith="account.password")
        .values_list("action", flat=True)
        .order_by("pk")
    )
    assert actions == [
        "account.password_changed",  # the fixture's
        "account.password_reset_requested",
        "account.password_changed",
    ]


def test_the_reset_link_is_nowhere_but_in_the_mail(alice_with_password: User) -> None:
    ask_for_reset("alice@example.test")
    run_jobs()
    token = reset_link().rstrip("/").rsplit("/", 1)[1]
    entries = AuditEntry.objects.filter(action="account.password_reset_requested")
    assert [token in f"{e.before}{e.after}{e.reason}" for e in entries] == [False]


def test_an_unknown_address_gets_the_same_answer_and_no_mail(alice_with_password: User) -> None:
    answer = ask_for_reset("nobody@example.test")
    run_jobs()
    assert (answer.status_code, answer["Location"]) == (302, "/portal/password/reset/sent/")
    assert (mail.outbox, MailMessage.objects.count()) == ([], 0)


def test_asking_again_within_the_window_sends_one_mail(alice_with_password: User) -> None:
    with time_machine.travel(datetime(2026, 12, 3, 9, 0, tzinfo=UTC), tick=False):
        ask_for_reset("alice@example.test")
        ask_for_reset("alice@example.test")
        run_jobs()
    assert len(mail.outbox) == 1
    with time_machine.travel(datetime(2026, 12, 3, 9, 20, tzinfo=UTC), tick=False):
        ask_for_reset("alice@example.test")
        run_jobs()
    assert len(mail.outbox) == 2


def test_an_account_made_without_a_password_chooses_its_first_one_by_the_reset_mail(
    dave: User,
) -> None:
    assert not dave.has_usable_password()  # its agent made it
    ask_for_reset("dave@example.test")
    run_jobs()
    choose_new_password(reset_link())
    assert signs_in("dave@example.test", NEW_PASSWORD) is True


def test_a_used_reset_link_does_not_work_again(alice_with_password: User) -> None:
    ask_for_reset("alice@example.test")
    run_jobs()
    link = reset_link()
    choose_new_password(link)

    again = Client().get(link)
    assert again.status_code == 200
    assert 'data-code="invalid_link"' in again.content.decode()
    assert signs_in("alice@example.test", NEW_PASSWORD) is True


def test_a_weak_new_password_is_refused_next_to_its_field_and_changes_nothing(
    alice_with_password: User,
) -> None:
    ask_for_reset("alice@example.test")
    run_jobs()
    answer = choose_new_password(reset_link(), password="short")
    assert answer.status_code == 200  # Django's form view shows the form again
    assert 'id="id_new_password2_error"' in answer.content.decode()
    assert signs_in("alice@example.test", PASSWORD) is True


def test_a_reset_ends_every_session_and_api_token_of_the_account(
    alice_with_password: User,
) -> None:
    browser = Browser(alice_with_password)
    token = api_for(alice_with_password)
    assert browser.get("/portal/").status_code == 200

    ask_for_reset("alice@example.test")
    run_jobs()
    choose_new_password(reset_link())

    answer = browser.get("/portal/")
    assert (answer.status_code, answer["Location"].split("?")[0]) == (302, "/portal/sign-in/")
    assert token.get("/account").status_code == 401
    assert ApiToken.objects.filter(user=alice_with_password, revoked_at__isnull=True).count() == 0


def test_too_many_reset_requests_from_one_address_are_refused(alice: User) -> None:
    codes = [ask_for_reset(f"x{n}@example.test", ip="192.0.2.88").status_code for n in range(11)]
    assert codes == [302] * 10 + [429]
    refused = ask_for_reset("alice@example.test", ip="192.0.2.88")
    assert 'data-code="rate_limited"' in refused.content.decode()
    run_jobs()
    assert mail.outbox == []
    assert ask_for_reset("alice@example.test", ip="192.0.2.89").status_code == 302


def test_a_password_change_ends_every_other_session_and_token_but_not_this_browser(
    alice_with_password: User,
) -> None:
    here, elsewhere = Browser(alice_with_password), Browser(alice_with_password)
    token = api_for(alice_with_password)
    answer = here.post(
        "/portal/account/password/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert (answer.status_code, answer["Location"]) == (302, "/portal/account/")
    assert here.get("/portal/").status_code == 200
    assert elsewhere.get("/portal/").status_code == 302
    assert token.get("/account").status_code == 401
    entry = AuditEntry.objects.filter(action="account.password_changed").latest("pk")
    assert entry.after == {"tokens_revoked": 1, "sessions_ended": 1}
    assert signs_in("alice@example.test", NEW_PASSWORD) is True


def test_a_wrong_current_password_changes_nothing(alice_with_password: User) -> None:
    here = Browser(alice_with_password)
    token = api_for(alice_with_password)
    answer = here.post(
        "/portal/account/password/",
        {
            "old_password": "not it at all",
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
    )
    assert answer.status_code == 422
    assert "That is not your current password." in answer.content.decode()
    assert signs_in("alice@example.test", PASSWORD) is True
    assert token.get("/account").status_code == 200


def test_a_ban_ends_the_account_s_signed_in_sessions(
    alice_with_password: User, staff: User
) -> None:
    browser = Browser(alice_with_password)
    assert browser.get("/portal/").status_code == 200
    account_ban(account=alice_with_password, actor=staff, reason="sharing", note="resold access")
    answer = browser.get("/portal/")
    assert (answer.status_code, answer["Location"].split("?")[0]) == (302, "/portal/sign-in/")
    # It still signs in, to read its history (rule 6).
    assert signs_in("alice@example.test", PASSWORD) is True


def test_the_account_page_sets_the_language_and_time_zone(
    alice: User, alice_browser: Browser
) -> None:
    answer = alice_browser.post("/portal/account/", {"language": "fa", "time_zone": "Asia/Tehran"})
    assert (answer.status_code, answer["Location"]) == (302, "/portal/account/")
    alice.refresh_from_db()
    assert (alice.language, alice.time_zone) == ("fa", "Asia/Tehran")
    changes = AuditEntry.objects.filter(action="account.updated", object_id=str(alice.pk))
    assert [e.after for e in changes.order_by("pk")] == [
        {"language": "fa"},
        {"time_zone": "Asia/Tehran"},
    ]
    page = alice_browser.get("/portal/account/").content.decode()
    assert '<html lang="fa" dir="rtl">' in page
    assert "تنظیمات ذخیره شد." in page


def test_an_unknown_time_zone_is_refused_and_changes_nothing(
    alice: User, alice_browser: Browser
) -> None:
    answer = alice_browser.post(
        "/portal/account/", {"language": "fa", "time_zone": "Mars/Olympus_Mons"}
    )
    assert answer.status_code == 422
    assert 'id="id_time_zone_error"' in answer.content.decode()
    with pytest.raises(ValidationFailed):
        account_preferences_set(account=alice, actor=alice, time_zone="../../etc/passwd")
    alice.refresh_from_db()
    assert (alice.language, alice.time_zone) == ("en", "UTC")


def test_only_the_account_itself_or_staff_chooses_its_language(
    alice: User, bob: User, staff: User
) -> None:
    with pytest.raises(PermissionDenied):
        account_preferences_set(account=alice, actor=bob, language="fa")
    account_preferences_set(account=alice, actor=staff, language="fa")
    alice.refresh_from_db()
    assert alice.language == "fa"


def test_the_language_switch_is_the_signed_in_account_s_language_its_mail_s_too(
    alice: User, alice_browser: Browser
) -> None:
    alice_browser.post("/portal/language/", {"language": "fa", "next": "/portal/"})
    alice.refresh_from_db()
    assert alice.language == "fa"
    # Another browser, without the cookie, reads the account's language.
    assert '<html lang="fa" dir="rtl">' in Browser(alice).get("/portal/").content.decode()


def test_an_anonymous_visitor_s_switch_is_only_its_browser_s(alice: User) -> None:
    browser = Browser(None)
    browser.post("/portal/language/", {"language": "fa", "next": "/portal/sign-in/"})
    assert '<html lang="fa" dir="rtl">' in browser.get("/portal/sign-in/").content.decode()
    alice.refresh_from_db()
    assert alice.language == "en"


@pytest.mark.parametrize(
    "language,time_zone,issued",
    [
        ("en", "UTC", "Dec 3, 2026"),
        ("en", "Asia/Tehran", "Dec 4, 2026"),  # 22:30 UTC is 02:00 the next day in Tehran
        ("fa", "Asia/Tehran", "۱۳ آذر ۱۴۰۵"),
        ("fa", "UTC", "۱۲ آذر ۱۴۰۵"),
    ],
)
def test_dates_are_shown_in_the_account_s_time_zone_and_calendar(
    alice: User,
    alice_browser: Browser,
    product: Product,
    language: str,
    time_zone: str,
    issued: str,
) -> None:
    with time_machine.travel(datetime(2026, 12, 3, 22, 30, tzinfo=UTC), tick=False):
        order = unpaid_order(alice, product, OTHER_IP)
    account_preferences_set(account=alice, actor=alice, language=language, time_zone=time_zone)
    page = alice_browser.get(f"/portal/invoices/{order.invoice_id}/").content.decode()
    assert f"<dd>{issued}</dd>" in page


def test_a_time_zone_the_system_no_longer_knows_falls_back_to_utc(
    alice: User, alice_browser: Browser
) -> None:
    User.objects.filter(pk=alice.pk).update(time_zone="Nowhere/Gone")  # an old tz database's
    assert alice_browser.get("/portal/account/").status_code == 200


def test_the_persian_page_writes_the_account_s_time_in_persian_digits(
    alice: User, alice_browser: Browser
) -> None:
    account_preferences_set(account=alice, actor=alice, language="fa", time_zone="Asia/Tehran")
    with time_machine.travel(datetime(2026, 12, 3, 9, 0, tzinfo=UTC), tick=False):
        page = alice_browser.get("/portal/account/").content.decode()
    with translation.override("fa"):
        assert formatting.persian_digits("12:30") in page  # 09:00 UTC is 12:30 in Tehran


def test_a_banned_account_still_chooses_how_it_reads(alice: User, staff: User) -> None:
    account_ban(account=alice, actor=staff, reason="other", note="test")
    alice.refresh_from_db()
    account_preferences_set(account=alice, actor=alice, language="fa")
    assert User.objects.get(pk=alice.pk).language == "fa"


def test_a_token_made_after_the_change_works_and_one_made_before_does_not(
    alice_with_password: User,
) -> None:
    before = api_for(alice_with_password)
    account_password_set(
        account=alice_with_password, password=NEW_PASSWORD, actor=alice_with_password
    )
    after = api_for(alice_with_password)
    assert (before.get("/account").status_code, after.get("/account").status_code) == (401, 200)
