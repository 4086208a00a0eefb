from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "licensary.billing"
    label = "billing"
