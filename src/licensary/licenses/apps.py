from django.apps import AppConfig


class LicensesConfig(AppConfig):
    name = "licensary.licenses"
    label = "licenses"
