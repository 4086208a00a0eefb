"""`licensary backup` and `licensary restore` (issue 14 item 3): one archive file holding the
database, the uploaded files and the key material, and a restore that refuses what it cannot
trust.

The archive is a gzipped tar. Its first member, `manifest.json`, says what it holds: the
versions that made it, the migration state, every member's size and sha256, and every table's
row count and content hash, all taken from one consistent snapshot of the database (SQLite's
online backup API; on PostgreSQL, pg_dump reading a snapshot exported by the transaction that
also counts the rows). Its last member, `MANIFEST.sha256`, is the manifest's own hash.

Members:
- `database/licensary.sqlite3` or `database/licensary.pgdump` (pg_dump's custom format);
- `files/<store>/<name>`: receipts, identity documents and ticket attachments (`core.uploads`);
- `keys/secret_key`: when this installation's SECRET_KEY is the generated file in DATA_DIR.
  The verification signing keys (and suppliers' passwords) are rows of the database, sealed
  with SECRET_KEY (`core.crypto`), so the database and that key together are the key material.
  A SECRET_KEY set in the environment is not written into the archive; its fingerprint is, and
  restore refuses a machine whose key would not open the sealed rows.

Restore checks everything before it changes anything: the manifest's hash, every member's hash
and name, the database engine, that the code knows every migration the archive has, the secret
key, and that the target is empty (no rows beyond what `migrate` makes, no uploaded file) unless
`force`. Then it replaces the database, the stores and the key file, rewrites the audit head file
from the restored chain, and checks the result: every table's rows against the manifest and the
audit chain (`audit_verify`).
"""

import gzip
import hashlib
import io
import json
import os
import platform
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any, Protocol

import django
import psycopg
from django.conf import settings
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from psycopg.conninfo import make_conninfo

from licensary.accounts.identity import STORE as IDENTITY_STORE
from licensary.audit.models import AuditHead
from licensary.audit.services import audit_head_file_sync, audit_verify
from licensary.billing.receipts import STORE as RECEIPT_STORE
from licensary.core.errors import DomainError
from licensary.core.uploads import STORED_NAME, private_store
from licensary.support.services import ATTACHMENT_STORE

FORMAT = "licensary-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
MANIFEST_HASH = "MANIFEST.sha256"
SECRET_KEY_MEMBER = "keys/secret_key"
STORES = (RECEIPT_STORE, IDENTITY_STORE, ATTACHMENT_STORE)
DATABASE_MEMBER = {
    "sqlite": "database/licensary.sqlite3",
    "postgresql": "database/licensary.pgdump",
}
# What `migrate` writes into an empty database by itself: a target holding rows only here is
# still empty.
BOOKKEEPING_TABLES = frozenset({"django_migrations", "django_content_type", "auth_permission"})
CHUNK = 1024 * 1024


class BackupError(DomainError):
    """A backup or restore refused; `code` is stable, the message says what to do."""

    status = 409
    code = "backup_failed"
    title = "Backup or restore refused"


class Cursor(Protocol):
    def execute(self, sql: str, params: Any = ..., /) -> Any: ...
    def fetchone(self) -> Any: ...
    def fetchmany(self, size: int = ..., /) -> Any: ...
    def fetchall(self) -> Any: ...


@dataclass(frozen=True)
class TableState:
    rows: int
    sha256: str


# --- what a database holds, read the same way from a snapshot and from a restored database ---


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sqlite_tables(cursor: Cursor) -> list[str]:
    cursor.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "ORDER BY name"
    )
    return [row[0] for row in cursor.fetchall()]


def _postgres_tables(cursor: Cursor) -> list[str]:
    cursor.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename"
    )
    return [row[0] for row in cursor.fetchall()]


def _row_query(cursor: Cursor, vendor: str, table: str) -> str:
    """Every row of `table` as the database's own text of it, in primary key order: the same
    text whatever the client library makes of the values."""
    if vendor == "sqlite":
        cursor.execute(f"PRAGMA table_info({_quote(table)})")
        columns = cursor.fetchall()
        text = " || char(31) || ".join(f"quote({_quote(c[1])})" for c in columns)
        keys = [c[1] for c in sorted(columns, key=lambda c: c[5]) if c[5]]
        order = ", ".join(_quote(k) for k in keys) or text
        return f"SELECT {text} FROM {_quote(table)} ORDER BY {order}"
    cursor.execute(
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
        "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = %s::regclass AND i.indisprimary "
        "ORDER BY array_position(i.indkey, a.attnum)",
        [_quote(table)],
    )
    keys = [row[0] for row in cursor.fetchall()]
    order = ", ".join(f"t.{_quote(k)}" for k in keys) or 't::text COLLATE "C"'
    return f"SELECT t::text FROM {_quote(table)} AS t ORDER BY {order}"


