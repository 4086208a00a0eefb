from collections.abc import Iterator
from datetime import datetime

import pytest
import time_machine
from django.utils import timezone

from tests.jobs import tasks_for_tests


@pytest.fixture(autouse=True)
def _fresh_run_log() -> Iterator[None]:
    tasks_for_tests.RUNS.clear()
    tasks_for_tests.WHILE_A_UNIT_RUNS.clear()
    yield
    tasks_for_tests.RUNS.clear()
    tasks_for_tests.WHILE_A_UNIT_RUNS.clear()


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    """A frozen clock the test moves forward by hand (`clock.shift(seconds)`)."""
    start: datetime = timezone.now().replace(microsecond=0)
    with time_machine.travel(start, tick=False) as traveller:
        yield traveller
