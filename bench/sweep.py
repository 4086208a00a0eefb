"""How long the lifecycle sweep takes to block N due licenses, against one raw SQL UPDATE.

    uv run python bench/sweep.py [--rows 1000000] [--db sqlite|postgres|both] [--batch N]

Each database runs in a child process of this script with its own throwaway database
(SQLite: a file under /tmp; PostgreSQL: `licensary_bench`, dropped and created again), so
DATABASE_URL and LICENSARY_DATA_DIR are set before Django starts. The child:

1. migrates, creates a few accounts and one own product through the ORM, then loads N
   `active` licenses by bulk SQL (`generate_series` / a recursive CTE), their period ended
   1 to 5 days ago (six distinct end times, so only the block step is due), each with the
   unpaid renewal invoice and `renewal` line issued before the end (as in production), so
   the sweep's renewal-invoice step finds nothing to issue;
2. times the floor: ONE `UPDATE licenses_license SET status='blocked', blocked_at=period_end
   WHERE status='active' AND period_end <= now`;
3. puts the rows back (one UPDATE, then a full rewrite: VACUUM FULL / VACUUM), so the
   sweep starts from the same physical state as the floor;
4. times `licensary.licenses.sweep.sweep()`, the real function with its batch size, which
   moves the same rows active -> blocked with one audit entry each;
5. checks that exactly N licenses are blocked, N `license.blocked` entries exist, that a
   second sweep changes nothing and that `audit verify` holds (not timed).

The parent prints one table row per database, each marked against the target (the sweep
within TARGET_RATIO times the raw UPDATE), and the machine it ran on.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bulk import insert_select
from tables import markdown_table  # bench/ is this script's folder, first on sys.path

ROOT = Path(__file__).resolve().parent.parent
PG_SERVER = "postgres://postgres@127.0.0.1:5432"
PG_DATABASE = "licensary_bench"
ACCOUNTS = 20
SPREAD_SECONDS = 5 * 86400  # due periods ended 1 hour to 5 days ago
MAX_ROWS = 2**24  # the IPs are 10.x.y.z from the row number
TARGET_RATIO = 2.0  # issue 13: the sweep within 2x of the raw UPDATE of the same rows


@dataclass
class Result:
    database: str
    version: str
    rows: int
    batch: int
    load_s: float
    raw_update_s: float
    sweep_s: float
    second_sweep_s: float
    setting: str
    load_average: tuple[float, float]  # 1-minute load average before and after the sweep
    verify_s: float = 0.0  # `audit verify` over the whole chain afterwards (not timed above)
    digests: int = 0  # digest links the sweep wrote

    @property
    def ratio(self) -> float:
        return self.sweep_s / self.raw_update_s

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.sweep_s

    @property
    def target(self) -> str:
        return "met" if self.ratio <= TARGET_RATIO else "missed"


# --- the child: one database ------------------------------------------------------------------


def _say(message: str) -> None:
    print(f"  [{os.environ.get('BENCH_DB', '?')}] {message}", flush=True)


def _case(column: str, mapping: dict[Any, Any]) -> tuple[str, list[Any]]:
    """`CASE column WHEN k THEN v ... END` with its parameters."""
    sql = "CASE " + column + "".join(" WHEN %s THEN %s" for _ in mapping) + " END"
    return sql, [p for pair in mapping.items() for p in pair]


def _pick(index_sql: str, values: list[Any]) -> tuple[str, list[Any]]:
    """`values[index % len(values)]` in SQL."""
    return _case(f"({index_sql}) %% {len(values)}", dict(enumerate(values)))


Sql = tuple[str, list[Any]]


def _load(rows: int, now: datetime, end_times: int) -> None:
    from django.db import connection, transaction

    from licensary.accounts.models import User
    from licensary.billing.models import Invoice, InvoiceLine, InvoiceSequence
    from licensary.catalog.models import Product
    from licensary.licenses.models import License

    adapt = connection.ops.adapt_datetimefield_value
    accounts = [User.objects.create_user(f"bench{i}@example.com").pk for i in range(ACCOUNTS)]
    product = Product.objects.create(
        slug="bench-own", name="Bench Own", kind="own", price=1000, currency="USD"
    )
    if connection.vendor == "postgresql":
        series = "WITH seq(g) AS (SELECT generate_series(1, %s))"
        ip = "('10.' || ((g >> 16) & 255) || '.' || ((g >> 8) & 255) || '.' || (g & 255))::inet"
        seconds_before = "(CAST(%s AS timestamptz) - make_interval(secs => {}))"
        shift = "({} + interval '{} days')"
    else:
        series = "WITH RECURSIVE seq(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM seq WHERE g < %s)"
        ip = "'10.' || ((g >> 16) & 255) || '.' || ((g >> 8) & 255) || '.' || (g & 255)"
        # datetime() writes 'YYYY-MM-DD HH:MM:SS', the text Django stores for whole seconds.
        seconds_before = "datetime(%s, '-' || ({}) || ' seconds')"
        shift = "datetime({}, '{:+d} days')"
    # Periods ended 1 hour to 5 days ago: the block step is due, the cancel step (7 days
    # after the block) is not.
    step = SPREAD_SECONDS // end_times
    end = seconds_before.format(f"3600 + (g %% {end_times}) * {step}")
    licenses = insert_select(
        License,
        {
            "account_id": _pick("g", accounts),
            "product_id": ("%s", [product.pk]),
            "kind": ("'own'", []),
            "ip": (ip, []),
            "status": ("'active'", []),
            "created_at": (shift.format("e", -30), []),
            "period_start": (shift.format("e", -30), []),
            "period_end": ("e", []),
            # The invoice below is recorded on the license (the sweep's renewal step skips it).
            "renewal_invoiced_for": ("e", []),
        },
        (f"(SELECT g, {end} AS e FROM seq) AS due", [adapt(now)]),
        with_=(series, [rows]),
    )

    # One unpaid renewal invoice per license, issued a week before the end; its line renews
    # from the license's period_end, which is what `_renewal_batch` looks for.
    invoices = insert_select(
        Invoice,
        {
            "number": ("id", []),
            "account_id": ("account_id", []),
            "purpose": ("'renewal'", []),
            "status": ("'unpaid'", []),
            "currency": ("%s", [product.currency]),
            "total": ("%s", [product.price]),
            "issued_at": (shift.format("period_end", -7), []),
            "due_at": ("period_end", []),
            "reminders_sent": ("3", []),
        },
        ("licenses_license ORDER BY id", []),
    )
    lines = insert_select(
        InvoiceLine,
        {
            "invoice_id": ("i.id", []),
            "kind": ("'renewal'", []),
            "description": ("%s", [f"{product.name} renewal"]),
            "amount": ("i.total", []),
            "license_id": ("l.id", []),
            "period_start": ("l.period_end", []),
            "period_end": (shift.format("l.period_end", 30), []),
        },
        ("licenses_license l JOIN billing_invoice i ON i.number = l.id ORDER BY l.id", []),
    )

    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Skips the deferred foreign-key triggers (3 million checks at COMMIT, minutes on
            # 2 cores); the keys come from the rows just created and the joins below.
            cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(*licenses)
        cursor.execute("SELECT COUNT(*), MIN(id), MAX(id) FROM licenses_license")
        assert cursor.fetchone() == (rows, 1, rows), "licenses are numbered 1..N"
        cursor.execute(*invoices)
        cursor.execute(*lines)
        cursor.execute("SELECT COUNT(*) FROM billing_invoiceline WHERE kind = 'renewal'")
        assert cursor.fetchone() == (rows,)
    InvoiceSequence.objects.update_or_create(name="invoice", defaults={"next_value": rows + 1})


def _settle(table: str | None = None) -> None:
    """Leave no dirty pages, dead rows or stale statistics for the next timed step."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"VACUUM FULL ANALYZE {table}" if table else "VACUUM ANALYZE")
            cursor.execute("CHECKPOINT")
        else:
            if table:
                cursor.execute("VACUUM")
            cursor.execute("ANALYZE")
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _timed_sql(sql: str, params: list[Any]) -> tuple[float, int]:
    from django.db import connection, transaction

    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        count = cursor.rowcount
    return time.perf_counter() - started, count


