"""Claims (rule 10): proof from the claimed IP itself (a single-use, expiring challenge), the
owner's 3 days when the license is active (skipped when blocked or canceled), staff's
approval cancelling the old license and making the claimant's claim order with the setup
fee, and the new license taking the slot when that order is paid."""

from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from licensary.billing.models import Invoice
from licensary.billing.services import invoice_pay_with_credit
from licensary.governance.claims import claim_approve
from licensary.governance.models import Claim, Transfer
from licensary.governance.transfers import transfer_accept, transfer_request
from licensary.licenses.models import License
from licensary.orders.models import Order
from tests.api.support import delivered_order
from tests.concurrency import require_postgres, run_concurrently
from tests.helpers import OTHER_IP, PUBLIC_IP, api_for, give_credit, refusal, run_jobs

pytestmark = pytest.mark.django_db


@pytest.fixture
def lic(alice, product, staff) -> License:
    return License.objects.get(pk=delivered_order(alice, product, PUBLIC_IP, staff).license_id)


def claim(user, **extra) -> dict:
    made = api_for(user).post("/claims", {"product": "panel", "ip": PUBLIC_IP, **extra})
    assert made.status_code == 201, made.json_body
    return made.json_body


def prove(claim_id, challenge, ip=PUBLIC_IP):
    return Client().post(
        f"/api/v1/claims/{claim_id}/proof",
        data={"challenge": challenge},
        content_type="application/json",
        REMOTE_ADDR=ip,
    )


def test_a_claim_on_an_active_license_waits_three_days_for_the_owner(bob, alice, lic):
    made = claim(bob)

    assert made["status"] == "awaiting_owner"
    assert made["owner_deadline"] is not None
    assert len(made["challenge"]) >= 40
    owner_view = api_for(alice).get(f"/claims/{made['id']}").json_body
    assert owner_view["challenge"] is None  # the owner never reads the claimant's challenge


def test_the_proof_from_the_claimed_ip_is_taken_once(bob, lic):
    made = claim(bob)

    proved = prove(made["id"], made["challenge"])
    again = prove(made["id"], made["challenge"])

    assert proved.status_code == 200, proved.content
    assert (again.status_code, again.json()["code"]) == (409, "challenge_used")
    assert Claim.objects.get().proved_from == PUBLIC_IP


def test_a_proof_from_another_ip_is_refused(bob, lic):
    made = claim(bob)

    refused = prove(made["id"], made["challenge"], ip=OTHER_IP)

    assert (refused.status_code, refused.json()["code"]) == (403, "proof_wrong_ip")
    assert Claim.objects.get().proved_at is None


def test_a_wrong_challenge_is_a_made_up_id_and_an_expired_one_is_refused(bob, lic):
    made = claim(bob)

    wrong = prove(made["id"], "x" * 43)
    made_up = prove("987654321", "x" * 43)
    with time_machine.travel(timezone.now() + timedelta(hours=24, seconds=1)):
        expired = prove(made["id"], made["challenge"])

    assert (wrong.status_code, wrong.json()["code"]) == (404, "not_found")
    # The unauthenticated route tells no claim's existence.
    assert refusal(wrong) == refusal(made_up)
    assert (expired.status_code, expired.json()["code"]) == (409, "challenge_expired")


def test_the_owners_window_one_second_either_side_of_its_end(bob, staff, lic):
    made = claim(bob)
    prove(made["id"], made["challenge"])
    deadline = Claim.objects.get().owner_deadline
    staff_api = api_for(staff)

    with time_machine.travel(deadline - timedelta(seconds=1)):
        early = staff_api.post(f"/claims/{made['id']}/approve")
        status_early = staff_api.get(f"/claims/{made['id']}").json_body["status"]
    with time_machine.travel(deadline + timedelta(seconds=1)):
        status_late = staff_api.get(f"/claims/{made['id']}").json_body["status"]
        late = staff_api.post(f"/claims/{made['id']}/approve")

    assert (early.status_code, early.json_body["code"]) == (409, "invalid_transition")
    assert status_early == "awaiting_owner"
    assert status_late == "awaiting_review"
    assert late.status_code == 200, late.json_body
    assert late.json_body["status"] == "approved"


