from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "licensary.jobs"
    label = "jobs"
