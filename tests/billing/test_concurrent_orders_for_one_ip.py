"""Rules 2 and 3 under concurrency: twenty accounts buy the same product for the same IP at
once; one license is issued and the other nineteen orders wait for staff review."""

from datetime import datetime

import pytest

from licensary.jobs.runner import run_pending_jobs
from licensary.ledger.services import account_credit
from licensary.licenses.models import License
from licensary.orders.models import Order
from tests.concurrency import errors, require_postgres, run_concurrently
from tests.helpers import PUBLIC_IP, api_for, give_credit, make_account, run_jobs

BUYERS = 20


def run_jobs_in_two_workers() -> None:
    ran = run_concurrently(lambda _: run_pending_jobs(), 2)
    assert not errors(ran), ran
    assert sum(ran) >= BUYERS  # every delivery ran once, split between the two workers


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "run_delivery", [run_jobs, run_jobs_in_two_workers], ids=["one_worker", "two_workers"]
)
def test_twenty_buyers_of_one_ip_get_one_license_and_nineteen_held_orders(
    run_delivery, product, staff
):
    require_postgres()
    buyers = [make_account(f"buyer{i}@example.test") for i in range(BUYERS)]
    for buyer in buyers:
        give_credit(buyer, 2000, staff)
    apis = [api_for(buyer) for buyer in buyers]

    def order_and_pay(i: int) -> tuple[int, int, str]:
        created = apis[i].post("/orders", {"product": "panel", "ip": PUBLIC_IP})
        assert created.status_code == 201, created.json_body
        paid = apis[i].post(f"/invoices/{created.json_body['invoice']}/pay-with-credit")
        return created.status_code, paid.status_code, created.json_body["id"]

    results = run_concurrently(order_and_pay, BUYERS)
    assert not errors(results), errors(results)
    assert [(created, paid) for created, paid, _ in results] == [(201, 200)] * BUYERS
    assert all(account_credit(buyer).amount == 500 for buyer in buyers)
    assert Order.objects.filter(status=Order.Status.PROCESSING).count() == BUYERS

    run_delivery()

    lic = License.objects.get()
    assert (lic.status, lic.ip, lic.product_id) == ("active", PUBLIC_IP, product.pk)
    completed = Order.objects.get(status=Order.Status.COMPLETED)
    assert completed.license_id == lic.pk
    assert completed.account_id == lic.account_id
    held = list(Order.objects.filter(status=Order.Status.ON_HOLD).order_by("held_at", "pk"))
    assert len(held) == BUYERS - 1
    assert {o.hold_reason for o in held} == {"ip_registered_here"}
    assert all(o.held_at is not None and o.license_id is None for o in held)
    assert Order.objects.count() == BUYERS

    queue = api_for(staff).get("/review-queue")
    assert queue.status_code == 200, queue.json_body
    items = queue.json_body["items"]
    assert [item["id"] for item in items] == [str(o.pk) for o in held]
    assert {item["hold_reason"] for item in items} == {"ip_registered_here"}
    assert not any(item["overdue"] for item in items)
    held_times = [datetime.fromisoformat(item["held_at"]) for item in items]
    assert held_times == sorted(held_times)  # oldest first
