"""A page of 50 out of 10,000 rows: how long the lists answer (issue 13 item 5).

    uv run python bench/lists.py [--rows 10000] [--db sqlite|postgres|both] [--repeat 7]

Each database runs in a child process with a fresh database (SQLite: a file under /tmp;
PostgreSQL: `licensary_bench_lists`, dropped and created again). The child migrates, makes
staff and alice through the services, then bulk-loads alice's N licenses, N paid invoices
(one line each), N completed orders and N audit entries about her and her first license
(`bulk_create`: the rows' shapes are the services' own, their making is not what is timed).
It then asks each list, in-process through Django's test client (the whole request: the
bearer token or the session, the visibility filter, keyset pagination, rendering), for its
first page of 50 and for a page deep in the list (after following the cursors, 200 rows at a
time, to row ~80%), each the median of `--repeat` calls after one warm-up.

The parent prints one row per list and page with the 100 ms target marked met or missed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from tables import markdown_table  # bench/ is this script's folder, first on sys.path

ROOT = Path(__file__).resolve().parent.parent
PG_SERVER = "postgres://postgres@127.0.0.1:5432"
PG_DATABASE = "licensary_bench_lists"
TARGET_MS = 100.0
PAGE = 50


@dataclass
class Row:
    database: str
    list: str
    page: str
    ms: float
    rows: int

    @property
    def met(self) -> bool:
        return self.ms < TARGET_MS


def _say(message: str) -> None:
    print(f"  [{os.environ.get('BENCH_DB', '?')}] {message}", file=sys.stderr, flush=True)


# --- the child: one database ---------------------------------------------------------------------


def _load(n: int) -> dict[str, Any]:
    from django.utils import timezone

    from licensary.accounts.services import account_create
    from licensary.audit.models import AuditEntry
    from licensary.billing.models import Invoice, InvoiceLine, InvoiceSequence
    from licensary.catalog.services import product_create
    from licensary.licenses.models import License
    from licensary.orders.models import Order

    staff = account_create(actor=None, kind="staff", email="sam@staff.test")
    alice = account_create(actor=None, kind="customer", email="alice@example.test")
    product = product_create(
        actor=staff, slug="panel", name="Panel Pro", kind="own", price=1000, setup_fee=500
    )
    now = timezone.now()
    start = now - timedelta(days=10)

    def ip(i: int) -> str:
        return f"93.{184 + i // 65536}.{(i // 256) % 256}.{i % 256}"

    licenses = License.objects.bulk_create(
        License(
            account=alice,
            product=product,
            kind="own",
            ip=ip(i),
            status="active",
            created_at=start,
            period_start=start,
            period_end=start + timedelta(days=30),
        )
        for i in range(n)
    )
    invoices = Invoice.objects.bulk_create(
        Invoice(
            number=i + 1,
            account=alice,
            purpose="order",
            status="paid",
            currency=product.currency,
            total=1500,
            issued_at=start,
            due_at=start + timedelta(days=7),
            paid_at=start,
        )
        for i in range(n)
    )
    InvoiceSequence.objects.update_or_create(name="invoice", defaults={"next_value": n + 1})
    InvoiceLine.objects.bulk_create(
        InvoiceLine(
            invoice=invoice,
            kind="license",
            description="Panel Pro",
            amount=1500,
            license=lic,
            period_start=lic.period_start,
            period_end=lic.period_end,
        )
        for invoice, lic in zip(invoices, licenses, strict=True)
    )
    Order.objects.bulk_create(
        Order(
            account=alice,
            created_by=alice,
            product=product,
            ip=lic.ip,
            status="completed",
            created_at=start,
            completed_at=start,
            invoice=invoice,
            license=lic,
        )
        for invoice, lic in zip(invoices, licenses, strict=True)
    )
    first = licenses[0]
    AuditEntry.objects.bulk_create(
        AuditEntry(
            created_at=start,
            actor=staff if i % 2 else alice,
            action="license.noted",
            object_type="license",
            object_id=str(first.pk),
            account_id=alice.pk,
            after={"n": i},
            prev_hash="0" * 64,
            hash=f"{i:064x}",
        )
        for i in range(n)
    )
    return {"staff": staff, "alice": alice, "license": first}


def _time(get: Any, path: str, repeat: int) -> tuple[float, Any]:
    response = get(path)  # warm-up
    assert response.status_code == 200, (path, response.status_code, response.content[:300])
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    return statistics.median(times), response


def _deep_cursor(get: Any, path: str, rows: int) -> str:
    """The cursor after about 80% of the rows, following the API's own cursors."""
    cursor, seen = None, 0
    join = "&" if "?" in path else "?"
    while seen < rows * 0.8:
        page = get(f"{path}{join}limit=200" + (f"&cursor={cursor}" if cursor else "")).json()
        seen += len(page["items"])
        cursor = page["next_cursor"]
        assert cursor, f"{path}: the list ended at {seen} rows"
    return cursor


