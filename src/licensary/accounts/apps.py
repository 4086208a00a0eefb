from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "licensary.accounts"
    label = "accounts"

    def ready(self) -> None:
        from licensary.accounts import signals  # noqa: F401
