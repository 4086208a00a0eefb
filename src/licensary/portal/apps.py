from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "licensary.portal"
    label = "portal"
    verbose_name = "Portals"