def _postgres_text_settings(cursor: Cursor) -> None:
    # The text of a timestamp, an interval or a float follows the session's settings.
    for statement in (
        "SET TIME ZONE 'UTC'",
        "SET datestyle = 'ISO, YMD'",
        "SET intervalstyle = 'postgres'",
        "SET extra_float_digits = 1",
        "SET bytea_output = 'hex'",
    ):
        cursor.execute(statement)


def table_states(cursor: Cursor, vendor: str) -> dict[str, TableState]:
    """Each table's row count and the sha256 of its rows' text, in primary key order."""
    if vendor == "postgresql":
        _postgres_text_settings(cursor)
    tables = _sqlite_tables(cursor) if vendor == "sqlite" else _postgres_tables(cursor)
    states: dict[str, TableState] = {}
    for table in tables:
        cursor.execute(_row_query(cursor, vendor, table))
        digest = hashlib.sha256()
        rows = 0
        while batch := cursor.fetchmany(5000):
            for (text,) in batch:
                digest.update(text.encode("utf-8", "surrogatepass") + b"\n")
            rows += len(batch)
        states[table] = TableState(rows=rows, sha256=digest.hexdigest())
    return states


def applied_migrations(cursor: Cursor, vendor: str) -> dict[str, list[str]]:
    tables = _sqlite_tables(cursor) if vendor == "sqlite" else _postgres_tables(cursor)
    if "django_migrations" not in tables:
        return {}
    cursor.execute("SELECT app, name FROM django_migrations ORDER BY app, name")
    applied: dict[str, list[str]] = {}
    for app, name in cursor.fetchall():
        applied.setdefault(app, []).append(name)
    return applied


def _audit_head(cursor: Cursor, tables: dict[str, TableState]) -> dict[str, Any] | None:
    if AuditHead._meta.db_table not in tables:
        return None
    cursor.execute(f"SELECT count, last_hash FROM {_quote(AuditHead._meta.db_table)} WHERE id = 1")
    row = cursor.fetchone()
    return None if row is None else {"count": row[0], "last_hash": row[1]}


# --- the secret key ---


def secret_key_fingerprint(key: str) -> str:
    """Names a key without revealing it (the key has at least 256 bits of entropy)."""
    return hashlib.sha256(b"licensary-backup\0" + key.encode()).hexdigest()[:32]


def _secret_key_file() -> Path:
    return Path(settings.DATA_DIR) / "secret_key"


def _secret_key_is_the_file() -> bool:
    path = _secret_key_file()
    return path.is_file() and path.read_text().strip() == settings.SECRET_KEY


# --- database engines ---


def _vendor() -> str:
    if connection.vendor not in DATABASE_MEMBER:
        raise BackupError(
            f"Backups cover SQLite and PostgreSQL, not {connection.vendor}.",
            code="backup_unsupported_database",
        )
    return connection.vendor


def _pg_env() -> dict[str, str]:
    db = connection.settings_dict
    env = dict(os.environ)
    for name, key in (("PGHOST", "HOST"), ("PGPORT", "PORT"), ("PGUSER", "USER")):
        if db.get(key):
            env[name] = str(db[key])
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    if db.get("OPTIONS", {}).get("sslmode"):
        env["PGSSLMODE"] = str(db["OPTIONS"]["sslmode"])
    env["PGDATABASE"] = str(db["NAME"])
    return env


def _run_tool(argv: list[str], *, env: dict[str, str], what: str, **kwargs: Any) -> str:
    try:
        done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False, **kwargs)
    except FileNotFoundError:
        raise BackupError(
            f"{argv[0]} is not installed: install the PostgreSQL client of the server's version.",
            code="backup_tool_missing",
        ) from None
    if done.returncode != 0:
        raise BackupError(
            f"{what} failed: {done.stderr.strip()[-2000:]}", code="backup_tool_failed"
        )
    return done.stdout


