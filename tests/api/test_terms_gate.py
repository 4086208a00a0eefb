"""Rule 1, the terms gate: once staff publish terms, an account that has not accepted the latest
version cannot order, pay or renew; accepting it opens the gate; a new version closes it again;
only the latest version can be accepted; every acceptance is kept with its time and IP."""

import json
from typing import Any

import pytest

from licensary.accounts.models import TermsAcceptance, User
from licensary.catalog.models import Product
from tests.api.support import PROBLEM, delivered_order, snapshot, unpaid_order
from tests.helpers import PUBLIC_IP, Api, api_for, give_credit

NEW_IP = "93.184.216.70"


@pytest.fixture
def alice_before_terms(alice: User, staff: User, product: Product) -> dict[str, Any]:
    """alice holds a license and an unpaid order, both from before any terms, and credit."""
    lic = delivered_order(alice, product, PUBLIC_IP, staff).license_id
    unpaid = unpaid_order(alice, product, "93.184.216.71")
    give_credit(alice, 5000, staff)
    return {"license": lic, "invoice": unpaid.invoice_id}


def publish(staff_api: Api, text: str) -> int:
    response = staff_api.post("/terms", {"text": text})
    assert response.status_code == 201, response.json_body
    return response.json_body["version"]


def accept_from(api: Api, version: int, address: str) -> None:
    response = api.client.post(
        "/api/v1/terms/accept",
        data=json.dumps({"version": version}),
        content_type="application/json",
        REMOTE_ADDR=address,
        **api.headers,
    )
    assert response.status_code == 200, response.content


def attempts(api: Api, objects: dict[str, Any]) -> dict[str, Any]:
    return {
        "order": api.post("/orders", {"product": "panel", "ip": NEW_IP}),
        "pay": api.post(f"/invoices/{objects['invoice']}/pay-with-credit"),
        "renew": api.post(f"/licenses/{objects['license']}/renew"),
    }


def assert_all_refused(api: Api, objects: dict[str, Any], version: int) -> None:
    before = snapshot()
    answers = attempts(api, objects)
    assert snapshot() == before
    for action, response in answers.items():
        assert response.status_code == 403, (action, response.json_body)
        assert response["Content-Type"] == PROBLEM
        assert response.json_body["code"] == "terms_not_accepted", action
        assert response.json_body["version"] == version, action


def test_an_account_that_has_not_accepted_the_terms_cannot_order_pay_or_renew(
    alice: User, staff: User, alice_before_terms: dict[str, Any]
) -> None:
    api, staff_api = api_for(alice), api_for(staff)
    assert publish(staff_api, "Version one.") == 1

    assert_all_refused(api, alice_before_terms, version=1)


def test_accepting_the_latest_terms_opens_the_gate_and_a_new_version_closes_it(
    alice: User, staff: User, alice_before_terms: dict[str, Any]
) -> None:
    api, staff_api = api_for(alice), api_for(staff)
    publish(staff_api, "Version one.")

    accepted = api.post("/terms/accept", {"version": 1})

    assert accepted.status_code == 200, accepted.json_body
    assert accepted.json_body["terms_accepted"] == 1
    answers = attempts(api, alice_before_terms)
    assert {k: r.status_code for k, r in answers.items()} == {
        "order": 201,
        "pay": 200,
        "renew": 200,
    }

    assert publish(staff_api, "Version two.") == 2
    assert api.get("/account").json_body["terms_accepted"] == 1
    fresh = {
        "license": alice_before_terms["license"],
        "invoice": answers["order"].json_body["invoice"],
    }
    assert_all_refused(api, fresh, version=2)

    assert api.post("/terms/accept", {"version": 2}).status_code == 200
    assert api.post(f"/invoices/{fresh['invoice']}/pay-with-credit").status_code == 200


def test_only_the_latest_version_can_be_accepted(alice: User, staff: User) -> None:
    api, staff_api = api_for(alice), api_for(staff)
    publish(staff_api, "Version one.")
    publish(staff_api, "Version two.")
    before = snapshot()

    refused = [api.post("/terms/accept", {"version": version}) for version in (1, 3)]

    assert [(r.status_code, r.json_body["code"]) for r in refused] == [
        (409, "terms_outdated"),
        (409, "terms_outdated"),
    ]
    assert snapshot() == before
    assert api.get("/account").json_body["terms_accepted"] is None


def test_accepting_before_any_terms_exist_is_not_found(alice: User) -> None:
    refused = api_for(alice).post("/terms/accept", {"version": 1})

    assert (refused.status_code, refused.json_body["code"]) == (404, "not_found")
    assert TermsAcceptance.objects.count() == 0


def test_every_acceptance_is_kept_with_its_time_and_ip(alice: User, staff: User) -> None:
    api, staff_api = api_for(alice), api_for(staff)
    publish(staff_api, "Version one.")
    accept_from(api, 1, "203.0.113.7")
    publish(staff_api, "Version two.")
    accept_from(api, 2, "198.51.100.9")
    accept_from(api, 2, "198.51.100.10")

    kept = list(
        TermsAcceptance.objects.filter(user=alice)
        .order_by("pk")
        .values_list("terms__version", "ip")
    )

    assert kept == [(1, "203.0.113.7"), (2, "198.51.100.9"), (2, "198.51.100.10")]
    assert all(a.accepted_at is not None for a in TermsAcceptance.objects.filter(user=alice))
    assert api.get("/account").json_body["terms_accepted"] == 2


def test_staff_are_not_held_by_the_terms_but_an_agent_and_its_customer_are(
    carol: User, dave: User, staff: User, product: Product
) -> None:
    carol_api, staff_api = api_for(carol), api_for(staff)
    give_credit(carol, 1500, staff)  # carol pays what she sells
    publish(staff_api, "Version one.")
    order = {"product": "panel", "ip": NEW_IP, "account": str(dave.pk)}

    by_carol = carol_api.post("/orders", order)
    carol_api.post("/terms/accept", {"version": 1})
    dave_not_yet = carol_api.post("/orders", order)
    api_for(dave).post("/terms/accept", {"version": 1})
    both = carol_api.post("/orders", order)
    by_staff = staff_api.post(f"/invoices/{both.json_body['invoice']}/pay-with-credit")

    assert (by_carol.status_code, by_carol.json_body["code"]) == (403, "terms_not_accepted")
    assert (dave_not_yet.status_code, dave_not_yet.json_body["code"]) == (403, "terms_not_accepted")
    assert both.status_code == 201, both.json_body
    assert by_staff.status_code == 200, by_staff.json_body


def test_an_account_that_has_not_accepted_the_terms_can_still_ask_support(
    alice: User, staff: User
) -> None:
    """Rule 1 closes ordering, paying, renewing and transferring, not the way to ask about the
    new terms: opening a ticket and writing on it stay open."""
    api = api_for(alice)
    publish(api_for(staff), "Version one.")

    opened = api.post(
        "/tickets", {"department": "sales", "subject": "New terms", "body": "What changed?"}
    )
    replied = api.post(f"/tickets/{opened.json_body['id']}/messages", {"body": "And when?"})

    assert opened.status_code == 201, opened.json_body
    assert replied.status_code == 201, replied.json_body
