"""The API tests' extra cast: erin, a second agent, and frank, her customer."""

import pytest

from licensary.accounts.models import User
from tests.helpers import make_account, verified_agent


@pytest.fixture
def erin(staff: User) -> User:
    """Agent B: an agent who is not dave's."""
    return verified_agent("erin@agent.test", staff)


@pytest.fixture
def frank(erin: User) -> User:
    """Agent B's customer."""
    return make_account("frank@example.test", agent=erin)
