"""Load the verify benchmark's data: one own product, a few accounts, N active licenses.

    uv run python bench/verify/load.py --licenses 100000

Run by bench/verify.sh after `licensary migrate`, with DATABASE_URL, LICENSARY_DATA_DIR and
LICENSARY_ALLOW_PRIVATE_IPS=1 set. The licenses go in by one INSERT ... SELECT (a
`generate_series` on PostgreSQL, a recursive CTE on SQLite), each on its own address
11.x.y.z, period running from 10 days ago to 20+ days ahead. The license in the middle of
the id range is then moved to 127.0.0.1, where wrk calls from: the verify endpoint answers
for the caller's own address, so the benchmark looks up one existing license among N.
The active signing key is created here so no worker races to create it.

Prints one line `product=<slug> license_id=<id> licenses=<N>` for the shell script.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/
from bulk import insert_select

ACCOUNTS = 20
PRODUCT_SLUG = "bench-verify"
LOCAL_IP = "127.0.0.1"
MAX_LICENSES = 2**24 - 1  # the addresses are 11.x.y.z from the row number

Sql = tuple[str, list[Any]]


def _say(message: str) -> None:
    print(f"  [load] {message}", file=sys.stderr, flush=True)


def load(count: int) -> tuple[str, int]:
    from django.conf import settings
    from django.db import connection, transaction
    from django.utils import timezone

    from licensary.accounts.models import User
    from licensary.catalog.models import Product
    from licensary.core.ip import normalize_license_ip
    from licensary.licenses.models import License
    from licensary.verification.keys import keys_ensure

    if not settings.LICENSARY["ALLOW_PRIVATE_IPS"]:
        sys.exit("set LICENSARY_ALLOW_PRIVATE_IPS=1: one license must be on 127.0.0.1")
    local_ip = normalize_license_ip(LOCAL_IP)
    now = timezone.now().replace(microsecond=0)
    adapt = connection.ops.adapt_datetimefield_value

    accounts = [User.objects.create_user(f"verify{i}@example.com").pk for i in range(ACCOUNTS)]
    product = Product.objects.create(
        slug=PRODUCT_SLUG, name="Bench Verify", kind="own", price=1000, currency="USD"
    )
    if connection.vendor == "postgresql":
        series = "WITH seq(g) AS (SELECT generate_series(1, %s))"
        ip = "('11.' || ((g >> 16) & 255) || '.' || ((g >> 8) & 255) || '.' || (g & 255))::inet"
        start = "CAST(%s AS timestamptz)"
        end = "(CAST(%s AS timestamptz) + make_interval(mins => (g %% 1000)::int))"
    else:
        series = "WITH RECURSIVE seq(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM seq WHERE g < %s)"
        ip = "'11.' || ((g >> 16) & 255) || '.' || ((g >> 8) & 255) || '.' || (g & 255)"
        # datetime() writes 'YYYY-MM-DD HH:MM:SS', the text Django stores for whole seconds.
        start = "datetime(%s)"
        end = "datetime(%s, '+' || (g %% 1000) || ' minutes')"
    account_case = f"CASE (g %% {len(accounts)})" + " WHEN %s THEN %s" * len(accounts) + " END"
    account_params = [p for pair in enumerate(accounts) for p in pair]
    insert = insert_select(
        License,
        {
            "account_id": (account_case, account_params),
            "product_id": ("%s", [product.pk]),
            "kind": ("'own'", []),
            "ip": (ip, []),
            "status": ("'active'", []),
            "created_at": (start, [adapt(now - timedelta(days=10))]),
            "period_start": (start, [adapt(now - timedelta(days=10))]),
            "period_end": (end, [adapt(now + timedelta(days=20))]),
        },
        ("seq", []),
        with_=(series, [count]),
    )

    middle = count // 2 + 1
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(*insert)
        cursor.execute("SELECT COUNT(*), MIN(id), MAX(id) FROM licenses_license")
        total, low, high = cursor.fetchone()
        assert (total, high - low + 1) == (count, count), "licenses are numbered contiguously"
        license_id = low + middle - 1
        cursor.execute("UPDATE licenses_license SET ip = %s WHERE id = %s", [local_ip, license_id])
    keys_ensure()

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("VACUUM ANALYZE")
            cursor.execute("CHECKPOINT")
        else:
            cursor.execute("ANALYZE")
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    # What the endpoint will see: exactly one live license on 127.0.0.1, active, in the future.
    local = list(License.objects.filter(product=product, ip=local_ip))
    assert len(local) == 1 and local[0].pk == license_id, local
    assert local[0].status == "active" and local[0].period_end > timezone.now(), local[0]
    assert License.objects.filter(product=product).values("ip").distinct().count() == count
    return product.slug, license_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--licenses", type=int, default=100_000)
    args = parser.parse_args()
    if not 1 <= args.licenses <= MAX_LICENSES:
        sys.exit(f"--licenses must be between 1 and {MAX_LICENSES}")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "licensary.config.settings")
    import django

    django.setup()
    started = time.perf_counter()
    slug, license_id = load(args.licenses)
    _say(f"{args.licenses:,} licenses loaded in {time.perf_counter() - started:.1f} s")
    print(f"product={slug} license_id={license_id} licenses={args.licenses}")


if __name__ == "__main__":
    main()
