from django.apps import AppConfig


class SuppliersConfig(AppConfig):
    name = "licensary.suppliers"
    label = "suppliers"
