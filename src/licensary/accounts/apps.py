from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "licensary.accounts"
    label = "accounts"
