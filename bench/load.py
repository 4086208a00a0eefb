"""A steady load on PostgreSQL: verification, lists, orders, payments and the webhook deliveries
they cause, at fixed rates, against 2 web and 2 job workers while the sweep runs.

    uv run python bench/load.py [--duration 300] [--verify-rate 100] [--list-rate 10]
                                [--order-rate 2] [--licenses 10000] [--due 2000]
                                [--fail-on-5xx] [--keep]

A throwaway database (`licensary_bench_load` on postgres://postgres@127.0.0.1:5432), migrated,
then (in a child process, through the services):
- the verify benchmark's base (`bench/verify/load.py`): `--licenses` active licenses, one on
  127.0.0.1, where the load calls from; `--due` of them fall due one after another over the
  run (their renewal invoices issued beforehand, as in production), so that every sweep round
  has licenses to block;
- an agent, carol, with 20 customers, credit for every order, an API token, and a webhook
  endpoint (`invoice.paid`, `order.completed`, `license.blocked`) on a receiver this script runs on
  127.0.0.1 (LICENSARY_ALLOW_PRIVATE_IPS=1 lets it be plain http there).

Then `licensary serve --workers 2` and two `licensary worker --sweep-every 20` processes, and an
open-loop load (asyncio and httpx: each request is sent at its scheduled time, whether or not
the earlier ones have been answered; latency counts from the scheduled time, so a server that
falls behind shows it): `POST /api/v1/verify` at `--verify-rate`; `GET /api/v1/licenses`,
`/invoices` and `/orders` (50 a page) at `--list-rate` between them; `POST /api/v1/orders` for
one of carol's customers at `--order-rate`, each followed by `POST
/api/v1/invoices/{id}/pay-with-credit`. The per-IP verify throttle is raised for the run
(LICENSARY_VERIFY_RATE), or it would measure 429s.

After the load it waits (up to 60 s) for every paid order to be delivered and every webhook
message to be answered, then prints a table per route (requests, rate, p50, p99, 2xx, 4xx,
5xx and socket errors), the webhook deliveries (messages, received, repeats by webhook-id,
lag), the sweep (rounds, licenses blocked) and the delivery of the paid orders, with the
target (no 5xx, no socket error, no error in the servers' logs) met or missed. `--fail-on-5xx`
exits 1 when it is missed (`.ci/run` runs a 30-second version). `--keep` keeps the database.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from tables import markdown_table  # noqa: E402

PG_SERVER = "postgres://postgres@127.0.0.1:5432"
PG_DATABASE = "licensary_bench_load"
CUSTOMERS = 20
NONCE = "bench-load-nonce-0123456789abcdef"
SWEEP_EVERY = 20.0
DRAIN_SECONDS = 60


def _say(message: str) -> None:
    print(f"  [load] {message}", file=sys.stderr, flush=True)


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


# --- the child: the data, through the services -------------------------------------------------


def setup(args: argparse.Namespace) -> None:
    """Migrate and load; print one JSON line for the parent."""
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (the console mail backend prints mails)
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone
    from verify.load import load

    from licensary.accounts.services import account_create, account_credit_adjust, token_create
    from licensary.catalog.services import product_create
    from licensary.jobs.runner import run_pending_jobs
    from licensary.licenses.models import License
    from licensary.notifications.services import endpoint_create

    load(args.licenses)  # the verify base: product bench-verify, one license on 127.0.0.1
    now = timezone.now()
    due = list(
        License.objects.exclude(ip="127.0.0.1")
        .order_by("pk")
        .values_list("pk", flat=True)[: args.due]
    )
    with connection.cursor() as cursor:  # due one after another over the run, from its start
        span = max(1.0, args.duration)
        for i, pk in enumerate(due):
            end = now + timedelta(seconds=10 + span * i / max(1, len(due)))
            cursor.execute(
                "UPDATE licenses_license SET period_end = %s, renewal_invoiced_for = %s "
                "WHERE id = %s",
                [end, end, pk],
            )
    staff = account_create(actor=None, kind="staff", email="sam@staff.test")
    carol = account_create(actor=None, kind="agent", email="carol@agent.test")
    customers = [
        account_create(actor=carol, kind="customer", email=f"c{i}@shop.test", agent=carol).pk
        for i in range(CUSTOMERS)
    ]
    product_create(actor=staff, slug="panel", name="Panel Pro", kind="own", price=1000)
    account_credit_adjust(account=carol, amount=10**10, note="bench", actor=staff)
    endpoint_create(
        actor=carol,
        url=args.receiver,
        events=["invoice.paid", "order.completed", "license.blocked"],
    )
    _, token = token_create(user=carol, name="load", actor=carol)
    run_pending_jobs()  # the set-up's own mails and events: the run starts with an empty queue
    sys.stdout = sys.__stdout__
    print(json.dumps({"token": token, "customers": customers, "due": len(due)}))


def summary_of_database(started_at: float) -> dict[str, Any]:
    """Read after the run (a child process): what the workers did."""
    import django

    django.setup()
    from datetime import UTC, datetime

    from licensary.audit.models import AuditEntry
    from licensary.jobs.models import DeadJob, PeriodicRun
    from licensary.notifications.models import WebhookMessage
    from licensary.orders.models import Order

    since = datetime.fromtimestamp(started_at, UTC)
    sweep = PeriodicRun.objects.filter(name="sweep").first()
    return {
        "blocked": AuditEntry.objects.filter(
            action="license.blocked", created_at__gte=since
        ).count(),
        "orders_paid": Order.objects.filter(invoice__paid_at__isnull=False).count(),
        "orders_completed": Order.objects.filter(status="completed").count(),
        "webhook_messages": WebhookMessage.objects.count(),
        "webhook_pending": WebhookMessage.objects.filter(status="pending").count(),
        "webhook_failed": WebhookMessage.objects.filter(status="failed").count(),
        "dead_jobs": DeadJob.objects.count(),
        "sweep_failed": bool(sweep and sweep.failed),
    }


# --- the parent: the receiver, the servers, the load ---------------------------------------------


class Receiver:
    """The agent's webhook receiver: counts each delivery by its webhook-id, answers 200."""

    def __init__(self) -> None:
        self.ids: Counter[str] = Counter()
        self.lags: list[float] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                owner.ids[self.headers.get("webhook-id", "")] += 1
                sent = self.headers.get("webhook-timestamp")
                if sent and sent.isdigit():
                    owner.lags.append(time.time() - int(sent))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"


