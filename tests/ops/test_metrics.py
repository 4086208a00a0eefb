"""Issue 14 item 1: Prometheus metrics at /metrics, for the operators only: requests by route
and status, latency, the job queue, dead jobs, lifecycle transitions, held orders past 48 hours,
verification answers by status, webhook and mail failures."""

import re
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from licensary.accounts.models import User
from licensary.catalog.models import Product
from licensary.jobs.models import DeadJob
from tests.api.support import delivered_order, held_order, paid_order
from tests.helpers import OTHER_IP, PUBLIC_IP, api_for

pytestmark = pytest.mark.django_db


def scrape(**headers: str) -> Any:
    return Client().get("/metrics", **headers)


def value(text: str, name: str, **labels: str) -> float:
    """The sample `name{labels}` of an exposition; labels in any order, all must match."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        match = re.fullmatch(r"([a-z_]+)(?:\{(.*)\})? (\S+)", line)
        if match is None or match[1] != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match[2] or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(match[3])
    raise AssertionError(f"no sample {name}{labels} in\n{text}")


def test_metrics_count_requests_by_route_and_status_with_latency(alice: User) -> None:
    api = api_for(alice)
    before = scrape().content.decode()
    try:
        start = value(
            before, "licensary_http_requests_total", route="/api/v1/account", status="200"
        )
    except AssertionError:
        start = 0.0

    for _ in range(3):
        assert api.get("/account").status_code == 200
    assert api.get("/licenses/999999").status_code == 404

    text = scrape().content.decode()
    got = value(
        text, "licensary_http_requests_total", route="/api/v1/account", method="GET", status="200"
    )
    assert got == start + 3
    assert (
        value(
            text,
            "licensary_http_requests_total",
            route="/api/v1/licenses/<license_id>",
            status="404",
        )
        >= 1
    )
    assert (
        value(text, "licensary_http_request_duration_seconds_count", route="/api/v1/account") >= 3
    )


def test_metrics_read_the_queue_held_orders_transitions_and_dead_jobs(
    alice: User, bob: User, product: Product, staff: User
) -> None:
    delivered_order(alice, product, PUBLIC_IP, staff)  # one license.issued
    with time_machine.travel(timezone.now() - timedelta(hours=49), tick=False):
        held_order(bob, product, OTHER_IP, staff)  # held 49 hours ago: overdue
    paid_order(bob, product, "151.101.1.70", staff)  # its delivery job waits in the queue
    DeadJob.objects.create(
        task_path="x.y", arguments={}, attempts=5, error="boom", created_at=timezone.now()
    )

    text = scrape().content.decode()

    assert value(text, "licensary_orders_held") == 1
    assert value(text, "licensary_orders_held_overdue") == 1
    assert value(text, "licensary_jobs_ready") >= 1
    assert value(text, "licensary_jobs_oldest_ready_age_seconds") >= 0
    assert value(text, "licensary_jobs_dead") == 1
    assert value(text, "licensary_lifecycle_transitions_total", kind="issued") == 1
    assert value(text, "licensary_lifecycle_transitions_total", kind="blocked") == 0
    assert value(text, "licensary_worker_last_beat_age_seconds") == -1
    assert value(text, "licensary_webhook_messages_failed") == 0
    assert value(text, "licensary_mail_failed") == 0


def test_metrics_count_verification_answers_by_status(product: Product) -> None:
    before = scrape().content.decode()
    try:
        start = value(before, "licensary_verification_answers_total", status="unknown")
    except AssertionError:
        start = 0.0

    answer = Client().post(
        "/api/v1/verify",
        data={"product": product.slug, "nonce": "n" * 32},
        content_type="application/json",
    )

    assert answer.status_code == 200, answer.content
    text = scrape().content.decode()
    assert value(text, "licensary_verification_answers_total", status="unknown") == start + 1


def test_metrics_from_another_machine_are_refused() -> None:
    assert scrape(REMOTE_ADDR="203.0.113.9").status_code == 403


def test_metrics_through_a_proxy_on_this_machine_are_refused_without_the_token() -> None:
    # nginx on the same machine forwards the public's requests from 127.0.0.1.
    assert scrape(HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 403


def test_with_a_metrics_token_only_its_bearer_reads_them(settings: Any) -> None:
    settings.METRICS_TOKEN = "m3tr1cs-" + "s" * 32

    assert scrape().status_code == 403
    assert scrape(HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    good = scrape(HTTP_AUTHORIZATION=f"Bearer {settings.METRICS_TOKEN}", REMOTE_ADDR="10.0.0.5")
    assert good.status_code == 200
    assert good["Content-Type"].startswith("text/plain")
