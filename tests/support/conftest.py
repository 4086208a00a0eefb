from typing import Any

import pytest

from licensary.licenses.models import License
from tests.api.support import delivered_order
from tests.helpers import PUBLIC_IP


@pytest.fixture
def alices_license(alice: Any, product: Any, staff: Any) -> License:
    order = delivered_order(alice, product, PUBLIC_IP, staff)
    return License.objects.get(pk=order.license_id)


def open_body(department: str = "technical", subject: str = "It fails", **extra: Any) -> dict:
    return {"department": department, "subject": subject, "body": "It fails on boot.", **extra}
