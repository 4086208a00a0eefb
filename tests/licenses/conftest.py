"""Every lifecycle test runs on a stopped clock, starting at `START`; the manufacturer
licenses' tests buy from the simulated suppliers of tests/suppliers/simulated.py."""

from collections.abc import Iterator
from typing import Any

import pytest
import time_machine

from tests.licenses.support import START
from tests.suppliers.simulated import cpanel, north, simulators, south

__all__ = ["clock", "cpanel", "north", "simulators", "south"]


@pytest.fixture(autouse=True)
def clock() -> Iterator[Any]:
    """Stopped at `START` before the cast is made; tests move it with `clock.move_to(...)`."""
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller
