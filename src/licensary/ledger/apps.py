from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "licensary.ledger"
    label = "ledger"
