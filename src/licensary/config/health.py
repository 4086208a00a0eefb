"""Liveness and readiness for load balancers and orchestrators.

`/healthz`: this process answers (it touches nothing else, so a slow database never gets a
healthy web process restarted). `/readyz`: this deployment can do its work: the database
answers, every migration is applied, a worker beat less than two minutes ago and the lifecycle
sweep succeeded recently. 200 when all hold, 503 naming each check otherwise."""

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from licensary.jobs.health import last_rounds, last_worker_beat


@never_cache
@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"status": "ok"})


def _age(at: datetime | None, now: datetime) -> float | None:
    return None if at is None else round((now - at).total_seconds(), 1)


def _database() -> dict[str, Any]:
    try:
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": True}


def _migrations() -> dict[str, Any]:
    connection = connections[DEFAULT_DB_ALIAS]
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    pending = [f"{migration.app_label}.{migration.name}" for migration, _ in plan]
    return {"ok": not pending, "pending": pending}


def _worker(now: datetime) -> dict[str, Any]:
    max_age = timedelta(seconds=settings.READY_WORKER_SECONDS)
    seen = last_worker_beat()
    return {
        "ok": seen is not None and now - seen < max_age,
        "last_beat": seen.isoformat() if seen else None,
        "age_seconds": _age(seen, now),
        "max_age_seconds": max_age.total_seconds(),
    }


def _sweep(now: datetime) -> dict[str, Any]:
    max_age = timedelta(seconds=settings.READY_SWEEP_SECONDS)
    last = last_rounds().get("sweep")
    succeeded = last.succeeded_at if last else None
    return {
        "ok": succeeded is not None and now - succeeded < max_age,
        "last_started": last.started_at.isoformat() if last else None,
        "last_succeeded": succeeded.isoformat() if succeeded else None,
        "last_failed": bool(last and last.failed),
        "age_seconds": _age(succeeded, now),
        "max_age_seconds": max_age.total_seconds(),
    }


@never_cache
@require_GET
def readyz(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    checks: dict[str, dict[str, Any]] = {"database": _database()}
    if checks["database"]["ok"]:
        checks["migrations"] = _migrations()
        if checks["migrations"]["ok"]:
            checks["worker"] = _worker(now)
            checks["sweep"] = _sweep(now)
    ready = all(check["ok"] for check in checks.values()) and len(checks) == 4
    return JsonResponse(
        {"status": "ready" if ready else "not_ready", "checks": checks},
        status=200 if ready else 503,
    )
