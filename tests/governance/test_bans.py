"""Rule 6: a ban cancels every license at once (never renewable), voids unpaid invoices, ends
tokens and sessions, refunds nothing and leaves credit as it is; the banned account reads its
history and can do nothing else."""

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client

from licensary.accounts.models import ApiToken, User
from licensary.audit.models import AuditEntry
from licensary.billing.models import Invoice, Refund
from licensary.core.errors import InvalidTransition
from licensary.ledger.services import account_credit
from licensary.licenses.models import License
from licensary.licenses.rules import license_require_renewable
from tests.helpers import OTHER_IP, PUBLIC_IP, api_for, give_credit, run_jobs

THIRD_IP = "151.101.65.69"


def _licensed(user: User, staff: User, ip: str = PUBLIC_IP) -> tuple[object, str]:
    """`user` with a delivered license on `ip`, 500 credit left, and an unpaid second order."""
    give_credit(user, 2000, staff)
    api = api_for(user)
    order = api.post("/orders", {"product": "panel", "ip": ip})
    assert api.post(f"/invoices/{order.json_body['invoice']}/pay-with-credit").status_code == 200
    run_jobs()
    license_id = api.get(f"/orders/{order.json_body['id']}").json_body["license"]
    unpaid = api.post("/orders", {"product": "panel", "ip": OTHER_IP})
    assert unpaid.status_code == 201, unpaid.json_body
    return api, license_id


def _ban(staff: User, account: User, **body: object):
    return api_for(staff).post(
        f"/accounts/{account.pk}/ban", {"reason": "sharing", "note": "resold access"} | body
    )


def test_rule6_a_ban_cancels_voids_revokes_and_refunds_nothing(alice, staff, product):
    api, license_id = _licensed(alice, staff)
    credit = account_credit(alice).amount

    banned = _ban(staff, alice)

    assert banned.status_code == 200, banned.json_body
    assert banned.json_body["status"] == "banned"
    lic = License.objects.get(pk=license_id)
    assert (lic.status, lic.cancel_reason) == ("canceled", "banned")
    assert not Invoice.objects.filter(account=alice, status="unpaid").exists()
    assert Invoice.objects.filter(account=alice, status="void").count() == 1
    assert not ApiToken.objects.filter(user=alice, revoked_at__isnull=True).exists()
    assert account_credit(alice).amount == credit  # left as it is
    assert not Refund.objects.exists()  # nothing refunded
    actions = set(AuditEntry.objects.filter(account_id=alice.pk).values_list("action", flat=True))
    assert {"account.banned", "license.canceled", "invoice.voided"} <= actions
    # The old token no longer works at all.
    assert api.get("/licenses").status_code == 401


def test_rule6_a_banned_account_reads_its_history_and_can_do_nothing_else(alice, staff, product):
    _, license_id = _licensed(alice, staff)
    _ban(staff, alice)
    api = api_for(User.objects.get(pk=alice.pk))  # e.g. signed in again

    assert api.get("/account/history").status_code == 200
    assert api.get("/account").json_body["status"] == "banned"
    for path in (f"/licenses/{license_id}", "/invoices", "/tickets"):
        refused = api.get(path)
        assert (refused.status_code, refused.json_body["code"]) == (403, "account_banned"), path
    for path, body in (
        ("/orders", {"product": "panel", "ip": THIRD_IP}),
        (f"/licenses/{license_id}/renew", None),
        ("/deposits", {"amount": 1000}),
    ):
        refused = api.post(path, body)
        assert refused.status_code == 403, (path, refused.json_body)
        assert refused.json_body["code"] == "account_banned"


def test_rule6_a_license_canceled_by_a_ban_is_not_renewable_and_reads_canceled(
    alice, staff, product
):
    _, license_id = _licensed(alice, staff)
    _ban(staff, alice)
    lic = License.objects.get(pk=license_id)
    assert lic.renewable_until is not None  # deleted in time like any canceled license
    with pytest.raises(InvalidTransition):
        license_require_renewable(lic)

    verify = Client().post(
        "/api/v1/verify",
        data='{"product": "panel", "nonce": "nonce-of-the-ban-test-0001"}',
        content_type="application/json",
        REMOTE_ADDR=PUBLIC_IP,
    )
    assert verify.status_code == 200
    assert '"status":"canceled"' in verify.json()["document"]