def test_approval_cancels_the_old_license_and_the_paid_claim_order_takes_the_slot(
    alice, bob, staff, lic
):
    with time_machine.travel(lic.period_end + timedelta(days=1)):  # blocked: no owner's window
        made = claim(bob)
        assert (made["status"], made["owner_deadline"]) == ("awaiting_proof", None)
        prove(made["id"], made["challenge"])
        approved = api_for(staff).post(f"/claims/{made['id']}/approve").json_body
        old = License.objects.get(pk=lic.pk)
        order = Order.objects.get(pk=approved["order"])
        lines = {line.kind: line.amount for line in order.invoice.lines.all()}
        give_credit(bob, 1500, staff)
        invoice_pay_with_credit(invoice=order.invoice, actor=bob)
        run_jobs()

    assert (old.status, old.cancel_reason) == ("canceled", "claimed")
    assert (order.kind, order.account_id) == ("claim", bob.pk)
    assert lines == {"license": 1000, "setup_fee": 500}  # the setup fee, always
    order.refresh_from_db()
    assert order.status == "completed", order.hold_reason
    new = License.objects.get(pk=order.license_id)
    assert (new.account_id, new.status, new.ip) == (bob.pk, "active", PUBLIC_IP)
    assert License.objects.get(pk=lic.pk).status == "deleted"
    renewed = api_for(alice).post(f"/licenses/{lic.pk}/renew")
    assert renewed.status_code in (404, 409)


def test_nothing_to_claim_on_a_free_ip_nor_on_ones_own_license(alice, bob, lic):
    free = api_for(bob).post("/claims", {"product": "panel", "ip": OTHER_IP})
    own = api_for(alice).post("/claims", {"product": "panel", "ip": PUBLIC_IP})
    bad = api_for(bob).post("/claims", {"product": "panel", "ip": "10.0.0.1"})

    assert (free.status_code, free.json_body["code"]) == (409, "nothing_to_claim")
    assert (own.status_code, own.json_body["code"]) == (409, "nothing_to_claim")
    assert (bad.status_code, bad.json_body["code"]) == (422, "invalid_ip")
    assert Claim.objects.count() == 0


def test_staff_reject_a_claim_with_a_reason_and_only_staff_decide(bob, staff, lic):
    made = claim(bob)

    by_claimant = api_for(bob).post(f"/claims/{made['id']}/approve")
    rejected = api_for(staff).post(f"/claims/{made['id']}/reject", {"reason": "not their server"})

    assert by_claimant.json_body["code"] == "permission_denied"
    assert (rejected.json_body["status"], rejected.json_body["reason"]) == (
        "rejected",
        "not their server",
    )
    assert License.objects.get(pk=lic.pk).status == "active"


def test_an_agent_claims_for_its_customer(carol, dave, lic):
    made = claim(carol, account=str(dave.pk))

    assert made["claimant"] == str(dave.pk)
    assert api_for(dave).get(f"/claims/{made['id']}").json_body["challenge"] == made["challenge"]


def test_another_accounts_claim_is_not_found(bob, charlie_like, lic):
    made = claim(bob)

    assert api_for(charlie_like).get(f"/claims/{made['id']}").json_body["code"] == "not_found"


def test_a_transfer_to_the_claimant_answers_its_claim(alice, bob, lic):
    made = claim(bob)
    transfer = transfer_request(license=lic, to_account=bob, actor=alice)

    transfer_accept(transfer=transfer, actor=bob)

    seen = Claim.objects.get(pk=made["id"])
    assert (seen.status, seen.reason) == ("canceled", "the owner transferred the license")


