from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "licensary.core"
    label = "core"

    def ready(self) -> None:
        from licensary.core import db

        db.install()