@dataclass
class Snapshot:
    vendor: str
    server_version: str
    tables: dict[str, TableState]
    migrations: dict[str, list[str]]
    audit_head: dict[str, Any] | None
    tool_version: str = ""


def _snapshot_sqlite(dump: Path) -> Snapshot:
    connection.ensure_connection()
    raw = connection.connection
    target = sqlite3.connect(dump)
    try:
        raw.backup(target)  # the online backup API: a consistent copy while others write
    finally:
        target.close()
    copy = sqlite3.connect(f"file:{dump}?mode=ro", uri=True)
    try:
        cursor = copy.cursor()
        tables = table_states(cursor, "sqlite")
        return Snapshot(
            vendor="sqlite",
            server_version=sqlite3.sqlite_version,
            tables=tables,
            migrations=applied_migrations(cursor, "sqlite"),
            audit_head=_audit_head(cursor, tables),
        )
    finally:
        copy.close()


def _snapshot_postgres(dump: Path) -> Snapshot:
    env = _pg_env()
    tool = _run_tool(["pg_dump", "--version"], env=env, what="pg_dump --version").strip()
    # One REPEATABLE READ transaction exports its snapshot; pg_dump reads that snapshot and
    # the rows are counted in it, so the manifest describes exactly what was dumped.
    names = {"PGHOST": "host", "PGPORT": "port", "PGUSER": "user", "PGPASSWORD": "password"}
    names |= {"PGDATABASE": "dbname", "PGSSLMODE": "sslmode"}
    conninfo = make_conninfo(**{names[k]: v for k, v in env.items() if k in names})
    with psycopg.connect(conninfo) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.cursor() as cursor:
            cursor.execute("SELECT pg_export_snapshot(), current_setting('server_version')")
            row = cursor.fetchone()
            assert row is not None
            snapshot_id, server_version = row
            _run_tool(
                [
                    "pg_dump",
                    "--format=custom",
                    "--no-owner",
                    "--no-privileges",
                    f"--snapshot={snapshot_id}",
                    f"--file={dump}",
                ],
                env=env,
                what="pg_dump",
            )
            tables = table_states(cursor, "postgresql")
            migrations = applied_migrations(cursor, "postgresql")
            head = _audit_head(cursor, tables)
        conn.rollback()
    return Snapshot(
        vendor="postgresql",
        server_version=f"PostgreSQL {server_version}",
        tables=tables,
        migrations=migrations,
        audit_head=head,
        tool_version=tool,
    )


# --- writing an archive ---


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mtime: float) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    info.mtime = int(mtime)
    tar.addfile(info, io.BytesIO(data))


def _add_file(tar: tarfile.TarFile, name: str, path: Path, mtime: float) -> None:
    info = tarfile.TarInfo(name)
    info.size = path.stat().st_size
    info.mode = 0o600
    info.mtime = int(mtime)
    with path.open("rb") as handle:
        tar.addfile(info, handle)


def _store_files() -> Iterator[tuple[str, Path]]:
    for store in STORES:
        folder = Path(settings.DATA_DIR) / store
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            # Only the names uploads make: a stray temporary file is not the business's.
            if path.is_file() and not path.is_symlink() and STORED_NAME.match(path.name):
                yield f"files/{store}/{path.name}", path


def _versions(snapshot: Snapshot) -> dict[str, str]:
    try:
        ours = package_version("licensary")
    except PackageNotFoundError:  # pragma: no cover - run from a tree without metadata
        ours = "unknown"
    versions = {
        "licensary": ours,
        "django": django.get_version(),
        "python": platform.python_version(),
        "database": snapshot.server_version,
    }
    if snapshot.tool_version:
        versions["pg_dump"] = snapshot.tool_version
    return versions


@dataclass
class BackupReport:
    path: Path
    manifest: dict[str, Any]


