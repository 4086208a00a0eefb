"""The API tests' extra cast: erin, a second agent, and frank, her customer."""

from typing import Any

import pytest

from licensary.accounts.models import User
from tests.helpers import make_account


@pytest.fixture
def erin(db: Any) -> User:
    """Agent B: an agent who is not dave's."""
    return make_account("erin@agent.test", kind="agent")


@pytest.fixture
def frank(erin: User) -> User:
    """Agent B's customer."""
    return make_account("frank@example.test", agent=erin)
