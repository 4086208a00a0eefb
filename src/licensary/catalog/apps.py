from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "licensary.catalog"
    label = "catalog"
