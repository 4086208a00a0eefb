"""The cast every test uses (alice, bob: customers; carol: an agent with customer dave;
sam: staff); state is built through the services."""

from typing import Any

import pytest
from django.core.cache import cache

from licensary.accounts.models import User
from licensary.catalog.models import Product
from licensary.catalog.services import product_create
from licensary.verification.services import verification_caches_clear
from tests.helpers import make_account, verified_agent


@pytest.fixture(autouse=True)
def _isolated_settings(settings: Any, tmp_path: Any) -> None:
    # Every file a test makes (receipts, the audit head) goes to its own tmp_path, which pytest
    # removes after a few runs: nothing is left in the temporary folder or in var/.
    settings.DATA_DIR = tmp_path / "data"
    settings.LICENSARY = {
        **settings.LICENSARY,
        "AUDIT_HEAD_FILE": str(tmp_path / "audit_head"),
        "ALLOW_PRIVATE_IPS": False,
    }
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    verification_caches_clear()
    cache.clear()


@pytest.fixture
def staff(db: Any) -> User:
    return make_account("sam@staff.test", kind="staff")


@pytest.fixture
def alice(db: Any) -> User:
    return make_account("alice@example.test")


@pytest.fixture
def bob(db: Any) -> User:
    return make_account("bob@example.test")


@pytest.fixture
def charlie_like(db: Any) -> User:
    """A third customer."""
    return make_account("charlie@example.test")


@pytest.fixture
def carol(staff: User) -> User:
    """An agent, verified by staff."""
    return verified_agent("carol@agent.test", staff)


@pytest.fixture
def dave(carol: User) -> User:
    """Carol's customer."""
    return make_account("dave@example.test", agent=carol)


@pytest.fixture
def product(staff: User) -> Product:
    return product_create(
        actor=staff,
        slug="panel",
        name="Panel Pro",
        kind="own",
        price=1000,
        setup_fee=500,
        currency="USD",
    )