def _counts() -> dict[str, int]:
    from licensary.audit.models import AuditEntry, AuditHead
    from licensary.licenses.models import License

    counts = {f"license.{s}": License.objects.filter(status=s).count() for s in License.Status}
    counts["audit license.blocked"] = AuditEntry.objects.filter(action="license.blocked").count()
    counts["audit all"] = AuditEntry.objects.count()
    head = AuditHead.objects.filter(pk=1).first()
    counts["audit head"] = head.count if head else 0
    return counts


def child(args: argparse.Namespace) -> None:
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from licensary.licenses.sweep import sweep

    rows = args.rows
    call_command("migrate", verbosity=0)
    now = timezone.now().replace(second=0, microsecond=0)
    _say(f"loading {rows:,} licenses, invoices and lines")
    started = time.perf_counter()
    _load(rows, now, args.end_times)
    _settle()
    load_s = time.perf_counter() - started

    adapt = connection.ops.adapt_datetimefield_value
    _say(f"loaded in {load_s:.1f} s; raw UPDATE (floor)")
    raw_s, raw_rows = _timed_sql(
        "UPDATE licenses_license SET status = 'blocked', blocked_at = period_end"
        " WHERE status = 'active' AND period_end <= %s",
        [adapt(timezone.now())],
    )
    assert raw_rows == rows, f"the raw UPDATE moved {raw_rows} rows, not {rows}"

    _say(f"raw UPDATE: {raw_rows:,} rows in {raw_s:.2f} s; putting the rows back")
    _timed_sql(
        "UPDATE licenses_license SET status = 'active', blocked_at = NULL,"
        " renewable_until = NULL WHERE status = 'blocked'",
        [],
    )
    _settle("licenses_license")
    before = _counts()
    assert before["license.active"] == rows and before["audit all"] == 0, before

    batch = args.batch or settings.LICENSARY["SWEEP_BATCH"]
    _say(f"sweep(batch={batch})")
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    report = sweep(batch=args.batch)
    sweep_s = time.perf_counter() - started
    if profiler:
        profiler.disable()
        profiler.dump_stats(f"{args.profile}.{connection.vendor}")
    _say(f"sweep: {report.summary()} in {sweep_s:.2f} s")

    after = _counts()
    assert report.counts.get("block") == rows, report.counts
    assert report.total == rows, f"only the block step is due: {report.counts}"
    assert after["license.blocked"] == rows and after["license.active"] == 0, after
    audit = (after["audit license.blocked"], after["audit all"], after["audit head"])
    assert audit == (rows, rows, rows), after

    started = time.perf_counter()
    again = sweep(batch=args.batch)
    second_s = time.perf_counter() - started
    assert again.total == 0, f"a second sweep changed {again.counts}"
    assert _counts() == after

    from licensary.audit.models import AuditDigest
    from licensary.audit.services import audit_verify

    verify_s = 0.0
    if not args.no_verify:
        _say("audit verify")
        started = time.perf_counter()
        chain = audit_verify()
        verify_s = time.perf_counter() - started
        assert (chain.checked, chain.problem) == (rows, ""), chain

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW server_version")
            version = f"PostgreSQL {cursor.fetchone()[0].split()[0]}"
            cursor.execute("SHOW shared_buffers")
            setting = f"shared_buffers={cursor.fetchone()[0]}"
        else:
            import sqlite3

            version = f"SQLite {sqlite3.sqlite_version}"
            cursor.execute("PRAGMA journal_mode")
            journal = cursor.fetchone()[0]
            cursor.execute("PRAGMA synchronous")
            setting = f"journal_mode={journal}, synchronous={cursor.fetchone()[0]}"
    result = Result(
        database=connection.vendor,
        version=version,
        rows=rows,
        batch=batch,
        load_s=load_s,
        raw_update_s=raw_s,
        sweep_s=sweep_s,
        second_sweep_s=second_s,
        setting=setting,
        load_average=(load_before, os.getloadavg()[0]),
        verify_s=verify_s,
        digests=AuditDigest.objects.count(),
    )
    Path(args.result).write_text(json.dumps(asdict(result)))


