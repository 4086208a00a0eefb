"""Rule 5 in the license reads: `GET /licenses` and `/licenses/{id}` say what verification says,
the status the rules give the license now, even when no sweep has run since it became due;
and `?status=` finds the license by that status."""

from licensary.core.dates import add_months
from licensary.licenses.models import License
from tests.helpers import PUBLIC_IP
from tests.licenses.support import DAY, START, at, customer_with_license

PERIOD_END = START + 30 * DAY


def test_rule5_a_license_past_its_period_end_reads_as_blocked_without_a_sweep(
    clock, alice, staff, product
):
    api, license_id = customer_with_license(alice, staff, PUBLIC_IP)
    clock.move_to(PERIOD_END + DAY)  # due to block; no sweep has run

    detail = api.get(f"/licenses/{license_id}").json_body
    listed = api.get("/licenses").json_body["items"]

    assert (detail["status"], at(detail["blocked_at"])) == ("blocked", PERIOD_END)
    assert at(detail["renewable_until"]) == add_months(PERIOD_END, 4)
    assert [(item["id"], item["status"]) for item in listed] == [(license_id, "blocked")]


def test_rule5_the_status_filter_finds_a_license_by_its_status_now(clock, alice, staff, product):
    api, license_id = customer_with_license(alice, staff, PUBLIC_IP)
    clock.move_to(PERIOD_END + DAY)

    blocked = api.get("/licenses?status=blocked").json_body["items"]
    active = api.get("/licenses?status=active").json_body["items"]

    assert [item["id"] for item in blocked] == [license_id]
    assert active == []
    # Finding it by its status brought the license itself up to date, recorded as the sweep.
    assert License.objects.get(pk=license_id).status == "blocked"


def test_rule5_a_license_blocked_a_week_reads_as_canceled(clock, alice, staff, product):
    api, license_id = customer_with_license(alice, staff, PUBLIC_IP)
    clock.move_to(PERIOD_END + 8 * DAY)

    detail = api.get(f"/licenses/{license_id}").json_body
    canceled = api.get("/licenses?status=canceled").json_body["items"]

    assert (detail["status"], at(detail["canceled_at"]), detail["cancel_reason"]) == (
        "canceled",
        PERIOD_END + 7 * DAY,
        "unpaid",
    )
    assert [item["id"] for item in canceled] == [license_id]
