from django.apps import AppConfig


class VerificationConfig(AppConfig):
    name = "licensary.verification"
    label = "verification"