@pytest.mark.django_db(transaction=True)
def test_a_claim_racing_the_owners_transfer_to_the_claimant_lets_exactly_one_win(
    alice, bob, staff, product
):
    require_postgres()
    lic = License.objects.get(pk=delivered_order(alice, product, PUBLIC_IP, staff).license_id)
    made = claim(bob)
    prove(made["id"], made["challenge"])
    transfer = transfer_request(license=lic, to_account=bob, actor=alice)  # "instead"
    the_claim = Claim.objects.get(pk=made["id"])

    with time_machine.travel(the_claim.owner_deadline + timedelta(seconds=1)):
        results = run_concurrently(
            lambda i: (
                claim_approve(claim=the_claim, actor=staff)
                if i == 0
                else transfer_accept(transfer=transfer, actor=bob)
            ),
            2,
        )

    lic.refresh_from_db()
    won_claim = not isinstance(results[0], BaseException)
    won_transfer = not isinstance(results[1], BaseException)
    assert won_claim != won_transfer, results
    if won_claim:
        assert (lic.status, lic.cancel_reason, lic.account_id) == ("canceled", "claimed", alice.pk)
        assert Transfer.objects.get().status == "canceled"
    else:
        assert (lic.status, lic.account_id) == ("active", bob.pk)
        assert Claim.objects.get().status == "canceled"


def test_the_challenge_reads_claim_id_dot_secret_as_licensary_client_prove_takes_it(bob, lic):
    made = claim(bob)

    claim_id, dot, secret = made["challenge"].partition(".")

    assert (claim_id, dot) == (made["id"], ".")
    assert len(secret) >= 43  # 256 bits
    assert prove(made["id"], secret).status_code == 200  # the bare secret is taken too


def test_approval_refuses_a_license_its_owner_moved_to_another_ip(alice, bob, staff, lic):
    made = claim(bob)
    prove(made["id"], made["challenge"])
    api_for(alice).post(f"/licenses/{lic.pk}/change-ip", {"ip": OTHER_IP})

    with time_machine.travel(Claim.objects.get().owner_deadline + timedelta(seconds=1)):
        refused = api_for(staff).post(f"/claims/{made['id']}/approve")

    assert (refused.status_code, refused.json_body["code"]) == (409, "invalid_transition")
    lic.refresh_from_db()
    assert (lic.ip, lic.status) == (OTHER_IP, "active")
    assert Claim.objects.get().status == "canceled"


def test_a_license_renewed_after_the_claim_gives_its_owner_three_days_first(alice, bob, staff, lic):
    with time_machine.travel(lic.period_end + timedelta(hours=1)):
        made = claim(bob)  # blocked: no owner's window
        invoice = api_for(alice).post(f"/licenses/{lic.pk}/renew").json_body
        give_credit(alice, 1000, staff)
        paid = api_for(alice).post(f"/invoices/{invoice['id']}/pay-with-credit")
        assert paid.status_code == 200, paid.json_body
        prove(made["id"], made["challenge"])
        refused = api_for(staff).post(f"/claims/{made['id']}/approve")

    assert (refused.status_code, refused.json_body["code"]) == (409, "invalid_transition")
    assert License.objects.get(pk=lic.pk).status == "active"
    seen = Claim.objects.get()
    assert seen.status == "awaiting_owner"
    assert seen.owner_deadline is not None


def test_approval_voids_the_old_owners_open_renewal_invoice(alice, bob, staff, lic):
    with time_machine.travel(lic.period_end - timedelta(days=2)):
        renewal = api_for(alice).post(f"/licenses/{lic.pk}/renew").json_body
        made = claim(bob)
        prove(made["id"], made["challenge"])
    with time_machine.travel(Claim.objects.get().owner_deadline + timedelta(seconds=1)):
        approved = api_for(staff).post(f"/claims/{made['id']}/approve")

    assert approved.status_code == 200, approved.json_body
    assert Invoice.objects.get(pk=renewal["id"]).status == "void"