# --- the parent: throwaway databases, one child each, the table ------------------------------


def _run_child(db: str, args: argparse.Namespace, data_dir: Path) -> Result:
    env = {
        **os.environ,
        "LICENSARY_DATA_DIR": str(data_dir),
        "BENCH_DB": db,
        "DJANGO_SETTINGS_MODULE": "licensary.config.settings",
        "LICENSARY_DEBUG": "false",
        "LICENSARY_LOG_LEVEL": "WARNING",
    }
    if db == "postgres":
        env["DATABASE_URL"] = f"{args.pg_server}/{PG_DATABASE}"
    else:
        env["DATABASE_URL"] = f"sqlite:///{data_dir / 'bench.sqlite3'}"
    result_file = data_dir / "result.json"
    command = [
        sys.executable,
        __file__,
        "--child",
        "--db",
        db,
        "--rows",
        str(args.rows),
        "--end-times",
        str(args.end_times),
        "--result",
        str(result_file),
    ]
    if args.batch:
        command += ["--batch", str(args.batch)]
    if args.profile:
        command += ["--profile", args.profile]
    if args.no_verify:
        command += ["--no-verify"]
    subprocess.run(command, env=env, check=True, cwd=ROOT)
    data = json.loads(result_file.read_text())
    return Result(**{**data, "load_average": tuple(data["load_average"])})


