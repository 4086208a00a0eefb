from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "licensary.notifications"
    label = "notifications"

    def ready(self) -> None:
        # Imported here, not at the top: the mail jobs need the app registry, ready only now.
        from licensary.notifications.subscriptions import subscribe_all

        subscribe_all()
