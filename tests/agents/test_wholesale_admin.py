"""Staff manage wholesale prices and tiers in the Django admin too, through the same audited
services as the API (rule 15: the console is not a back door)."""

from typing import Any

import pytest
from django.test import Client

from licensary.accounts.models import User
from licensary.audit.models import AuditEntry
from licensary.catalog.models import AgentTier, AgentTierMember, WholesalePrice
from licensary.catalog.selectors import price_for


@pytest.fixture
def console(db: Any) -> Client:
    root = User.objects.create_superuser(email="root@staff.test", password="x" * 16)
    client = Client()
    client.force_login(root)
    return client


def test_staff_set_change_and_remove_an_agents_price_in_the_admin(console, carol, product):
    added = console.post(
        "/admin/catalog/wholesaleprice/add/",
        {"product": product.pk, "agent": carol.pk, "tier": "", "price": 700, "setup_fee": 0},
    )
    assert added.status_code == 302, added.content[:2000]
    row = WholesalePrice.objects.get()
    assert (row.agent_id, row.price, price_for(product, carol).price) == (carol.pk, 700, 700)

    changed = console.post(
        f"/admin/catalog/wholesaleprice/{row.pk}/change/", {"price": 650, "setup_fee": 10}
    )
    assert changed.status_code == 302
    assert price_for(product, carol).price == 650

    removed = console.post(f"/admin/catalog/wholesaleprice/{row.pk}/delete/", {"post": "yes"})
    assert removed.status_code == 302
    assert not WholesalePrice.objects.exists()
    assert price_for(product, carol).price == product.price
    actions = list(
        AuditEntry.objects.filter(action__startswith="wholesale_price.").values_list(
            "action", flat=True
        )
    )
    assert actions == ["wholesale_price.set", "wholesale_price.set", "wholesale_price.removed"]


def test_staff_make_a_tier_and_put_an_agent_in_it_in_the_admin(console, carol):
    assert console.post("/admin/catalog/agenttier/add/", {"name": "gold"}).status_code == 302
    gold = AgentTier.objects.get()
    assigned = console.post(
        "/admin/catalog/agenttiermember/add/", {"agent": carol.pk, "tier": gold.pk}
    )
    assert assigned.status_code == 302
    assert AgentTierMember.objects.get().agent_id == carol.pk
    assert AuditEntry.objects.filter(action="agent_tier.assigned", account_id=carol.pk).count() == 1
