"""Rule 11: at most 3 IP changes per period. The count belongs to the period: an early renewal
extends the period end but begins no new period, so it does not give three more changes."""

from licensary.licenses.sweep import sweep
from tests.helpers import Api
from tests.licenses.support import DAY, START, customer_with_license, public_ip, renewal_invoices

PERIOD_END = START + 30 * DAY


def change_ip(api: Api, license_id: str, n: int) -> tuple[int, str | None]:
    response = api.post(f"/licenses/{license_id}/change-ip", {"ip": public_ip(n)})
    return response.status_code, response.json_body.get("code")


def renew(api: Api, license_id: str) -> None:
    sweep()  # issues the renewal invoice once the notice period has begun
    [invoice] = [i for i in renewal_invoices(license_id) if i.status == "unpaid"]
    paid = api.post(f"/invoices/{invoice.pk}/pay-with-credit")
    assert paid.status_code == 200, paid.json_body


def test_rule11_an_early_renewal_does_not_reset_the_ip_change_count(clock, alice, staff, product):
    api, license_id = customer_with_license(alice, staff, public_ip(0), credit=3000)
    assert [change_ip(api, license_id, n) for n in (1, 2, 3)] == [(200, None)] * 3
    clock.move_to(PERIOD_END - 5 * DAY)

    renew(api, license_id)

    assert change_ip(api, license_id, 4) == (409, "ip_change_limit")


def test_rule11_the_count_starts_again_when_the_next_period_begins(clock, alice, staff, product):
    api, license_id = customer_with_license(alice, staff, public_ip(0), credit=3000)
    assert [change_ip(api, license_id, n) for n in (1, 2, 3)] == [(200, None)] * 3
    clock.move_to(PERIOD_END - 5 * DAY)
    renew(api, license_id)

    clock.move_to(PERIOD_END + DAY)  # the renewed period has begun

    assert [change_ip(api, license_id, n) for n in (4, 5, 6, 7)] == [
        (200, None),
        (200, None),
        (200, None),
        (409, "ip_change_limit"),
    ]


def test_rule11_a_blocked_license_renewed_starts_a_new_period_and_a_new_count(
    clock, alice, staff, product
):
    api, license_id = customer_with_license(alice, staff, public_ip(0), credit=3000)
    assert [change_ip(api, license_id, n) for n in (1, 2, 3)] == [(200, None)] * 3
    clock.move_to(PERIOD_END + 2 * DAY)  # blocked, unpaid

    renew(api, license_id)

    assert api.get(f"/licenses/{license_id}").json_body["status"] == "active"
    assert change_ip(api, license_id, 4) == (200, None)