def backup_create(*, destination: Path) -> BackupReport:
    """Write one archive of the database, the uploaded files and the key material to
    `destination` (a file, or a folder to put a dated file in); never overwrites a file."""
    vendor = _vendor()
    now = datetime.now(UTC)
    if destination.is_dir():
        destination = destination / f"licensary-backup-{now:%Y%m%dT%H%M%SZ}.tar.gz"
    if destination.exists():
        raise BackupError(f"{destination} exists already; name a new file.", code="backup_exists")
    if not destination.parent.is_dir():
        raise BackupError(f"There is no folder {destination.parent}.", code="backup_no_folder")
    with tempfile.TemporaryDirectory(prefix=".licensary-backup-", dir=destination.parent) as work:
        dump = Path(work) / "database"
        snapshot = _snapshot_sqlite(dump) if vendor == "sqlite" else _snapshot_postgres(dump)
        members: list[tuple[str, Path]] = [(DATABASE_MEMBER[vendor], dump)]
        members += list(_store_files())
        key_included = _secret_key_is_the_file()
        if key_included:
            members.append((SECRET_KEY_MEMBER, _secret_key_file()))
        listing = {
            name: {"size": path.stat().st_size, "sha256": _sha256_file(path)}
            for name, path in members
        }
        manifest: dict[str, Any] = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "created_at": now.isoformat().replace("+00:00", "Z"),
            "versions": _versions(snapshot),
            "database": {"vendor": vendor, "member": DATABASE_MEMBER[vendor]},
            "migrations": snapshot.migrations,
            "tables": {
                name: {"rows": state.rows, "sha256": state.sha256}
                for name, state in snapshot.tables.items()
            },
            "audit_head": snapshot.audit_head,
            "secret_key": {
                "fingerprint": secret_key_fingerprint(settings.SECRET_KEY),
                "included": key_included,
            },
            "stores": list(STORES),
            "members": listing,
        }
        manifest_bytes = json.dumps(manifest, indent=2, sort_keys=True).encode()
        partial = Path(work) / "archive"
        # mtime=0 in the gzip header: the archive's bytes depend only on what it holds.
        with (
            partial.open("wb") as raw,
            gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0) as zipped,
            tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar,
        ):
            stamp = now.timestamp()
            _add_bytes(tar, MANIFEST, manifest_bytes, stamp)
            for name, path in members:
                _add_file(tar, name, path, stamp)
            digest = hashlib.sha256(manifest_bytes).hexdigest()
            _add_bytes(tar, MANIFEST_HASH, f"{digest}  {MANIFEST}\n".encode(), stamp)
        partial.chmod(0o600)  # it holds personal data and sealed keys
        # Written beside the destination and renamed: a crash leaves no half archive.
        os.link(partial, destination)
    return BackupReport(path=destination, manifest=manifest)


# --- reading an archive ---


def _damaged(detail: str) -> BackupError:
    return BackupError(
        f"The archive is damaged: {detail}. Nothing was changed.", code="archive_damaged"
    )


MEMBER_NAME = re.compile(
    r"\A(database/licensary\.(sqlite3|pgdump)|keys/secret_key|files/(\w+)/(.+))\Z"
)


def _check_member_name(name: str, manifest: dict[str, Any]) -> None:
    match = MEMBER_NAME.match(name)
    if match is None or name not in manifest["members"]:
        raise _damaged(f"it holds {name!r}, which its manifest does not list")
    store, file_name = match.group(3), match.group(4)
    if store is not None and (store not in STORES or not STORED_NAME.match(file_name)):
        raise _damaged(f"{name!r} is not a stored upload's name")


@dataclass
class OpenedArchive:
    manifest: dict[str, Any]
    staging: Path  # every member, checked, under its own name


def _read_manifest(tar: tarfile.TarFile) -> tuple[dict[str, Any], bytes]:
    first = tar.next()
    if first is None or first.name != MANIFEST or not first.isfile():
        raise _damaged(f"its first member is not {MANIFEST}")
    handle = tar.extractfile(first)
    assert handle is not None
    data = handle.read()
    try:
        manifest = json.loads(data)
    except ValueError:
        raise _damaged(f"{MANIFEST} is not JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _damaged("it is not a Licensary backup")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BackupError(
            f"This archive is format {manifest.get('format_version')}; this release reads "
            f"format {FORMAT_VERSION}.",
            code="archive_format_unknown",
        )
    return manifest, data


def archive_open(*, path: Path, staging: Path) -> OpenedArchive:
    """Check every byte of the archive at `path` against its manifest, writing its members
    under `staging`; refuses anything that does not hold."""
    if not path.is_file():
        raise BackupError(f"There is no file {path}.", code="archive_missing")
    seen: set[str] = set()
    try:
        with tarfile.open(path, mode="r:*") as tar:
            manifest, manifest_bytes = _read_manifest(tar)
            hash_line = ""
            while (member := tar.next()) is not None:
                if member.name == MANIFEST_HASH:
                    handle = tar.extractfile(member)
                    hash_line = handle.read().decode() if handle else ""
                    continue
                if not member.isfile():
                    raise _damaged(f"{member.name!r} is not a plain file")
                _check_member_name(member.name, manifest)
                if member.name in seen:
                    raise _damaged(f"it holds {member.name!r} twice")
                seen.add(member.name)
                expected = manifest["members"][member.name]
                target = staging / member.name
                target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                digest = hashlib.sha256()
                source = tar.extractfile(member)
                assert source is not None
                with target.open("wb") as out:
                    while chunk := source.read(CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
                target.chmod(0o600)
                if digest.hexdigest() != expected["sha256"] or member.size != expected["size"]:
                    raise _damaged(f"{member.name!r} does not match its sha256 in the manifest")
    except (tarfile.TarError, EOFError, OSError, gzip.BadGzipFile) as exc:
        if isinstance(exc, FileNotFoundError | PermissionError):
            raise BackupError(f"Cannot read {path}: {exc}.", code="archive_unreadable") from None
        raise _damaged(f"it cannot be read ({exc})") from None
    if hash_line.split(" ")[0] != hashlib.sha256(manifest_bytes).hexdigest():
        raise _damaged(f"{MANIFEST} does not match {MANIFEST_HASH} (or that member is missing)")
    missing = sorted(set(manifest["members"]) - seen)
    if missing:
        raise _damaged(f"it lacks {', '.join(missing[:5])}")
    return OpenedArchive(manifest=manifest, staging=staging)


# --- restoring ---


def _known_migrations() -> set[tuple[str, str]]:
    return set(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)


def _check_compatible(manifest: dict[str, Any], vendor: str) -> None:
    archived = manifest["database"]["vendor"]
    if archived != vendor:
        raise BackupError(
            f"This archive holds a {archived} database; this installation runs on {vendor}. "
            "Restore it into the same engine (then move the data with dumpdata/loaddata).",
            code="archive_wrong_database",
        )
    known = _known_migrations()
    unknown = [
        f"{app}.{name}"
        for app, names in manifest["migrations"].items()
        for name in names
        if (app, name) not in known
    ]
    if unknown:
        raise BackupError(
            "This archive comes from a newer release: this code does not know the migrations "
            f"{', '.join(unknown[:5])}. Install that release (or a later one) to restore it.",
            code="archive_newer_than_code",
        )


def _check_secret_key(manifest: dict[str, Any]) -> None:
    archived = manifest["secret_key"]
    if secret_key_fingerprint(settings.SECRET_KEY) == archived["fingerprint"]:
        return
    if archived["included"] and not os.environ.get("LICENSARY_SECRET_KEY"):
        return  # the archived key file replaces this machine's generated one
    where = (
        "unset LICENSARY_SECRET_KEY (the archive brings its key file)"
        if archived["included"]
        else "set LICENSARY_SECRET_KEY to the key of the installation that made it"
    )
    raise BackupError(
        "This machine's secret key is not the one the archive's signing keys are sealed with: "
        f"{where}. Nothing was changed.",
        code="secret_key_mismatch",
    )


def _target_contents() -> list[str]:
    """What the target holds already: tables with rows (beyond what `migrate` writes) and
    uploaded files."""
    found: list[str] = []
    vendor = connection.vendor
    with connection.cursor() as cursor:
        tables = _sqlite_tables(cursor) if vendor == "sqlite" else _postgres_tables(cursor)
        for table in tables:
            if table in BOOKKEEPING_TABLES:
                continue
            cursor.execute(f"SELECT 1 FROM {_quote(table)} LIMIT 1")
            if cursor.fetchone() is not None:
                found.append(f"table {table}")
    found += [f"file {name}" for name, _ in _store_files()]
    return found


def _restore_sqlite(dump: Path) -> None:
    connection.ensure_connection()
    source = sqlite3.connect(f"file:{dump}?mode=ro", uri=True)
    try:
        # The backup API copies the archived database over this one in one step; others
        # connected see the old database or the new, never a mix.
        source.backup(connection.connection)
    finally:
        source.close()
    connection.close()


def _restore_postgres(dump: Path) -> None:
    env = _pg_env()
    script = _run_tool(
        ["pg_restore", "--no-owner", "--no-privileges", "--file=-", str(dump)],
        env=env,
        what="pg_restore",
    )
    connection.close()
    # One transaction: the old schema dropped and the archived one loaded, or nothing.
    # Triggers (the audit log's, the ledger's) are created after the rows, as pg_dump orders it.
    _run_tool(
        ["psql", "--no-psqlrc", "--quiet", "--single-transaction", "-v", "ON_ERROR_STOP=1"],
        env=env,
        what="psql (loading the dump)",
        input="DROP SCHEMA public CASCADE;\nCREATE SCHEMA public;\n" + script,
    )


def _restore_files(staging: Path) -> None:
    for store in STORES:
        incoming = staging / "files" / store
        incoming.mkdir(mode=0o700, parents=True, exist_ok=True)
        current = Path(settings.DATA_DIR) / store
        aside = Path(settings.DATA_DIR) / f".{store}.before-restore"
        shutil.rmtree(aside, ignore_errors=True)
        if current.exists():
            current.rename(aside)
        shutil.move(str(incoming), str(current))
        private_store(store)  # mode 0700, as uploads make it
        shutil.rmtree(aside, ignore_errors=True)


def _restore_secret_key(staging: Path, manifest: dict[str, Any]) -> None:
    if not manifest["secret_key"]["included"]:
        return
    target = _secret_key_file()
    partial = target.with_suffix(".restore")
    shutil.copyfile(staging / SECRET_KEY_MEMBER, partial)
    partial.chmod(0o600)
    partial.replace(target)


@dataclass
class RestoreReport:
    manifest: dict[str, Any]
    tables: int
    rows: int
    files: int
    audit_entries: int
    replaced: list[str]


def restore_check(manifest: dict[str, Any]) -> tuple[int, int]:
    """Compare the restored database with the manifest, table by table, and walk the audit
    chain; (tables, rows) when both hold."""
    vendor = connection.vendor
    with connection.cursor() as cursor:
        restored = table_states(cursor, vendor)
    expected = {
        name: TableState(rows=state["rows"], sha256=state["sha256"])
        for name, state in manifest["tables"].items()
    }
    if restored != expected:
        differing = sorted(
            name
            for name in set(restored) | set(expected)
            if restored.get(name) != expected.get(name)
        )
        raise BackupError(
            f"The restored database differs from the archive in {', '.join(differing[:10])}.",
            code="restore_mismatch",
        )
    report = audit_verify()
    if report.problem:
        raise BackupError(
            f"The restored audit chain does not hold: {report.problem}"
            + (f" at entry {report.first_broken}" if report.first_broken else ""),
            code="restore_audit_broken",
        )
    return len(restored), sum(state.rows for state in restored.values())


def backup_restore(*, path: Path, force: bool = False) -> RestoreReport:
    """Replace this installation's database, uploaded files and key file with the archive's,
    after checking all of it; then check the result."""
    vendor = _vendor()
    data_dir = Path(settings.DATA_DIR)
    data_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".licensary-restore-", dir=data_dir) as work:
        opened = archive_open(path=path, staging=Path(work))
        manifest = opened.manifest
        _check_compatible(manifest, vendor)
        _check_secret_key(manifest)
        contents = _target_contents()
        if contents and not force:
            raise BackupError(
                "The target is not empty ("
                + ", ".join(contents[:5])
                + (", ..." if len(contents) > 5 else "")
                + "). Restore into an empty installation, or pass --force to replace it.",
                code="target_not_empty",
            )
        dump = opened.staging / manifest["database"]["member"]
        if vendor == "sqlite":
            _restore_sqlite(dump)
        else:
            _restore_postgres(dump)
        _restore_files(opened.staging)
        _restore_secret_key(opened.staging, manifest)
        audit_head_file_sync()
        files = sum(1 for name in manifest["members"] if name.startswith("files/"))
        tables, rows = restore_check(manifest)
    head = manifest.get("audit_head") or {}
    return RestoreReport(
        manifest=manifest,
        tables=tables,
        rows=rows,
        files=files,
        audit_entries=int(head.get("count", 0)),
        replaced=contents,
    )
