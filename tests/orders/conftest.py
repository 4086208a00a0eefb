"""The simulated suppliers of tests/manufacturer and the fake Stripe of tests/payments, for
the orders of manufacturer products and the orders paid by card."""

from tests.manufacturer.conftest import cpanel, north, simulators, south
from tests.payments.conftest import fake_stripe

__all__ = ["cpanel", "fake_stripe", "north", "simulators", "south"]
