"""Rule 1 under concurrency (PostgreSQL): staff publishing at once, the very first version
included, each get the next version number; none fails with a duplicate version."""

import pytest

from licensary.accounts.models import TermsVersion
from licensary.accounts.services import terms_publish
from licensary.audit.models import AuditEntry
from tests.concurrency import errors, require_postgres, run_concurrently
from tests.helpers import make_account

PUBLISHERS = 8


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_rule1_concurrent_publishes_get_consecutive_versions():
    require_postgres()
    staff = [make_account(f"staff{n}@staff.test", kind="staff") for n in range(2)]

    published = run_concurrently(
        lambda n: terms_publish(text=f"terms {n}", actor=staff[n % 2]).version, PUBLISHERS
    )

    assert not errors(published), errors(published)
    assert sorted(published) == list(range(1, PUBLISHERS + 1))
    assert sorted(TermsVersion.objects.values_list("version", flat=True)) == sorted(published)
    assert AuditEntry.objects.filter(action="terms.published").count() == PUBLISHERS


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_rule1_concurrent_publishes_after_the_first_get_consecutive_versions():
    require_postgres()
    sam = make_account("sam@staff.test", kind="staff")
    terms_publish(text="terms 0", actor=sam)

    published = run_concurrently(
        lambda n: terms_publish(text=f"terms {n + 1}", actor=sam).version, PUBLISHERS
    )

    assert not errors(published), errors(published)
    assert sorted(published) == list(range(2, PUBLISHERS + 2))
