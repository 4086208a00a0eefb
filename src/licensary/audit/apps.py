from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "licensary.audit"
    label = "audit"
