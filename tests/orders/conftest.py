"""The simulated suppliers of tests/manufacturer, for the orders of manufacturer products."""

from tests.manufacturer.conftest import cpanel, north, simulators, south

__all__ = ["cpanel", "north", "simulators", "south"]
