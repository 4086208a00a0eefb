"""`licensary backup` and `licensary restore` (issue 14 item 3): one archive of the database,
the uploaded files and the key material; a restore into a fresh installation gives back every
table row for row, every file byte for byte, the same signing keys and an intact audit chain;
a damaged archive, a non-empty target, a foreign secret key or a newer release's archive is
refused with nothing changed."""

import hashlib
import io
import json
import os
import sqlite3
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.apps import apps
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from psycopg.conninfo import make_conninfo

from licensary.accounts.models import User
from licensary.audit.models import AuditEntry
from licensary.billing.receipts import receipt_upload
from licensary.catalog.models import Product
from licensary.config.backup import (
    MANIFEST,
    MANIFEST_HASH,
    STORES,
    BackupError,
    backup_create,
    backup_restore,
    table_states,
)
from licensary.orders.models import Order
from licensary.support.services import ticket_message_add, ticket_open
from licensary.verification.keys import keys_ensure, keys_listing
from tests.api.support import delivered_order, unpaid_order
from tests.helpers import OTHER_IP, PUBLIC_IP

pytestmark = pytest.mark.django_db(transaction=True)

PNG = b"\x89PNG\r\n\x1a\n"
PDF = b"%PDF-1.7\n"


@pytest.fixture
def business(
    alice: User, bob: User, carol: User, dave: User, staff: User, product: Product
) -> None:
    """A little of everything: a delivered license, a receipt, an identity document (carol's),
    a ticket attachment, the signing key, and the audit entries of it all."""
    delivered_order(alice, product, PUBLIC_IP, staff)
    unpaid = unpaid_order(bob, product, OTHER_IP)
    receipt_upload(
        invoice=unpaid.invoice,
        reference="TX-BACKUP-1",
        file=SimpleUploadedFile("receipt.pdf", PDF + b"bob's transfer"),
        actor=bob,
    )
    ticket = ticket_open(
        account=alice, department="technical", subject="Logs", body="Attached.", actor=alice
    )
    ticket_message_add(
        ticket=ticket,
        body="One more",
        files=[SimpleUploadedFile("screen.png", PNG + b"alice's screen")],
        actor=alice,
    )
    keys_ensure()


def vendor() -> str:
    return connection.vendor


def states_here() -> dict[str, Any]:
    with connection.cursor() as cursor:
        return table_states(cursor, vendor())


def files_here(data_dir: Path) -> dict[str, bytes]:
    return {
        f"{store}/{path.name}": path.read_bytes()
        for store in STORES
        if (data_dir / store).is_dir()
        for path in sorted((data_dir / store).iterdir())
    }


def pg_conninfo(dbname: str) -> str:
    db = connection.settings_dict
    return make_conninfo(
        host=db["HOST"] or "", port=str(db["PORT"] or ""), user=db["USER"] or "", dbname=dbname
    )


