"""What an API token may do: its scopes, and the scope each route needs.

A token carries scopes; a browser session (the portals) and a token made with
`licensary token create` carry them all. Reading is `read`; every write needs the scope of the
resource it changes. The scope of a route is decided here, in one table keyed by the route's
first path segment, so a new resource without an entry is refused by every scoped token until
someone decides (and `tests/accounts/test_token_scopes.py` fails for it).
"""

from enum import StrEnum


class Scope(StrEnum):
    READ = "read"  # every GET
    ORDERS = "orders"  # orders, renewals, IP changes, an agent's customers
    BILLING = "billing"  # paying, receipts, deposits, refunds, credit, prices
    TRANSFERS = "transfers"  # transfers and claims
    WEBHOOKS = "webhooks"  # an agent's webhook endpoints
    SUPPORT = "support"  # tickets and reports about agents
    ACCOUNT = "account"  # the account itself: tokens, terms, identity; staff's platform work


ALL_SCOPES: tuple[str, ...] = tuple(Scope)
READING = frozenset({"GET", "HEAD", "OPTIONS"})

# The first segment after /api/v1/ of a write, and its scope; a few resources split by their
# action (the segment after the id).
WRITES: dict[str, Scope] = {
    "orders": Scope.ORDERS,
    "licenses": Scope.ORDERS,
    "review-queue": Scope.ORDERS,
    "accounts": Scope.ORDERS,  # an agent creating its customers
    "invoices": Scope.BILLING,
    "receipts": Scope.BILLING,
    "deposits": Scope.BILLING,
    "refunds": Scope.BILLING,
    "transfers": Scope.TRANSFERS,
    "claims": Scope.TRANSFERS,
    "webhooks": Scope.WEBHOOKS,
    "tickets": Scope.SUPPORT,
    "agents": Scope.SUPPORT,  # reports about an agent
    "tokens": Scope.ACCOUNT,
    "terms": Scope.ACCOUNT,
    "identity": Scope.ACCOUNT,
    "account": Scope.ACCOUNT,
    "products": Scope.ACCOUNT,
    "suppliers": Scope.ACCOUNT,
    "agent-tiers": Scope.BILLING,
}
ACTIONS: dict[tuple[str, str], Scope] = {
    ("accounts", "credit"): Scope.BILLING,
    ("accounts", "ban"): Scope.ACCOUNT,
    ("accounts", "identity"): Scope.ACCOUNT,
    ("licenses", "unresolvable"): Scope.SUPPORT,
    ("agents", "prices"): Scope.BILLING,
    ("agents", "tier"): Scope.BILLING,
    ("agents", "warnings"): Scope.ACCOUNT,
    ("agents", "reports"): Scope.SUPPORT,
}


def route_scope(method: str, route: str) -> Scope | None:
    """The scope a call needs: `route` is the API path without `/api/v1/`, as Django's
    resolver or the OpenAPI document spells it ("licenses/<license_id>/renew" or
    "licenses/{license_id}/renew"). None: no scope decides it (a route no token may write)."""
    if method.upper() in READING:
        return Scope.READ
    parts = route.strip("/").split("/")
    if parts and parts[0] in ("api", "v1"):
        parts = parts[2:] if parts[:2] == ["api", "v1"] else parts[1:]
    if not parts:
        return None
    if len(parts) >= 3 and (parts[0], parts[2]) in ACTIONS:
        return ACTIONS[(parts[0], parts[2])]
    return WRITES.get(parts[0])
