from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    """The distributor's terms enforced across apps: bans (rule 6), and next transfers and
    claims (rule 10). Its use cases call each owning app's services; it owns no table yet."""

    name = "licensary.governance"
    label = "governance"
