"""Prometheus metrics at /metrics: the web processes' own counters (core/metrics.py) and, read
from the database at each scrape, what the whole deployment is doing: the job queue, dead jobs,
the worker's beat, lifecycle transitions, held orders past their target, webhook and mail
failures. A scrape costs a handful of aggregate queries.

Only for the operators: a bearer of `LICENSARY_METRICS_TOKEN`, or, with no token set, a caller
on this machine that came through no proxy (a reverse proxy on the same machine forwards public
requests from 127.0.0.1 with X-Forwarded-For: those are refused)."""

import hmac
import ipaddress
import os
from collections.abc import Iterator
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from licensary.audit.models import AuditEntry
from licensary.jobs.health import last_rounds, last_worker_beat, queue_state
from licensary.notifications.models import MailMessage, WebhookAttempt, WebhookMessage
from licensary.orders.models import Order

TRANSITIONS = (
    "license.issued",
    "license.renewed",
    "license.blocked",
    "license.canceled",
    "license.deleted",
    "license.transferred",
    "license.ip_changed",
)


class DeploymentCollector(Collector):
    """What the database says, as of this scrape."""

    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        queue = queue_state()
        yield GaugeMetricFamily(
            "licensary_jobs_ready", "Jobs due now that no worker has claimed.", value=queue.ready
        )
        oldest = (now - queue.oldest_ready_since).total_seconds() if queue.oldest_ready_since else 0
        yield GaugeMetricFamily(
            "licensary_jobs_oldest_ready_age_seconds",
            "How long the longest-waiting due job has waited (0 when none waits).",
            value=max(oldest, 0.0),
        )
        yield GaugeMetricFamily(
            "licensary_jobs_dead", "Dead jobs staff have not resolved.", value=queue.dead
        )
        beat = last_worker_beat()
        yield GaugeMetricFamily(
            "licensary_worker_last_beat_age_seconds",
            "Seconds since the last beat of any worker (-1: no worker ever beat).",
            value=(now - beat).total_seconds() if beat else -1,
        )
        rounds = GaugeMetricFamily(
            "licensary_periodic_last_success_age_seconds",
            "Seconds since each periodic work (the sweep, ...) last succeeded (-1: never).",
            labels=["name"],
        )
        for name, last in sorted(last_rounds().items()):
            age = (now - last.succeeded_at).total_seconds() if last.succeeded_at else -1
            rounds.add_metric([name], age)
        yield rounds

        done = dict.fromkeys(TRANSITIONS, 0)
        for row in (
            AuditEntry.objects.filter(action__in=TRANSITIONS)
            .values("action")
            .annotate(n=Count("id"))
            .order_by()
        ):
            done[row["action"]] = row["n"]
        transitions = CounterMetricFamily(
            "licensary_lifecycle_transitions",
            "License lifecycle transitions recorded in the audit log, by kind.",
            labels=["kind"],
        )
        for action, n in done.items():
            transitions.add_metric([action.removeprefix("license.")], n)
        yield transitions

        late = now - timedelta(hours=settings.LICENSARY["REVIEW_TARGET_HOURS"])
        held = Order.objects.filter(status=Order.Status.ON_HOLD).aggregate(
            all=Count("id"), overdue=Count("id", filter=Q(held_at__lte=late))
        )
        yield GaugeMetricFamily("licensary_orders_held", "Orders on hold.", value=held["all"])
        yield GaugeMetricFamily(
            "licensary_orders_held_overdue",
            "Orders held longer than the review target (48 hours by default).",
            value=held["overdue"],
        )

        yield CounterMetricFamily(
            "licensary_webhook_attempts_failed",
            "Webhook delivery attempts the receiver did not accept.",
            value=WebhookAttempt.objects.filter(outcome=WebhookAttempt.Outcome.FAILED).count(),
        )
        yield GaugeMetricFamily(
            "licensary_webhook_messages_failed",
            "Webhook messages that failed every attempt of their retry window.",
            value=WebhookMessage.objects.filter(status=WebhookMessage.Status.FAILED).count(),
        )
        yield GaugeMetricFamily(
            "licensary_mail_failed",
            "E-mails that failed every attempt.",
            value=MailMessage.objects.filter(status=MailMessage.Status.FAILED).count(),
        )


def _allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        return hmac.compare_digest(given.encode(), token.encode())
    if "HTTP_X_FORWARDED_FOR" in request.META:
        return False
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


def process_counters() -> CollectorRegistry:
    """Every web process's counters: summed from the multiprocess folder when serving with
    several processes, this process's own otherwise."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    return registry


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not _allowed(request):
        return JsonResponse(
            {"code": "permission_denied", "detail": "Metrics need the metrics token."},
            status=403,
        )
    deployment = CollectorRegistry(auto_describe=False)
    deployment.register(DeploymentCollector())
    body = generate_latest(process_counters()) + generate_latest(deployment)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