def child(args: argparse.Namespace) -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from licensary.accounts.services import token_create

    call_command("migrate", verbosity=0)
    n = args.rows
    _say(f"loading {n:,} licenses, invoices, orders and history entries")
    cast = _load(n)
    database = (
        f"SQLite {connection.Database.sqlite_version}"
        if connection.vendor == "sqlite"
        else f"PostgreSQL {connection.pg_version // 10000}"
    )

    api_headers = {
        who: {"HTTP_AUTHORIZATION": f"Bearer {token_create(user=cast[who])[1]}"}
        for who in ("alice", "staff")
    }
    api = Client()
    browser = Client()
    browser.force_login(cast["alice"])
    lic = cast["license"].pk
    lists: list[tuple[str, str, Any]] = [
        (f"API {who}'s {path}", f"/api/v1{path}", lambda p, h=api_headers[who]: api.get(p, **h))
        for who, path in [
            ("alice", "/licenses"),
            ("alice", "/invoices"),
            ("alice", "/orders"),
            ("alice", "/account/history"),
            ("alice", f"/licenses/{lic}/history"),
            ("staff", "/licenses"),
            ("staff", "/orders"),
        ]
    ] + [
        (f"portal {path}", f"/portal{path}", browser.get)
        for path in ["/licenses/", "/orders/", "/invoices/", f"/licenses/{lic}/"]
    ]
    results = []
    for name, path, get in lists:
        join = "&" if "?" in path else "?"
        first = f"{path}{join}limit={PAGE}" if "/api/" in path else path
        ms, response = _time(get, first, args.repeat)
        rows = len(response.json()["items"]) if "/api/" in path else PAGE
        results.append(Row(database, name, "first", ms, rows))
        _say(f"{name}: first page {ms:.1f} ms")
        if f"/portal/licenses/{lic}/" == path:
            continue  # the license's page shows its first 50 entries; it takes no cursor
        if "/api/" in path:
            cursor = _deep_cursor(get, path, n)
            ms, response = _time(get, f"{path}{join}limit={PAGE}&cursor={cursor}", args.repeat)
            results.append(Row(database, name, "at ~80%", ms, len(response.json()["items"])))
        else:
            # The portal's pages follow the same selectors and cursors as the API's.
            same = "/api/v1" + path.removeprefix("/portal").rstrip("/")
            cursor = _deep_cursor(lambda p: api.get(p, **api_headers["alice"]), same, n)
            ms, _ = _time(get, f"{path}?cursor={cursor}", args.repeat)
            results.append(Row(database, name, "at ~80%", ms, PAGE))
        _say(f"{name}: deep page {ms:.1f} ms")
    Path(args.result).write_text(json.dumps([asdict(r) for r in results]))


# --- the parent ----------------------------------------------------------------------------------


def _recreate_pg_database(*, drop_only: bool = False) -> None:
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
        if not drop_only:
            conn.execute(f"CREATE DATABASE {PG_DATABASE}")


def _run(db: str, args: argparse.Namespace) -> list[Row]:
    data_dir = Path(tempfile.mkdtemp(prefix="licensary-bench-lists-"))
    env = {
        **os.environ,
        "LICENSARY_DATA_DIR": str(data_dir),
        "BENCH_DB": db,
        "DJANGO_SETTINGS_MODULE": "licensary.config.settings",
        "LICENSARY_DEBUG": "false",
        "LICENSARY_LOG_LEVEL": "WARNING",
        "LICENSARY_ALLOWED_HOSTS": "testserver",
        "LICENSARY_SECRET_KEY": "bench-lists-" + "x" * 40,
    }
    if db == "postgres":
        _recreate_pg_database()
        env["DATABASE_URL"] = f"{PG_SERVER}/{PG_DATABASE}"
    else:
        env["DATABASE_URL"] = f"sqlite:///{data_dir / 'bench.sqlite3'}"
    result_file = data_dir / "result.json"
    command = [sys.executable, __file__, "--child", "--rows", str(args.rows)]
    command += ["--repeat", str(args.repeat), "--result", str(result_file)]
    try:
        subprocess.run(command, env=env, check=True, cwd=ROOT)
        return [Row(**row) for row in json.loads(result_file.read_text())]
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
        if db == "postgres":
            _recreate_pg_database(drop_only=True)


def _table(rows: list[Row]) -> str:
    header = ("database", "list", "page of 50", "ms (median)", "< 100 ms")
    lines = [header] + [
        (r.database, r.list, r.page, f"{r.ms:.1f}", "met" if r.met else "MISSED") for r in rows
    ]
    return markdown_table(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="sqlite")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    load = os.getloadavg()[0]
    rows: list[Row] = []
    for db in ["sqlite", "postgres"] if args.db == "both" else [args.db]:
        rows += _run(db, args)
    import django

    print()
    print(
        f"{os.cpu_count()} cores, Python {platform.python_version()}, Django {django.__version__}, "
        f"{args.rows:,} rows per list; load average {load:.1f} before, "
        f"{os.getloadavg()[0]:.1f} after"
    )
    print(_table(rows))


if __name__ == "__main__":
    main()