def _recreate_pg_database(server: str, *, drop_only: bool = False) -> None:
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
        if not drop_only:
            conn.execute(f"CREATE DATABASE {PG_DATABASE}")


def _machine() -> str:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import django

    return (
        f"{os.cpu_count()} cores ({cpu or platform.machine()}), "
        f"Python {platform.python_version()}, Django {django.__version__}"
    )


def _table(results: list[Result]) -> str:
    header = (
        "database",
        "rows",
        "raw UPDATE s",
        "sweep s",
        "ratio",
        "sweep rows/s",
        f"within {TARGET_RATIO:g}x",
    )
    lines = [header] + [
        (
            r.version,
            f"{r.rows:,}",
            f"{r.raw_update_s:.2f}",
            f"{r.sweep_s:.2f}",
            f"{r.ratio:.1f}x",
            f"{r.rows_per_s:,.0f}",
            r.target,
        )
        for r in results
    ]
    return markdown_table(lines)


def parent(args: argparse.Namespace) -> None:
    if not 0 < args.rows < MAX_ROWS:
        sys.exit(f"--rows must be between 1 and {MAX_ROWS - 1}")
    dbs = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    results = []
    for db in dbs:
        data_dir = Path(tempfile.mkdtemp(prefix=f"licensary-bench-{db}-", dir="/tmp"))
        print(f"{db}: {args.rows:,} due licenses, data in {data_dir}", flush=True)
        try:
            if db == "postgres":
                _recreate_pg_database(args.pg_server)
            results.append(_run_child(db, args, data_dir))
        finally:
            if not args.keep:
                shutil.rmtree(data_dir, ignore_errors=True)
                if db == "postgres":
                    _recreate_pg_database(args.pg_server, drop_only=True)
    print()
    print(f"machine: {_machine()}")
    for r in results:
        print(
            f"{r.version}: {r.setting}; load {r.load_s:.1f} s; batch {r.batch}; "
            f"second sweep (nothing due) {r.second_sweep_s:.2f} s; "
            f"{r.digests} digest links, audit verify {r.verify_s:.1f} s; "
            f"load average {r.load_average[0]:.1f} before / {r.load_average[1]:.1f} after the "
            "sweep"
        )
    print(
        "sweep = licensary.licenses.sweep.sweep() blocking every license with its audit "
        "entry; renewal invoices were issued beforehand (not timed)"
    )
    print()
    print(_table(results))
    print()
    met = sum(r.target == "met" for r in results)
    print(f"target (sweep within {TARGET_RATIO:g}x of the raw UPDATE): met {met} of {len(results)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument(
        "--end-times",
        type=int,
        default=SPREAD_SECONDS,
        help="distinct period_end values among the due licenses (default: one "
        "per second over 5 days, so nearly every license has its own)",
    )
    parser.add_argument(
        "--batch",
        type=int,
        default=None,
        help="sweep batch size (default: the SWEEP_BATCH setting)",
    )
    parser.add_argument(
        "--pg-server",
        default=PG_SERVER,
        help="PostgreSQL server URL without a database (trust auth)",
    )
    parser.add_argument(
        "--profile", metavar="FILE", help="write the sweep's cProfile stats to FILE.<vendor>"
    )
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    parser.add_argument(
        "--no-verify", action="store_true", help="skip `audit verify` after the sweep"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
    else:
        parent(args)


if __name__ == "__main__":
    main()