@dataclass
class Route:
    name: str
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)

    def record(self, scheduled: float, status: str) -> None:
        self.latencies.append((time.monotonic() - scheduled) * 1000)
        self.statuses[status] += 1

    @property
    def count(self) -> int:
        return sum(self.statuses.values())

    def of(self, family: str) -> int:
        return sum(n for s, n in self.statuses.items() if s.startswith(family))


class Load:
    def __init__(self, base: str, token: str, customers: list[int], duration: float) -> None:
        self.base = base
        self.token = token
        self.customers = customers
        self.duration = duration
        self.routes: dict[str, Route] = {}
        self.addresses = (
            f"93.{a}.{b}.{c}"
            for a, b, c in itertools.product(range(100, 200), range(256), range(1, 255))
        )
        self.tasks: set[asyncio.Task[None]] = set()

    def route(self, name: str) -> Route:
        return self.routes.setdefault(name, Route(name))

    async def call(
        self,
        client: httpx.AsyncClient,
        name: str,
        scheduled: float,
        method: str,
        path: str,
        **kwargs: Any,
    ) -> httpx.Response | None:
        try:
            answer = await client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            self.route(name).record(scheduled, f"error {type(exc).__name__}")
            return None
        status = str(answer.status_code)
        if answer.status_code >= 400:  # the refusal's code, for reading the table's columns
            with contextlib.suppress(ValueError):
                status += f" {answer.json().get('code', '')}"
        self.route(name).record(scheduled, status)
        return answer

    async def verify(self, client: httpx.AsyncClient, scheduled: float) -> None:
        await self.call(
            client,
            "POST /api/v1/verify",
            scheduled,
            "POST",
            "/api/v1/verify",
            json={"product": "bench-verify", "nonce": NONCE},
        )

    async def listing(self, client: httpx.AsyncClient, scheduled: float, which: str) -> None:
        await self.call(
            client,
            f"GET /api/v1/{which}",
            scheduled,
            "GET",
            f"/api/v1/{which}?limit=50",
            headers=self.auth(),
        )

    async def order_and_pay(self, client: httpx.AsyncClient, scheduled: float, n: int) -> None:
        body = {
            "product": "panel",
            "ip": next(self.addresses),
            "account": str(self.customers[n % len(self.customers)]),
        }
        made = await self.call(
            client,
            "POST /api/v1/orders",
            scheduled,
            "POST",
            "/api/v1/orders",
            json=body,
            headers=self.auth(f"order-{n}"),
        )
        if made is None or made.status_code != 201:
            return
        invoice = made.json()["invoice"]
        await self.call(
            client,
            "POST /api/v1/invoices/{id}/pay-with-credit",
            time.monotonic(),
            "POST",
            f"/api/v1/invoices/{invoice}/pay-with-credit",
            headers=self.auth(f"pay-{n}"),
        )

    def auth(self, key: str | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token}"}
        if key:
            headers["Idempotency-Key"] = f"bench-load-{key}"
        return headers

    async def at_rate(self, rate: float, make: Any) -> None:
        """`make(scheduled, n)` at `rate` a second for the duration, each in its own task."""
        if rate <= 0:
            return
        started = time.monotonic()
        for n in itertools.count():
            scheduled = started + n / rate
            if scheduled - started >= self.duration:
                return
            delay = scheduled - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(make(scheduled, n))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def run(self, args: argparse.Namespace) -> None:
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        timeout = httpx.Timeout(30.0)
        lists = ("licenses", "invoices", "orders")
        async with httpx.AsyncClient(base_url=self.base, limits=limits, timeout=timeout) as client:
            await asyncio.gather(
                self.at_rate(args.verify_rate, lambda s, n: self.verify(client, s)),
                self.at_rate(
                    args.list_rate, lambda s, n: self.listing(client, s, lists[n % len(lists)])
                ),
                self.at_rate(args.order_rate, lambda s, n: self.order_and_pay(client, s, n)),
            )
            if self.tasks:
                await asyncio.wait(set(self.tasks), timeout=60)


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _recreate_database(*, drop_only: bool = False) -> None:
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
        if not drop_only:
            conn.execute(f"CREATE DATABASE {PG_DATABASE}")


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _errors_in(logs: list[Path]) -> list[str]:
    found = []
    for log in logs:
        for line in log.read_text(errors="replace").splitlines():
            if '"level": "error"' in line or '"level": "critical"' in line or "Traceback" in line:
                found.append(f"{log.name}: {line[:300]}")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=300, help="seconds of load")
    parser.add_argument("--verify-rate", type=float, default=100)
    parser.add_argument("--list-rate", type=float, default=10)
    parser.add_argument("--order-rate", type=float, default=2)
    parser.add_argument("--licenses", type=int, default=10000)
    parser.add_argument("--due", type=int, default=2000, help="licenses falling due in the run")
    parser.add_argument("--fail-on-5xx", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--child", choices=["setup", "summary"], help=argparse.SUPPRESS)
    parser.add_argument("--receiver", help=argparse.SUPPRESS)
    parser.add_argument("--since", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "setup":
        return setup(args)
    if args.child == "summary":
        print(json.dumps(summary_of_database(args.since)))
        return None

    work = Path(tempfile.mkdtemp(prefix="licensary-bench-load-"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "licensary.config.settings",
        "DATABASE_URL": f"{PG_SERVER}/{PG_DATABASE}",
        "LICENSARY_DATA_DIR": str(work),
        "LICENSARY_SECRET_KEY": "bench-load-" + "x" * 40,
        "LICENSARY_DEBUG": "false",
        "LICENSARY_SECURE": "false",
        "LICENSARY_ALLOWED_HOSTS": "127.0.0.1",
        "LICENSARY_ALLOW_PRIVATE_IPS": "true",
        "LICENSARY_AGENTS_MUST_BE_VERIFIED": "false",
        "LICENSARY_VERIFY_RATE": "100000000/m",
        "LICENSARY_LOG_LEVEL": "WARNING",
    }
    receiver = Receiver()
    processes: list[subprocess.Popen[bytes]] = []
    logs: list[Path] = []
    _recreate_database()
    try:
        _say(f"loading {args.licenses:,} licenses, {CUSTOMERS} customers of an agent ({work})")
        made = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                "setup",
                "--receiver",
                receiver.url,
                "--licenses",
                str(args.licenses),
                "--due",
                str(args.due),
                "--duration",
                str(args.duration),
            ],
            env=env,
            check=True,
            cwd=ROOT,
            stdout=subprocess.PIPE,
        )
        data = json.loads(made.stdout.decode().strip().splitlines()[-1])
        port = _free_port()
        commands = {
            "web": [
                sys.executable,
                "-m",
                "licensary.cli",
                "serve",
                "--workers",
                "2",
                "--port",
                str(port),
            ],
            "worker-1": [
                sys.executable,
                "-m",
                "licensary.cli",
                "worker",
                "--sweep-every",
                str(SWEEP_EVERY),
            ],
            "worker-2": [
                sys.executable,
                "-m",
                "licensary.cli",
                "worker",
                "--sweep-every",
                str(SWEEP_EVERY),
            ],
        }
        for name, command in commands.items():
            log = work / f"{name}.log"
            logs.append(log)
            processes.append(
                subprocess.Popen(
                    command,
                    env=env,
                    cwd=ROOT,
                    stdout=log.open("wb"),
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                sys.exit(
                    "the servers did not start:\n"
                    + "\n".join(log.read_text(errors="replace")[-2000:] for log in logs)
                )
            time.sleep(0.5)

        rates = (
            f"verify {args.verify_rate:g}/s, lists {args.list_rate:g}/s, "
            f"orders {args.order_rate:g}/s each paid"
        )
        _say(f"load for {args.duration:g} s: {rates}")
        load_before = os.getloadavg()[0]
        started_at = time.time()
        load = Load(base, data["token"], data["customers"], args.duration)
        asyncio.run(load.run(args))
        elapsed = time.time() - started_at
        load_after = os.getloadavg()[0]

        _say(f"waiting up to {DRAIN_SECONDS} s for the deliveries and webhooks to finish")
        summary: dict[str, Any] = {}
        deadline = time.monotonic() + DRAIN_SECONDS
        while True:
            summary = json.loads(
                subprocess.run(
                    [sys.executable, __file__, "--child", "summary", "--since", str(started_at)],
                    env=env,
                    check=True,
                    cwd=ROOT,
                    stdout=subprocess.PIPE,
                )
                .stdout.decode()
                .strip()
                .splitlines()[-1]
            )
            done = (
                summary["orders_completed"] >= summary["orders_paid"]
                and summary["webhook_pending"] == 0
            )
            if done or time.monotonic() > deadline:
                break
            time.sleep(2)
    finally:
        _stop(processes)
        receiver.server.shutdown()
        if not args.keep:
            _recreate_database(drop_only=True)

    rows = [["route", "requests", "req/s", "p50 ms", "p99 ms", "2xx", "4xx", "5xx", "errors"]]
    for route in sorted(load.routes.values(), key=lambda r: -r.count):
        rows.append(
            [
                route.name,
                f"{route.count:,}",
                f"{route.count / elapsed:.1f}",
                f"{_percentile(route.latencies, 0.5):.1f}",
                f"{_percentile(route.latencies, 0.99):.1f}",
                str(route.of("2")),
                str(route.of("4")),
                str(route.of("5")),
                str(route.of("error")),
            ]
        )
    refusals = Counter(
        f"{route.name}: {status}"
        for route in load.routes.values()
        for status, n in route.statuses.items()
        if not status.startswith("2")
        for _ in range(n)
    )
    server_5xx = sum(r.of("5") for r in load.routes.values())
    socket_errors = sum(r.of("error") for r in load.routes.values())
    logged = _errors_in(logs)
    repeats = sum(n - 1 for n in receiver.ids.values() if n > 1)
    print()
    print(
        f"PostgreSQL, 2 web workers (granian) + 2 job workers (sweep every {SWEEP_EVERY:g} s); "
        f"{args.duration:g} s at {rates}; {args.licenses:,} licenses, {data['due']:,} falling "
        f"due; load average {load_before:.2f} -> {load_after:.2f} on {os.cpu_count()} cores"
    )
    print()
    print(markdown_table(rows))
    print()
    print(
        markdown_table(
            [
                ["after the load", "figure"],
                [
                    "orders paid / delivered",
                    f"{summary['orders_paid']} / {summary['orders_completed']}",
                ],
                [
                    "webhook messages / received (distinct webhook-id) / repeats",
                    f"{summary['webhook_messages']} / {len(receiver.ids)} / {repeats}",
                ],
                [
                    "webhook lag p50 / p99 s (sent -> received)",
                    f"{_percentile(receiver.lags, 0.5):.1f} / "
                    f"{_percentile(receiver.lags, 0.99):.1f}",
                ],
                [
                    "webhook messages pending / failed",
                    f"{summary['webhook_pending']} / {summary['webhook_failed']}",
                ],
                ["licenses blocked by the sweep during the run", str(summary["blocked"])],
                ["dead jobs", str(summary["dead_jobs"])],
                ["errors in the servers' logs", str(len(logged))],
            ]
        )
    )
    for refusal, n in refusals.most_common(10):
        print(f"  {n} x {refusal}")
    for line in logged[:10]:
        print(f"  {line}")
    met = server_5xx == 0 and socket_errors == 0 and not logged and summary["dead_jobs"] == 0
    print()
    print(
        f"target: no 5xx, no socket error, no logged error, no dead job: "
        f"{'met' if met else 'MISSED'} ({server_5xx} 5xx, {socket_errors} socket errors, "
        f"{len(logged)} logged errors, {summary['dead_jobs']} dead jobs)"
    )
    if args.fail_on_5xx and not met:
        sys.exit(1)
    return None


if __name__ == "__main__":
    main()