class FreshInstallation:
    """Another installation on this machine: its own empty database and data folder, driven
    by the `licensary` command in a subprocess as an operator would."""

    def __init__(self, tmp_path: Path) -> None:
        self.data_dir = tmp_path / "restored"
        if vendor() == "sqlite":
            self.database = str(tmp_path / "restored.sqlite3")
            self.url = f"sqlite:///{self.database}"
        else:
            # lic_op_restore beside test_lic_op: a name of this suite's own.
            self.database = str(connection.settings_dict["NAME"]).removeprefix("test_")
            self.database += "_restore"
            self._admin(f'DROP DATABASE IF EXISTS "{self.database}"')
            self._admin(f'CREATE DATABASE "{self.database}"')
            db = connection.settings_dict
            self.url = (
                f"postgres://{db['USER']}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}"
                f"/{self.database}"
            )

    def _admin(self, sql: str) -> None:
        with psycopg.connect(pg_conninfo("postgres"), autocommit=True) as admin:
            admin.execute(sql)

    def drop(self) -> None:
        if vendor() == "postgresql":
            self._admin(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')

    def run(self, *argv: str, secret_key: str | None = None) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "DATABASE_URL": self.url,
            "LICENSARY_DATA_DIR": str(self.data_dir),
            "LICENSARY_SECRET_KEY": settings.SECRET_KEY if secret_key is None else secret_key,
        }
        return subprocess.run(
            [sys.executable, "-m", "licensary.cli", *argv],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    def states(self) -> dict[str, Any]:
        if vendor() == "sqlite":
            raw = sqlite3.connect(self.database)
            try:
                return table_states(raw.cursor(), "sqlite")
            finally:
                raw.close()
        with psycopg.connect(pg_conninfo(self.database)) as raw, raw.cursor() as cursor:
            return table_states(cursor, "postgresql")


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[FreshInstallation]:
    installation = FreshInstallation(tmp_path)
    yield installation
    installation.drop()


def rewritten(archive: Path, target: Path, **changes: Any) -> Path:
    """The archive with its manifest changed and its manifest's hash made to match: a
    well-formed archive saying something else."""
    with tarfile.open(archive, "r:gz") as tar:
        members = [(m, tar.extractfile(m).read()) for m in tar.getmembers()]  # type: ignore[union-attr]
    manifest = json.loads(members[0][1])
    for key, value in changes.items():
        section, _, field = key.partition("__")
        manifest[section][field] = value
    data = json.dumps(manifest).encode()
    digest = hashlib.sha256(data).hexdigest()
    with tarfile.open(target, "w:gz") as out:
        for member, content in members:
            if member.name == MANIFEST:
                content = data
            elif member.name == MANIFEST_HASH:
                content = f"{digest}  {MANIFEST}\n".encode()
            member.size = len(content)
            out.addfile(member, io.BytesIO(content))
    return target


def test_a_restore_into_a_fresh_installation_gives_back_every_table_file_key_and_the_chain(
    business: None, tmp_path: Path, fresh: FreshInstallation
) -> None:
    archive = backup_create(destination=tmp_path / "backup.tar.gz").path
    before = states_here()
    files_before = files_here(Path(settings.DATA_DIR))
    listing_before = keys_listing()

    restored = fresh.run("restore", str(archive))
    verified = fresh.run("audit", "verify")
    listing_after = fresh.run(
        "shell",
        "-c",
        "import json; from licensary.verification.keys import keys_listing; "
        "print(json.dumps(keys_listing()))",
    )

    assert restored.returncode == 0, restored.stderr
    assert "match the manifest" in restored.stdout
    after = fresh.states()
    assert after == before  # every table: its row count and the sha256 of its rows
    model_tables = {model._meta.db_table for model in apps.get_models()}
    assert model_tables <= set(after)
    for table in ("accounts_user", "licenses_license", "ledger_posting", "audit_auditentry"):
        assert after[table].rows > 0, table
    assert files_here(fresh.data_dir) == files_before
    assert {name.split("/")[0] for name in files_before} == set(STORES)
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.strip() == f"audit chain intact: {AuditEntry.objects.count()} entries"
    # Ed25519 signs deterministically: the same signatures mean the same private keys.
    assert listing_after.returncode == 0, listing_after.stderr
    restored_listing = json.loads(listing_after.stdout.strip().splitlines()[-1])
    assert restored_listing["signatures"] == listing_before["signatures"]
    assert restored_listing["document"] == listing_before["document"]


def test_the_manifest_names_versions_migrations_and_a_hash_for_every_member(
    business: None, tmp_path: Path
) -> None:
    archive = backup_create(destination=tmp_path).path

    with tarfile.open(archive, "r:gz") as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile(MANIFEST).read())  # type: ignore[union-attr]
        hashes = {
            name: hashlib.sha256(tar.extractfile(name).read()).hexdigest()  # type: ignore[union-attr]
            for name in names[1:-1]
        }

    assert archive.name.startswith("licensary-backup-") and archive.name.endswith(".tar.gz")
    assert oct(archive.stat().st_mode & 0o777) == "0o600"
    assert (names[0], names[-1]) == (MANIFEST, MANIFEST_HASH)
    assert {name: m["sha256"] for name, m in manifest["members"].items()} == hashes
    assert set(manifest["versions"]) >= {"licensary", "django", "python", "database"}
    assert "0001_initial" in manifest["migrations"]["licenses"]
    assert manifest["tables"]["audit_auditentry"]["rows"] == AuditEntry.objects.count()
    assert manifest["audit_head"]["count"] == AuditEntry.objects.count()


