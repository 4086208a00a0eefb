"""The test suite leaves nothing behind: every file a test makes (receipts, the audit head)
lands in that test's own `tmp_path`, never in the system's temporary folder or `var/`."""

import tempfile
from pathlib import Path
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

from licensary.accounts.models import User
from licensary.billing.receipts import receipt_path, receipt_upload
from licensary.catalog.models import Product
from tests.api.support import unpaid_order
from tests.api.test_bad_input_changes_nothing import PNG, World


def test_a_test_s_private_files_go_to_its_own_tmp_path(
    alice: User,
    bob: User,
    carol: User,
    dave: User,
    staff: User,
    product: Product,
    settings: Any,
    tmp_path: Path,
    monkeypatch: Any,
) -> None:
    system_tmp = tmp_path / "system-tmp"
    system_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system_tmp))

    World(
        alice=alice,
        bob=bob,
        carol=carol,
        dave=dave,
        staff=staff,
        product=product,
        settings=settings,
    )
    order = unpaid_order(alice, product, "93.184.216.60")
    receipt = receipt_upload(
        invoice=order.invoice,
        reference="TX-9",
        file=SimpleUploadedFile("r.png", PNG + b"clean-up"),
        actor=alice,
    )

    assert list(system_tmp.iterdir()) == []
    assert receipt_path(receipt).is_relative_to(tmp_path)
    assert Path(settings.LICENSARY["AUDIT_HEAD_FILE"]).is_relative_to(tmp_path)
    assert Path(settings.DATA_DIR).is_relative_to(tmp_path)
