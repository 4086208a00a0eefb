from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "licensary.notifications"
    label = "notifications"
