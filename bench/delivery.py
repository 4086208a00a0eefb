"""Payment -> active license with the worker running: how long delivery takes (issue 13 item 4).

    uv run python bench/delivery.py [--orders 1000] [--db sqlite|postgres|both] [--rate 5]
                                    [--workers 1] [--poll-ms 1000[,100...]] [--sqlite-poll-ms ...]

Each run gets a fresh database (SQLite: a file under /tmp; PostgreSQL:
`licensary_bench_delivery`, dropped and created again) and a child process of this script:

1. migrates; makes staff, one customer with enough credit and one own product; places N
   orders through `order_create` (each issues its invoice), and runs the jobs they queued
   (their mails) in-process, so the timed part starts with an empty queue;
2. starts the real worker process(es), `licensary worker`, with `LICENSARY_JOB_POLL_MS`;
3. pays the N invoices with `invoice_pay_with_credit` at a steady `--rate` per second (open
   loop: a payment never waits for the deliveries before it), as customers paying would;
4. waits for N active licenses, then reads each one's latency from the database:
   `License.created_at - Invoice.paid_at` (both stamped inside their transactions on the same
   clock; a commit adds a few milliseconds on each side).

The parent prints p50 / p99 / max per run with the 1 s target marked met or missed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from tables import markdown_table  # bench/ is this script's folder, first on sys.path

ROOT = Path(__file__).resolve().parent.parent
PG_SERVER = "postgres://postgres@127.0.0.1:5432"
PG_DATABASE = "licensary_bench_delivery"
TARGET_P99_S = 1.0


@dataclass
class Result:
    database: str
    poll_ms: int
    workers: int
    orders: int
    rate: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    paying_s: float
    load_average: tuple[float, float]

    @property
    def met(self) -> bool:
        return self.p99_ms < TARGET_P99_S * 1000


def _say(message: str) -> None:
    print(f"  [{os.environ.get('BENCH_RUN', '?')}] {message}", file=sys.stderr, flush=True)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


# --- the child: one database, its workers, the payments ----------------------------------------


def _wait_for_active(count: int) -> None:
    from licensary.licenses.models import License

    deadline = time.monotonic() + 300
    while License.objects.filter(status="active").count() < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"{count} licenses were not all delivered within 5 minutes")
        time.sleep(0.05)


def child(args: argparse.Namespace) -> None:
    import django

    django.setup()
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (the console mail backend prints each mail)
    from django.core.management import call_command
    from django.db import connection

    from licensary.accounts.services import account_create, account_credit_adjust
    from licensary.billing.services import invoice_pay_with_credit
    from licensary.catalog.services import product_create
    from licensary.jobs.runner import run_pending_jobs
    from licensary.orders.models import Order
    from licensary.orders.services import order_create

    call_command("migrate", verbosity=0)
    staff = account_create(actor=None, kind="staff", email="sam@staff.test")
    alice = account_create(actor=None, kind="customer", email="alice@example.test")
    product = product_create(
        actor=staff, slug="panel", name="Panel Pro", kind="own", price=1000, setup_fee=500
    )
    n = args.orders
    account_credit_adjust(account=alice, amount=1500 * (n + 1), note="bench", actor=staff)
    _say(f"placing {n} orders")
    orders = [
        order_create(actor=alice, product=product, ip=f"93.184.{i // 250}.{1 + i % 250}")
        for i in range(n + 1)
    ]
    warm_up, orders = orders[0], orders[1:]
    run_pending_jobs()  # the order mails: the timed part starts with an empty queue

    env = {**os.environ, "LICENSARY_JOB_POLL_MS": str(args.poll_ms)}
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "licensary.cli", "worker"],
            env=env,
            stdout=subprocess.DEVNULL,  # the console mail backend prints every mail
            cwd=ROOT,
        )
        for _ in range(args.workers)
    ]
    try:
        # One untimed delivery first: the workers have started (Django, a first look at the
        # queue, LISTEN on PostgreSQL) before the clock runs.
        invoice_pay_with_credit(invoice=warm_up.invoice, actor=alice)
        _wait_for_active(1)
        time.sleep(2)  # and the other workers, if any
        _say(f"paying {n} invoices at {args.rate}/s with {args.workers} worker(s)")
        load_before = os.getloadavg()[0]
        started = time.monotonic()
        for i, order in enumerate(orders):
            delay = started + i / args.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            invoice_pay_with_credit(invoice=order.invoice, actor=alice)
        paying_s = time.monotonic() - started
        _wait_for_active(n + 1)
        load_after = os.getloadavg()[0]
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.wait(timeout=30)

    latencies = [
        (created - paid).total_seconds() * 1000
        for paid, created in Order.objects.filter(pk__in=[o.pk for o in orders]).values_list(
            "invoice__paid_at", "license__created_at"
        )
    ]
    assert len(latencies) == n, f"{len(latencies)} licenses for {n} orders"
    result = Result(
        database=f"{connection.vendor} {connection.Database.sqlite_version}"
        if connection.vendor == "sqlite"
        else f"postgresql {connection.pg_version // 10000}",
        poll_ms=args.poll_ms,
        workers=args.workers,
        orders=n,
        rate=args.rate,
        p50_ms=_percentile(latencies, 0.50),
        p99_ms=_percentile(latencies, 0.99),
        max_ms=max(latencies),
        paying_s=paying_s,
        load_average=(load_before, load_after),
    )
    Path(args.result).write_text(json.dumps(asdict(result)))


# --- the parent: a fresh database per run, the table --------------------------------------------


def _recreate_pg_database(*, drop_only: bool = False) -> None:
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
        if not drop_only:
            conn.execute(f"CREATE DATABASE {PG_DATABASE}")


def _run(db: str, poll_ms: int, args: argparse.Namespace) -> Result:
    data_dir = Path(tempfile.mkdtemp(prefix="licensary-bench-delivery-"))
    env = {
        **os.environ,
        "LICENSARY_DATA_DIR": str(data_dir),
        "BENCH_RUN": f"{db}, poll {poll_ms} ms",
        "DJANGO_SETTINGS_MODULE": "licensary.config.settings",
        "LICENSARY_DEBUG": "false",
        "LICENSARY_LOG_LEVEL": "WARNING",
        "LICENSARY_SECRET_KEY": "bench-delivery-" + "x" * 40,
    }
    if db == "postgres":
        _recreate_pg_database()
        env["DATABASE_URL"] = f"{PG_SERVER}/{PG_DATABASE}"
    else:
        env["DATABASE_URL"] = f"sqlite:///{data_dir / 'bench.sqlite3'}"
    result_file = data_dir / "result.json"
    command = [
        sys.executable,
        __file__,
        "--child",
        "--orders",
        str(args.orders),
        "--rate",
        str(args.rate),
        "--workers",
        str(args.workers),
        "--poll-ms",
        str(poll_ms),
        "--result",
        str(result_file),
    ]
    try:
        subprocess.run(command, env=env, check=True, cwd=ROOT)
        data = json.loads(result_file.read_text())
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
        if db == "postgres":
            _recreate_pg_database(drop_only=True)
    return Result(**{**data, "load_average": tuple(data["load_average"])})


def _table(results: list[Result]) -> str:
    header = ("database", "poll ms", "workers", "orders", "p50 ms", "p99 ms", "max ms", "p99 < 1 s")
    lines = [header] + [
        (
            r.database,
            str(r.poll_ms),
            str(r.workers),
            f"{r.orders:,} at {r.rate:g}/s",
            f"{r.p50_ms:.0f}",
            f"{r.p99_ms:.0f}",
            f"{r.max_ms:.0f}",
            "met" if r.met else "MISSED",
        )
        for r in results
    ]
    return markdown_table(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--rate", type=float, default=5.0, help="payments per second")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--poll-ms", default="1000", help="PostgreSQL's fallback poll, comma-separated to compare"
    )
    parser.add_argument(
        "--sqlite-poll-ms", default=None, help="SQLite's poll(s), default --poll-ms"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.poll_ms = int(args.poll_ms)
        child(args)
        return

    runs: list[tuple[str, int]] = []
    for db in ["sqlite", "postgres"] if args.db == "both" else [args.db]:
        polls = args.sqlite_poll_ms if db == "sqlite" and args.sqlite_poll_ms else args.poll_ms
        runs += [(db, int(ms)) for ms in polls.split(",")]
    results = [_run(db, poll_ms, args) for db, poll_ms in runs]
    import django

    print()
    print(
        f"{os.cpu_count()} cores, Python {platform.python_version()}, Django {django.__version__},"
        f" load average before/after each run: "
        + ", ".join(f"{r.load_average[0]:.1f}/{r.load_average[1]:.1f}" for r in results)
    )
    print(_table(results))


if __name__ == "__main__":
    main()
