"""The simulated suppliers of tests/suppliers/simulated.py and the fake Stripe of
tests/payments, for the orders of manufacturer products and the orders paid by card."""

from tests.payments.conftest import fake_stripe
from tests.suppliers.simulated import cpanel, north, simulators, south

__all__ = ["cpanel", "fake_stripe", "north", "simulators", "south"]
