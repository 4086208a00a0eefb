"""Claims on the customer portal (rule 10): bob runs the server at the IP alice's license
holds and claims it. His claim page says plainly what the server must send (the challenge, to
which URL, a curl command line built from PUBLIC_URL), from which IP, and alice's 3 days; the
status moves (awaiting_owner, awaiting_review, approved with the order's invoice to pay, or
rejected with the reason). alice, the owner, reads the claim but never its challenge. A bad
product or IP is refused next to its field and opens nothing."""

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.utils.html import escape

from licensary.accounts.models import User
from licensary.governance.claims import claim_approve, claim_prove, claim_reject
from licensary.governance.models import Claim
from licensary.orders.models import Order
from tests.helpers import OTHER_IP, PUBLIC_IP
from tests.portal.conftest import Browser


def start(browser: Browser, ip: str = PUBLIC_IP, product: str = "panel") -> Any:
    return browser.post("/portal/claims/", {"product": product, "ip": ip})


def test_bob_s_claim_page_explains_the_proof_step_plainly(
    bob_browser: Browser, alice_license: Order, settings: Any
) -> None:
    settings.PUBLIC_URL = "https://licensary.example"
    answer = start(bob_browser)
    claim = Claim.objects.get()
    assert (answer.status_code, answer["Location"]) == (302, f"/portal/claims/{claim.pk}/")
    assert (claim.status, claim.ip) == ("awaiting_owner", PUBLIC_IP)
    page = bob_browser.get(f"/portal/claims/{claim.pk}/").content.decode()
    url = f"https://licensary.example/api/v1/claims/{claim.pk}/proof"
    assert f'data-testid="proof-url">{url}<' in page
    assert f'data-testid="challenge">{claim.pk}.{claim.challenge}<' in page
    command = (
        "curl -X POST -H 'Content-Type: application/json' -d "
        f'\'{{"challenge": "{claim.pk}.{claim.challenge}"}}\' {url}'
    )
    assert escape(command) in page
    assert f'<bdi class="ip">{PUBLIC_IP}</bdi>' in page and "from that address itself" in page
    assert "has 3 days to transfer the license to you instead" in page
    listed = bob_browser.get("/portal/claims/").content.decode()
    assert f'data-testid="claim-{claim.pk}"' in listed and "awaiting the owner" in listed


def test_the_owner_reads_the_claim_but_never_its_challenge(
    alice_browser: Browser, bob_browser: Browser, alice_license: Order
) -> None:
    start(bob_browser)
    claim = Claim.objects.get()
    page = alice_browser.get(f"/portal/claims/{claim.pk}/").content.decode()
    assert "claims your license" in page
    assert claim.challenge not in page and "proof-command" not in page
    assert "against your license" in alice_browser.get("/portal/claims/").content.decode()


def test_the_status_moves_to_review_then_approved_with_the_invoice_to_pay(
    bob: User, bob_browser: Browser, alice_license: Order, staff: User
) -> None:
    start(bob_browser)
    claim = Claim.objects.get()
    claim_prove(claim=claim, challenge=claim.challenge, caller_ip=PUBLIC_IP)
    page = bob_browser.get(f"/portal/claims/{claim.pk}/").content.decode()
    assert 'data-testid="proved"' in page and "proof-command" not in page
    assert claim.owner_deadline is not None
    with time_machine.travel(claim.owner_deadline + timedelta(minutes=1)):
        page = bob_browser.get(f"/portal/claims/{claim.pk}/").content.decode()
        assert 'data-testid="claim-status">awaiting review<' in page
        claim_approve(claim=claim, actor=staff)
        page = bob_browser.get(f"/portal/claims/{claim.pk}/").content.decode()
    order = Order.objects.get(account=bob, kind=Order.Kind.CLAIM)
    assert 'data-testid="claim-status">approved<' in page
    assert f'href="/portal/invoices/{order.invoice_id}/" data-testid="claim-invoice"' in page


def test_a_rejected_claim_shows_staff_s_reason(
    bob_browser: Browser, alice_license: Order, staff: User
) -> None:
    start(bob_browser)
    claim = Claim.objects.get()
    claim_reject(claim=claim, reason="The owner showed the contract.", actor=staff)
    page = bob_browser.get(f"/portal/claims/{claim.pk}/").content.decode()
    assert 'data-testid="claim-status">rejected<' in page
    assert "The owner showed the contract." in page and "proof-command" not in page


def test_a_new_challenge_replaces_the_old_one(bob_browser: Browser, alice_license: Order) -> None:
    start(bob_browser)
    claim = Claim.objects.get()
    old = claim.challenge
    answer = bob_browser.post(f"/portal/claims/{claim.pk}/challenge/")
    assert (answer.status_code, answer["Location"]) == (302, f"/portal/claims/{claim.pk}/")
    claim.refresh_from_db()
    assert claim.challenge != old
    assert claim.challenge in bob_browser.get(f"/portal/claims/{claim.pk}/").content.decode()


def test_the_owner_cannot_renew_the_challenge(
    alice_browser: Browser, bob_browser: Browser, alice_license: Order
) -> None:
    start(bob_browser)
    claim = Claim.objects.get()
    answer = alice_browser.post(f"/portal/claims/{claim.pk}/challenge/")
    assert answer.status_code == 403
    assert Claim.objects.get().challenge == claim.challenge


@pytest.mark.parametrize(
    "ip, ref, status, field",
    [
        ("not an ip", "panel", 422, "ip"),
        (OTHER_IP, "panel", 409, "ip"),  # nothing holds it: order it instead
        (PUBLIC_IP, "no-such", 422, "product"),
    ],
)
def test_a_bad_claim_is_refused_next_to_its_field_and_opens_nothing(
    bob_browser: Browser, alice_license: Order, ip: str, ref: str, status: int, field: str
) -> None:
    answer = start(bob_browser, ip=ip, product=ref)
    assert answer.status_code == status
    assert f'id="id_{field}_error"' in answer.content.decode()
    assert Claim.objects.count() == 0


def test_a_second_open_claim_on_the_same_license_is_refused_next_to_the_ip(
    bob_browser: Browser, alice_license: Order
) -> None:
    start(bob_browser)
    answer = start(bob_browser)
    assert answer.status_code == 409
    assert "Follow the claim that is already open" in answer.content.decode()
    assert Claim.objects.count() == 1


def test_alice_cannot_claim_her_own_license(alice_browser: Browser, alice_license: Order) -> None:
    answer = start(alice_browser)
    assert answer.status_code == 409
    assert Claim.objects.count() == 0
