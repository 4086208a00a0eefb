"""A ban's confirmation says what will happen and, since a ban of an agent with its customers
may take a while, posts through htmx with a progress indicator; the page then goes to the
bans list. Without script the same form posts as usual (test_staff_pages)."""

import pytest

from licensary.accounts.models import User
from tests.portal.conftest import Browser

pytestmark = pytest.mark.django_db


def test_the_confirmation_carries_an_htmx_post_with_its_progress_indicator(
    staff: User, alice: User
) -> None:
    page = (
        Browser(staff)
        .post(f"/portal/staff/accounts/{alice.pk}/ban/", {"reason": "other", "note": "x"})
        .content.decode()
    )
    assert f'hx-post="/portal/staff/accounts/{alice.pk}/ban/confirm/"' in page
    assert 'hx-indicator="#ban-progress"' in page
    assert 'id="ban-progress" class="htmx-indicator progress-note" role="status"' in page
    assert "<progress" in page and "style=" not in page


def test_a_ban_confirmed_through_htmx_bans_once_and_sends_the_page_to_the_bans_list(
    staff: User, alice: User
) -> None:
    browser = Browser(staff)
    path = f"/portal/staff/accounts/{alice.pk}/ban/confirm/"
    answer = browser.post(path, {"reason": "sharing", "note": "resold"}, HTTP_HX_REQUEST="true")

    assert (answer.status_code, answer["HX-Redirect"]) == (200, "/portal/staff/bans/")
    alice.refresh_from_db()
    assert (alice.status, alice.ban_reason) == (User.Status.BANNED, "sharing")
    again = browser.post(path, {"reason": "sharing", "note": "resold"}, HTTP_HX_REQUEST="true")
    assert again.status_code == 409  # the error's partial, shown in the confirmation
    assert 'data-code="invalid_transition"' in again.content.decode()


def test_a_tampered_confirmation_through_htmx_goes_back_to_the_ban_form_and_bans_nobody(
    staff: User, alice: User
) -> None:
    answer = Browser(staff).post(
        f"/portal/staff/accounts/{alice.pk}/ban/confirm/",
        {"reason": "nonsense", "note": "x"},
        HTTP_HX_REQUEST="true",
    )
    assert answer["HX-Redirect"] == f"/portal/staff/accounts/{alice.pk}/ban/"
    alice.refresh_from_db()
    assert alice.status == User.Status.ACTIVE