def test_rule6_a_ban_ends_the_accounts_sessions(alice, staff, product):
    session = SessionStore()
    session[SESSION_KEY] = str(alice.pk)
    session.create()
    other = SessionStore()
    other[SESSION_KEY] = str(staff.pk)
    other.create()

    _ban(staff, alice)

    assert not SessionStore().exists(session.session_key)
    assert SessionStore().exists(other.session_key)


def test_rule6_banning_an_agent_bans_its_customers_only_when_staff_say_so(
    carol, dave, staff, product
):
    _, dave_license = _licensed(dave, staff)
    assert _ban(staff, carol).status_code == 200
    assert User.objects.get(pk=dave.pk).status == "active"
    assert License.objects.get(pk=dave_license).status == "active"

    customer = User.objects.create_user(email="erin@example.test", agent=carol)
    assert customer.agent_id == carol.pk
    other_agent = User.objects.create_user(email="frank@agent.test", kind="agent")
    _, erin_license = _licensed(customer, staff, ip="151.101.129.69")
    assert _ban(staff, other_agent, cascade=True).status_code == 200
    assert License.objects.get(pk=erin_license).status == "active"  # not frank's customer


def test_rule6_cascade_bans_the_agents_customers(carol, dave, staff, product):
    _, dave_license = _licensed(dave, staff)
    assert _ban(staff, carol, cascade=True).status_code == 200
    assert User.objects.get(pk=dave.pk).status == "banned"
    assert License.objects.get(pk=dave_license).cancel_reason == "banned"


def test_a_ban_refuses_bad_input_and_changes_nothing(alice, bob, staff, product):
    before = AuditEntry.objects.count()
    cases = [
        (api_for(staff), {"reason": "rude", "note": "x"}, 422, "validation_error"),
        (api_for(staff), {"reason": "sharing", "note": ""}, 422, "validation_error"),
        (api_for(staff), {"reason": "sharing", "note": "x", "cascade": True}, 422, None),
        (api_for(bob), {"reason": "sharing", "note": "x"}, 403, "permission_denied"),
    ]
    for api, body, status, code in cases:
        answer = api.post(f"/accounts/{alice.pk}/ban", body)
        assert answer.status_code == status, (body, answer.json_body)
        if code:
            assert answer.json_body["code"] == code
    missing = api_for(staff).post("/accounts/999999/ban", {"reason": "other", "note": "x"})
    assert (missing.status_code, missing.json_body["code"]) == (404, "not_found")
    staff_target = api_for(staff).post(
        f"/accounts/{staff.pk}/ban", {"reason": "other", "note": "x"}
    )
    assert staff_target.status_code == 422
    assert User.objects.get(pk=alice.pk).status == "active"
    assert not AuditEntry.objects.filter(pk__gt=0, action="account.banned").exists()
    assert AuditEntry.objects.count() >= before  # token creations only

    assert _ban(staff, alice).status_code == 200
    again = _ban(staff, alice)
    assert (again.status_code, again.json_body["code"]) == (409, "invalid_transition")


def test_rule6_a_paid_order_not_delivered_yet_is_rejected_by_the_ban_and_not_refunded(
    alice, staff, product
):
    give_credit(alice, 1500, staff)
    api = api_for(alice)
    order = api.post("/orders", {"product": "panel", "ip": PUBLIC_IP}).json_body
    assert api.post(f"/invoices/{order['invoice']}/pay-with-credit").status_code == 200

    assert _ban(staff, alice).status_code == 200
    run_jobs()  # the delivery job queued by the payment runs after the ban

    assert api_for(staff).get(f"/orders/{order['id']}").json_body["status"] == "rejected"
    assert not License.objects.filter(account=alice).exists()
    assert not Refund.objects.exists()
    assert account_credit(alice).amount == 0
