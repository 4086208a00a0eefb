from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "licensary.accounts"
    label = "accounts"

    def ready(self) -> None:
        # Imported for its receivers, and only now: they reach the models (audit entries),
        # which the app registry holds only once it is ready.
        from licensary.accounts import signals  # noqa: F401
