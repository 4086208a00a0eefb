"""The staff console's support desk: tickets by department with each account's spam evidence;
staff answer, keep internal notes the account never reads, assign, close and mark a license's
problem unresolvable, each through the support service once; the evidence sits next to the
way to a `support_spam` ban."""

import re
from typing import Any

import pytest

from licensary.accounts.models import User
from licensary.catalog.models import Product
from licensary.core.errors import RateLimited
from licensary.licenses.models import License, UnresolvableProblem
from licensary.support.models import Message, ThrottleHit, Ticket
from licensary.support.services import ticket_open
from tests.api.support import delivered_order
from tests.helpers import api_for
from tests.portal.conftest import Browser

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_browser(staff: User) -> Browser:
    return Browser(staff)


def open_ticket(account: User, department: str = "technical", **extra: Any) -> Ticket:
    return ticket_open(
        account=account,
        department=department,
        subject=f"{department} question",
        body="It does not start.",
        actor=account,
        **extra,
    )


@pytest.fixture
def spammer(bob: User) -> User:
    """bob opened his three tickets and tried a fourth: one throttle hit."""
    for department in ("billing", "technical", "sales"):
        open_ticket(bob, department)
    with pytest.raises(RateLimited):
        open_ticket(bob, "billing")
    return bob


def test_tickets_are_filtered_by_department_with_each_account_s_throttle_hits(
    staff_browser: Browser, alice: User, spammer: User
) -> None:
    mine = open_ticket(alice, "billing")
    page = staff_browser.get("/portal/staff/tickets/?department=billing").content.decode()

    listed = {int(t) for t in re.findall(r'data-testid="ticket-(\d+)"', page)}
    billing = set(Ticket.objects.filter(department="billing").values_list("pk", flat=True))
    assert listed == billing and mine.pk in listed
    bob_row = page[page.index(f'data-testid="ticket-{billing.difference({mine.pk}).pop()}"') :]
    assert '<span class="badge overdue">1 throttle hit</span>' in bob_row.split("</tr>")[0]


def test_an_unknown_department_is_refused_on_the_form(staff_browser: Browser) -> None:
    answer = staff_browser.get("/portal/staff/tickets/?department=hr")
    assert answer.status_code == 422
    assert "Select a valid choice." in answer.content.decode()


def test_staff_answer_and_keep_a_note_the_account_never_reads(
    staff_browser: Browser, alice: User
) -> None:
    ticket = open_ticket(alice)
    answered = staff_browser.post(
        f"/portal/staff/tickets/{ticket.pk}/answer/", {"body": "Try again"}
    )
    noted = staff_browser.post(f"/portal/staff/tickets/{ticket.pk}/note/", {"body": "She is fine"})

    assert (answered.status_code, noted.status_code) == (302, 302)
    assert [(m.body, m.internal) for m in Message.objects.filter(ticket=ticket)] == [
        ("It does not start.", False),
        ("Try again", False),
        ("She is fine", True),
    ]
    assert Ticket.objects.get(pk=ticket.pk).status == "answered"
    seen = api_for(alice).get(f"/tickets/{ticket.pk}").json_body
    assert [m["body"] for m in seen["messages"]] == ["It does not start.", "Try again"]
    page = staff_browser.get(f"/portal/staff/tickets/{ticket.pk}/").content.decode()
    assert "She is fine" in page and "internal note" in page


def test_an_empty_answer_is_refused_next_to_its_field_and_writes_nothing(
    staff_browser: Browser, alice: User
) -> None:
    ticket = open_ticket(alice)
    answer = staff_browser.post(f"/portal/staff/tickets/{ticket.pk}/answer/", {"body": ""})
    assert answer.status_code == 422
    assert 'id="answer-body_error"' in answer.content.decode()
    assert Message.objects.filter(ticket=ticket).count() == 1


def test_staff_assign_a_ticket_and_close_it_once(
    staff_browser: Browser, staff: User, alice: User
) -> None:
    ticket = open_ticket(alice)
    staff_browser.post(f"/portal/staff/tickets/{ticket.pk}/assign/", {"staff": str(staff.pk)})
    assert Ticket.objects.get(pk=ticket.pk).assigned_to_id == staff.pk
    not_staff = staff_browser.post(
        f"/portal/staff/tickets/{ticket.pk}/assign/", {"staff": str(alice.pk)}
    )
    assert not_staff.status_code == 422  # only staff members are offered
    assert Ticket.objects.get(pk=ticket.pk).assigned_to_id == staff.pk

    first = staff_browser.post(f"/portal/staff/tickets/{ticket.pk}/close/", {"note": "done"})
    second = staff_browser.post(f"/portal/staff/tickets/{ticket.pk}/close/", {"note": "again"})
    assert (first.status_code, second.status_code) == (302, 409)
    assert 'data-code="invalid_transition"' in second.content.decode()
    assert Ticket.objects.get(pk=ticket.pk).status == "closed"


def test_a_license_s_problem_is_marked_unresolvable_from_its_ticket(
    staff_browser: Browser, staff: User, alice: User, product: Product
) -> None:
    lic = License.objects.get(pk=delivered_order(alice, product, "93.184.216.75", staff).license_id)
    ticket = open_ticket(alice, license=lic)
    without = staff_browser.post(f"/portal/staff/tickets/{ticket.pk}/unresolvable/", {"note": ""})
    marked = staff_browser.post(
        f"/portal/staff/tickets/{ticket.pk}/unresolvable/", {"note": "vendor bug"}
    )
    assert (without.status_code, marked.status_code) == (422, 302)
    [problem] = UnresolvableProblem.objects.filter(license=lic)
    assert (problem.note, problem.ticket) == ("vendor bug", str(ticket.pk))


def test_a_ticket_shows_its_account_s_evidence_beside_a_support_spam_ban(
    staff_browser: Browser, spammer: User
) -> None:
    ticket = Ticket.objects.filter(account=spammer).first()
    assert ticket is not None
    page = staff_browser.get(f"/portal/staff/tickets/{ticket.pk}/").content.decode()
    evidence = page[page.index('data-testid="evidence"') :]
    assert "1 throttle hit in all." in evidence
    assert 'data-testid="hits-open">1<' in evidence
    ban = f'href="/portal/staff/accounts/{spammer.pk}/ban/?reason=support_spam"'
    assert ban in evidence
    form = staff_browser.get(f"/portal/staff/accounts/{spammer.pk}/ban/?reason=support_spam")
    [chosen] = re.findall(
        r'<input type="radio" name="reason" value="(\w+)"[^>]*checked', form.content.decode()
    )
    assert chosen == "support_spam"
    assert ThrottleHit.objects.filter(account=spammer).count() == 1


@pytest.mark.parametrize("who", ["alice", "carol", "dave"])
def test_only_staff_reach_the_support_desk(who: str, request: Any, bob: User) -> None:
    ticket = open_ticket(bob)
    browser = Browser(request.getfixturevalue(who))
    pages = [
        browser.get(p).status_code
        for p in ("/portal/staff/tickets/", f"/portal/staff/tickets/{ticket.pk}/")
    ]
    posts = [
        browser.post(
            f"/portal/staff/tickets/{ticket.pk}/{action}/", {"body": "x", "note": "x"}
        ).status_code
        for action in ("answer", "note", "assign", "close", "unresolvable")
    ]
    assert pages + posts == [403] * 7
    assert Message.objects.filter(ticket=ticket).count() == 1
    assert Ticket.objects.get(pk=ticket.pk).status == "open"
