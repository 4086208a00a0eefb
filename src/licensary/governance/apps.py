from collections.abc import Callable

from django.apps import AppConfig

from licensary.jobs import periodic

ROUND_EVERY_SECONDS = 60.0


def governance_round(should_stop: Callable[[], bool]) -> str | None:
    """Write down what the rules already say: expired transfers, ended owner windows."""
    # Imported here, not at the top: the services need the app registry.
    from licensary.governance.claims import claims_write_down
    from licensary.governance.transfers import transfers_expire

    expired, windows = transfers_expire(), claims_write_down()
    if not (expired or windows):
        return None
    return f"{expired} transfers expired, {windows} claims past the owner's window"


class GovernanceConfig(AppConfig):
    """The distributor's terms enforced across apps: bans (rule 6), transfers and claims
    (rule 10). Its use cases call each owning app's services for their tables."""

    name = "licensary.governance"
    label = "governance"

    def ready(self) -> None:
        periodic.register(
            name="governance", run=governance_round, every_seconds=ROUND_EVERY_SECONDS
        )