@pytest.mark.parametrize("damage", ["flipped_byte", "truncated", "not_an_archive"])
def test_a_damaged_archive_is_refused_and_changes_nothing(
    business: None, tmp_path: Path, damage: str
) -> None:
    archive = backup_create(destination=tmp_path / "backup.tar.gz").path
    data = bytearray(archive.read_bytes())
    if damage == "flipped_byte":
        data[len(data) // 2] ^= 0x01
    elif damage == "truncated":
        data = data[: len(data) * 2 // 3]
    else:
        data = bytearray(b"these are not the bytes you are looking for")
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(bytes(data))
    before = states_here()
    files_before = files_here(Path(settings.DATA_DIR))

    with pytest.raises(BackupError) as refused:
        backup_restore(path=broken, force=True)

    assert refused.value.code == "archive_damaged"
    assert "Nothing was changed" in refused.value.detail
    assert states_here() == before
    assert files_here(Path(settings.DATA_DIR)) == files_before


def test_an_archive_member_the_manifest_does_not_list_is_refused(
    business: None, tmp_path: Path
) -> None:
    archive = backup_create(destination=tmp_path / "backup.tar.gz").path
    planted = tmp_path / "planted.tar.gz"
    with tarfile.open(archive, "r:gz") as tar, tarfile.open(planted, "w:gz") as out:
        for member in tar.getmembers():
            if member.name == MANIFEST_HASH:
                evil = tarfile.TarInfo("files/receipts/../../../../etc/cron.d/evil")
                evil.size = 4
                out.addfile(evil, io.BytesIO(b"boom"))
            out.addfile(member, tar.extractfile(member))

    with pytest.raises(BackupError) as refused:
        backup_restore(path=planted, force=True)

    assert refused.value.code == "archive_damaged"
    assert "does not list" in refused.value.detail


def test_a_non_empty_target_is_refused_unless_forced_and_forcing_replaces_it(
    business: None, alice: User, product: Product, tmp_path: Path
) -> None:
    archive = backup_create(destination=tmp_path / "backup.tar.gz").path
    at_backup = states_here()
    files_at_backup = files_here(Path(settings.DATA_DIR))
    later = unpaid_order(alice, product, "93.184.216.99")
    receipt_upload(
        invoice=later.invoice,
        reference="TX-AFTER",
        file=SimpleUploadedFile("later.pdf", PDF + b"after the backup"),
        actor=alice,
    )
    now = states_here()

    with pytest.raises(BackupError) as refused:
        backup_restore(path=archive)
    unchanged = states_here()
    report = backup_restore(path=archive, force=True)

    assert refused.value.code == "target_not_empty"
    assert "--force" in refused.value.detail
    assert unchanged == now
    assert states_here() == at_backup
    assert files_here(Path(settings.DATA_DIR)) == files_at_backup
    assert not Order.objects.filter(pk=later.pk).exists()
    assert report.replaced
    head = Path(settings.LICENSARY["AUDIT_HEAD_FILE"]).read_text().split()
    assert int(head[0]) == AuditEntry.objects.count()


def test_a_machine_whose_secret_key_would_not_open_the_keys_is_refused(
    business: None, tmp_path: Path, fresh: FreshInstallation
) -> None:
    archive = backup_create(destination=tmp_path / "backup.tar.gz").path

    refused = fresh.run("restore", str(archive), secret_key="another-key-" + "x" * 50)

    assert refused.returncode != 0
    assert "secret_key_mismatch" in refused.stderr
    assert fresh.states() == {}  # not even a table was made
    assert files_here(fresh.data_dir) == {}


def test_a_generated_secret_key_travels_in_the_archive(
    business: None, tmp_path: Path, fresh: FreshInstallation
) -> None:
    key_file = Path(settings.DATA_DIR) / "secret_key"
    key_file.write_text(settings.SECRET_KEY)
    archive = backup_create(destination=tmp_path / "backup.tar.gz").path
    env_without_key = {k: v for k, v in os.environ.items() if k != "LICENSARY_SECRET_KEY"}

    restored = subprocess.run(
        [sys.executable, "-m", "licensary.cli", "restore", str(archive)],
        env={
            **env_without_key,
            "DATABASE_URL": fresh.url,
            "LICENSARY_DATA_DIR": str(fresh.data_dir),
        },
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert restored.returncode == 0, restored.stderr
    assert (fresh.data_dir / "secret_key").read_text() == settings.SECRET_KEY
    assert oct((fresh.data_dir / "secret_key").stat().st_mode & 0o777) == "0o600"


def test_an_archive_of_a_newer_release_or_another_database_is_refused(
    business: None, tmp_path: Path
) -> None:
    archive = backup_create(destination=tmp_path / "backup.tar.gz").path
    with tarfile.open(archive, "r:gz") as tar:
        migrations = json.loads(tar.extractfile(MANIFEST).read())["migrations"]  # type: ignore[union-attr]
    future = rewritten(
        archive,
        tmp_path / "future.tar.gz",
        migrations__licenses=[*migrations["licenses"], "9999_from_the_future"],
    )
    other = "postgresql" if vendor() == "sqlite" else "sqlite"
    foreign = rewritten(archive, tmp_path / "foreign.tar.gz", database__vendor=other)
    before = states_here()

    with pytest.raises(BackupError) as newer:
        backup_restore(path=future, force=True)
    with pytest.raises(BackupError) as wrong_engine:
        backup_restore(path=foreign, force=True)

    assert newer.value.code == "archive_newer_than_code"
    assert "licenses.9999_from_the_future" in newer.value.detail
    assert wrong_engine.value.code == "archive_wrong_database"
    assert states_here() == before


def test_backup_never_overwrites_a_file(business: None, tmp_path: Path) -> None:
    existing = tmp_path / "taken.tar.gz"
    existing.write_bytes(b"an older backup")

    with pytest.raises(BackupError) as refused:
        backup_create(destination=existing)

    assert refused.value.code == "backup_exists"
    assert existing.read_bytes() == b"an older backup"


def test_sqlite_backup_takes_the_committed_state_while_a_writer_holds_a_transaction(
    business: None, tmp_path: Path
) -> None:
    if vendor() != "sqlite":
        pytest.skip("SQLite's online backup API; PostgreSQL's snapshot is pg_dump's own")
    before = states_here()
    writer = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None, timeout=30)
    writer.execute("BEGIN")
    writer.execute("INSERT INTO django_session VALUES ('uncommitted', 'x', '2030-01-01')")
    try:
        manifest = backup_create(destination=tmp_path / "backup.tar.gz").manifest
    finally:
        writer.execute("ROLLBACK")
        writer.close()

    assert manifest["tables"]["django_session"] == {
        "rows": before["django_session"].rows,
        "sha256": before["django_session"].sha256,
    }


def test_a_forced_postgres_restore_brings_back_the_append_only_and_balance_triggers(
    business: None, tmp_path: Path
) -> None:
    if vendor() != "postgresql":
        pytest.skip("the triggers exist on PostgreSQL only (SQLite checks in the transaction)")
    archive = backup_create(destination=tmp_path / "backup.tar.gz").path

    backup_restore(path=archive, force=True)

    with connection.cursor() as cursor:
        cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal ORDER BY tgname")
        triggers = [row[0] for row in cursor.fetchall()]
    assert triggers == [
        "audit_append_only",
        "audit_digest_append_only",
        "ledger_posting_balanced",
        "posting_append_only",
    ]
    with pytest.raises(Exception, match="append-only"), connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditentry SET reason = 'rewritten'")


def test_the_commands_print_what_they_did(business: None, tmp_path: Path) -> None:
    out = io.StringIO()
    call_command("backup", str(tmp_path), stdout=out)
    [archive] = tmp_path.glob("licensary-backup-*.tar.gz")

    assert f"{archive}: {vendor()} database" in out.getvalue()
    with pytest.raises(CommandError, match="target_not_empty"):
        call_command("restore", str(archive))
