from django.apps import AppConfig

from licensary.core import db


class CoreConfig(AppConfig):
    name = "licensary.core"
    label = "core"

    def ready(self) -> None:
        db.install()
